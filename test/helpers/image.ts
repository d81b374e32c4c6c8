// The container image, built from the Dockerfile by scripts/container-image.sh and run the way a
// container runtime runs it. `podman run` does not work on the test machine (cgroup v1 hybrid), so
// the image's root filesystem (podman image mount) is run as the image says: its Entrypoint and
// Cmd, its Env under the -e variables, its WorkingDir, as its User, in a mount namespace of its
// own with /proc, /dev, a fresh /tmp and the -v bind mounts, on the host's network (--net=host, as
// the old image was run). The process is node itself: its PID is the container's PID 1 would be.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./shared.js";

const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: join(REPO_ROOT, "scripts/containers.conf") };
const podman = (...args: string[]) =>
  execFileSync("podman", args, { env: PODMAN_ENV, encoding: "utf8" }).trim();

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Healthcheck?: { Test: string[] };
}

export interface RunOptions {
  /** -e NAME=VALUE */
  env?: Record<string, string>;
  /** -v HOST:CONTAINER, read-only; CONTAINER must exist in the image (its root is read-only) */
  volumes?: Record<string, string>;
  /** the command after the image name: replaces Cmd */
  args?: string[];
  /** --entrypoint */
  entrypoint?: string[];
}

export class Image {
  readonly config: ImageConfig;
  /** the root filesystem, mounted read-only */
  readonly root: string;
  readonly uid: number;
  readonly gid: number;

  private constructor(readonly tag: string) {
    // podman keeps the HEALTHCHECK (docker format) beside the OCI config
    const [inspected] = JSON.parse(podman("image", "inspect", tag)) as {
      Config: ImageConfig;
      Healthcheck?: ImageConfig["Healthcheck"];
    }[];
    if (!inspected) throw new Error(`${tag}: no such image`);
    this.config = {
      ...inspected.Config,
      ...(inspected.Healthcheck ? { Healthcheck: inspected.Healthcheck } : {}),
    };
    this.root = podman("image", "mount", tag);
    [this.uid, this.gid] = this.user(this.config.User ?? "root");
  }

  /**
   * Builds an image with a build script of the repository (the Dockerfile's by default; the base
   * made once and kept, the build's layers cached by podman) and mounts it.
   */
  static build(tag = "localhost/routereflector:test", script = "scripts/container-image.sh"): Image {
    try {
      execFileSync(join(REPO_ROOT, script), [tag], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${script} failed: ${err.message}\n${err.stderr?.slice(-4000) ?? ""}`);
    }
    return new Image(tag);
  }

  unmount(): void {
    podman("image", "unmount", this.tag);
  }

  /** The argv that runs the image's process (spawn it; its PID is node's). */
  command(o: RunOptions = {}): string[] {
    const env = new Map<string, string>();
    for (const kv of this.config.Env ?? []) {
      const i = kv.indexOf("=");
      env.set(kv.slice(0, i), kv.slice(i + 1));
    }
    for (const [k, v] of Object.entries(o.env ?? {})) env.set(k, v);
    const argv = [...(o.entrypoint ?? this.config.Entrypoint ?? []), ...(o.args ?? this.config.Cmd ?? [])];
    if (!argv.length) throw new Error(`${this.tag}: neither Entrypoint nor Cmd`);
    const r = this.root;
    const mounts = [
      `mount -t proc proc ${r}/proc`,
      `mount --rbind /dev ${r}/dev`,
      `mount -t tmpfs -o mode=1777 tmpfs ${r}/tmp`,
      ...Object.entries(o.volumes ?? {}).map(
        ([host, inside]) => `mount --bind ${host} ${r}${inside}; mount -o remount,bind,ro ${r}${inside}`,
      ),
    ];
    return [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-ec",
      `${mounts.join("; ")}; exec "$@"`,
      "sh",
      "chroot",
      `--userspec=${this.uid}:${this.gid}`,
      `--groups=${this.gid}`,
      r,
      "/usr/bin/env",
      "-i",
      "-C",
      this.config.WorkingDir || "/",
      ...[...env].map(([k, v]) => `${k}=${v}`),
      ...argv,
    ];
  }

  /** The HEALTHCHECK's command as the runtime execs it in the running container. */
  healthcheck(env: Record<string, string>): string[] {
    const test = this.config.Healthcheck?.Test ?? [];
    if (test[0] !== "CMD")
      throw new Error(`${this.tag}: HEALTHCHECK ${JSON.stringify(test)} is not CMD [...]`);
    return this.command({ env, entrypoint: test.slice(1), args: [] });
  }

  /** uid and gid of a User ("name", "uid", "name:group") from the image's own /etc/passwd and /etc/group. */
  private user(spec: string): [number, number] {
    const [u = "root", g] = spec.split(":");
    const passwd = readFileSync(join(this.root, "etc/passwd"), "utf8")
      .split("\n")
      .map((l) => l.split(":"));
    const entry = passwd.find((f) => f[0] === u || f[2] === u);
    if (!entry) throw new Error(`${this.tag}: user ${u} is not in its /etc/passwd`);
    let gid = Number(entry[3]);
    if (g !== undefined) {
      const groups = readFileSync(join(this.root, "etc/group"), "utf8")
        .split("\n")
        .map((l) => l.split(":"));
      const ge = groups.find((f) => f[0] === g || f[2] === g);
      if (!ge) throw new Error(`${this.tag}: group ${g} is not in its /etc/group`);
      gid = Number(ge[2]);
    }
    return [Number(entry[2]), gid];
  }
}
