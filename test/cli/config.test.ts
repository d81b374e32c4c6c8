import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fatal } from "../../src/cli/run.js";
import { ConfigError, EMBEDDED_DEFAULT, loadConfig } from "../../src/daemon/index.js";
import { workdir } from "../helpers/workdir.js";

function errorOf(env: NodeJS.ProcessEnv, argv: string[] = []): string {
  try {
    loadConfig(env, argv);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("no error");
}

describe("configuration contract", () => {
  it("nothing given: the embedded default on 127.0.0.1", () => {
    expect(loadConfig({}, [])).toMatchObject({
      datastoreType: "file",
      datastoreFile: EMBEDDED_DEFAULT,
      embeddedDefault: true,
      ip: "127.0.0.1",
      logLevel: "info",
      httpListen: { host: "127.0.0.1", port: 9179 },
    });
  });

  it("the old image's variables: etcdv3 when ETCD_ENDPOINTS is set", () => {
    const c = loadConfig(
      {
        IP: "100.64.0.1",
        IP6: "2001:DB8::1",
        ETCD_ENDPOINTS: "http://127.0.0.1:2379,http://127.0.0.2:2379",
        CLUSTER_ID: "224.0.0.1",
      },
      [],
    );
    expect(c).toMatchObject({
      datastoreType: "etcdv3",
      ip: "100.64.0.1",
      ip6: "2001:db8::1",
      clusterId: "224.0.0.1",
      etcdEndpoints: ["http://127.0.0.1:2379", "http://127.0.0.2:2379"],
      embeddedDefault: false,
    });
  });

  it("ASSIGN_REFLECTORS: off unless set; its settings have defaults either way", () => {
    const off = loadConfig({ IP: "127.0.0.9" }, []).assignment;
    expect(off).toEqual({
      slack: 2,
      zoneLabel: "topology.kubernetes.io/zone",
      graceSeconds: 60,
      leaseSeconds: 15,
      writesPerSecond: 50,
    });
    const on = loadConfig(
      { ETCD_ENDPOINTS: "http://127.0.0.1:2379", NODENAME: "rr-0", ASSIGN_REFLECTORS: "3" },
      ["--assign-zone-label", "example.com/rack"],
    ).assignment;
    expect(on).toMatchObject({ perNode: 3, zoneLabel: "example.com/rack" });
    expect(loadConfig({ IP: "127.0.0.9", ASSIGN_REFLECTORS: "off" }, []).assignment.perNode).toBeUndefined();
  });

  it("MAX_PREFIXES: a count, 0 or unset for no limit", () => {
    expect(loadConfig({ MAX_PREFIXES: "20000" }, []).maxPrefixes).toBe(20000);
    expect(loadConfig({ MAX_PREFIXES: "0" }, []).maxPrefixes).toBeUndefined();
    // the memory guard: a documented default
    expect(loadConfig({}, []).maxPrefixes).toBe(2_000_000);
  });

  it("ADD_PATHS: all (calico/node's add paths on) by default, a count, or off", () => {
    expect(loadConfig({}, []).addPaths).toBe("all");
    expect(loadConfig({ ADD_PATHS: "2" }, []).addPaths).toBe(2);
    expect(loadConfig({}, ["--add-paths", "off"]).addPaths).toBe("off");
  });

  it("CALICO_ROUTER_ID: a dotted quad, or hash for one made from NODENAME as calico/node does", () => {
    expect(loadConfig({ IP6: "2001:db8::1", CALICO_ROUTER_ID: "100.64.0.7" }, []).routerId).toBe(
      "100.64.0.7",
    );
    // the values Python's hashlib gives for SHA-256 of the names (the second one's first octet, 252, is brought under 224)
    expect(loadConfig({ NODENAME: "kube-master", CALICO_ROUTER_ID: "hash" }, []).routerId).toBe(
      "25.79.212.8",
    );
    expect(loadConfig({ NODENAME: "rr-22", CALICO_ROUTER_ID: "hash" }, []).routerId).toBe("220.107.145.5");
    expect(loadConfig({ IP: "100.64.0.1" }, []).routerId).toBeUndefined();
  });

  it("NAMESPACE: given, else the pod's own namespace (an operator install's calico-system), else kube-system", () => {
    const dir = workdir("sa");
    writeFileSync(join(dir, "namespace"), "calico-system\n");
    const inPod = { IP: "100.64.0.1", KUBERNETES_SERVICE_HOST: "100.64.0.10" };
    expect(loadConfig(inPod, [], dir).namespace).toBe("calico-system");
    expect(loadConfig({ ...inPod, NAMESPACE: "bgp" }, [], dir).namespace).toBe("bgp");
    expect(loadConfig({ IP: "100.64.0.1" }, [], dir).namespace).toBe("kube-system");
    expect(loadConfig(inPod, [], join(dir, "missing")).namespace).toBe("kube-system");
    rmSync(dir, { recursive: true });
  });

  it("flags win over the environment, in both forms", () => {
    const c = loadConfig({ IP: "100.64.0.1", LOG_LEVEL: "warn" }, [
      "--ip",
      "100.64.0.2",
      "--log-level=debug",
      "--http-listen",
      "off",
    ]);
    expect(c).toMatchObject({ ip: "100.64.0.2", logLevel: "debug" });
    expect(c.httpListen).toBeUndefined();
  });

  it("LOG_LEVEL in any case, as calico/node takes it (Info, DEBUG)", () => {
    expect(loadConfig({ IP: "100.64.0.1", LOG_LEVEL: "Info" }, []).logLevel).toBe("info");
    expect(loadConfig({ IP: "100.64.0.1", LOG_LEVEL: "DEBUG" }, []).logLevel).toBe("debug");
  });

  it("certificates are read once; cert and key go together", () => {
    const dir = workdir("cfg");
    writeFileSync(join(dir, "ca.pem"), "CA");
    const c = loadConfig(
      { IP: "100.64.0.1", ETCD_ENDPOINTS: "https://127.0.0.1:2379", ETCD_CA_CERT_FILE: join(dir, "ca.pem") },
      [],
    );
    expect(c.etcdTls.ca?.toString()).toBe("CA");
    expect(
      errorOf({
        IP: "100.64.0.1",
        ETCD_ENDPOINTS: "https://127.0.0.1:2379",
        ETCD_CERT_FILE: join(dir, "ca.pem"),
      }),
    ).toBe("ETCD_KEY_FILE: ETCD_CERT_FILE and ETCD_KEY_FILE go together");
  });

  it.each([
    [{ DATASTORE_TYPE: "consul" }, [], 'DATASTORE_TYPE: "consul" is not file, etcdv3 or kubernetes'],
    [{ IP: "100.64.0" }, [], 'IP: not an IPv4 address: "100.64.0"'],
    [{ IP: "2001:db8::1" }, [], 'IP: not an IPv4 address: "2001:db8::1"'],
    [{ IP6: "100.64.0.1", IP: "100.64.0.1" }, [], 'IP6: not an IPv6 address: "100.64.0.1"'],
    [{ IP: "100.64.0.1", CLUSTER_ID: "one" }, [], 'CLUSTER_ID: not an IPv4 address: "one"'],
    [
      { ETCD_ENDPOINTS: "127.0.0.1:2379", IP: "100.64.0.1" },
      [],
      'ETCD_ENDPOINTS: not a URL: "127.0.0.1:2379"',
    ],
    [
      { ETCD_ENDPOINTS: "ftp://127.0.0.1:2379", IP: "100.64.0.1" },
      [],
      'ETCD_ENDPOINTS: "ftp://127.0.0.1:2379": scheme must be http or https',
    ],
    [
      { ETCD_ENDPOINTS: "http://127.0.0.1:2379", ETCD_CA_CERT_FILE: "/nonexistent/ca.pem", IP: "100.64.0.1" },
      [],
      "ETCD_CA_CERT_FILE: cannot read /nonexistent/ca.pem: ENOENT",
    ],
    [
      { DATASTORE_TYPE: "kubernetes", KUBECONFIG: "/nonexistent/kubeconfig", IP: "100.64.0.1" },
      [],
      "KUBECONFIG: cannot read /nonexistent/kubeconfig: ENOENT",
    ],
    [
      { DATASTORE_TYPE: "etcdv3" },
      [],
      "IP: required (or NODENAME, to take the address from that Calico Node)",
    ],
    [
      { DATASTORE_FILE: "/etc/calico.yaml" },
      [],
      "IP: required (or NODENAME, to take the address from that Calico Node)",
    ],
    [
      { LOG_LEVEL: "loud" },
      [],
      'LOG_LEVEL: "loud" is not one of trace, debug, info, warn, error, fatal, silent',
    ],
    [{ HTTP_LISTEN: "9179" }, [], 'HTTP_LISTEN: not host:port or off: "9179"'],
    [{ MAX_PREFIXES: "ten" }, [], 'MAX_PREFIXES: not a count (0 for no limit): "ten"'],
    [{}, ["--max-prefixes=-5"], 'MAX_PREFIXES: not a count (0 for no limit): "-5"'],
    [{ ADD_PATHS: "0" }, [], 'ADD_PATHS: not all, off or a count of paths: "0"'],
    [{}, ["--add-paths=some"], 'ADD_PATHS: not all, off or a count of paths: "some"'],
    [
      { IP6: "2001:db8::1", CALICO_ROUTER_ID: "hash" },
      [],
      "CALICO_ROUTER_ID: hash makes the router ID from NODENAME, which is not set",
    ],
    [
      { IP6: "2001:db8::1", CALICO_ROUTER_ID: "2001:db8::1" },
      [],
      'CALICO_ROUTER_ID: not an IPv4 address: "2001:db8::1"',
    ],
    [
      { ETCD_ENDPOINTS: "http://127.0.0.1:2379", IP: "127.0.0.9", ASSIGN_REFLECTORS: "2" },
      [],
      "ASSIGN_REFLECTORS: needs NODENAME: the Calico Node this reflector is",
    ],
    [
      { NODENAME: "rr-0", ASSIGN_REFLECTORS: "2" },
      [],
      "ASSIGN_REFLECTORS: needs DATASTORE_TYPE etcdv3 or kubernetes (the leases live there)",
    ],
    [{ IP: "127.0.0.9", ASSIGN_REFLECTORS: "0" }, [], 'ASSIGN_REFLECTORS: not a whole number from 1: "0"'],
    [
      { IP: "127.0.0.9" },
      ["--assign-grace-period=1m"],
      'ASSIGN_GRACE_PERIOD: not a whole number from 0: "1m"',
    ],
    [{ IP: "127.0.0.9", ASSIGN_LEASE_TTL: "1" }, [], 'ASSIGN_LEASE_TTL: not a whole number from 2: "1"'],
    [{}, ["--bogus"], "--bogus: unknown option (see --help)"],
    [{}, ["--ip"], "--ip: needs a value"],
  ])("%j %j: %s", (env, argv, message) => expect(errorOf(env, argv)).toBe(message));
});

describe("start-up failures", () => {
  it("a setting at fault prints its message; anything else, a bug, its stack too", () => {
    expect(fatal(new ConfigError("IP", "not an IPv4 address"))).toBe(
      "routereflector: IP: not an IPv4 address",
    );
    const bug = fatal(new TypeError("x is undefined"));
    expect(bug).toMatch(/^routereflector: x is undefined\nTypeError: x is undefined\n\s+at /);
  });
});
