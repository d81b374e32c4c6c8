// A Kubernetes API server stand-in that speaks the real list/watch protocol for the collections the
// reflector reads: Nodes, Secrets, and the crd.projectcalico.org/v1 BGPPeers and
// BGPConfigurations. One resourceVersion counter for everything (as etcd's revision); lists carry
// it; `?watch=true&resourceVersion=N` streams the events after N as chunked JSON lines, then live
// ones; BOOKMARKs when asked for; a version older than the compaction point gets 410 Gone. Enough
// discovery, get, create, merge-patch and delete for the real kubectl (checked in the tests).
// HTTPS with a throw-away self-signed certificate and a bearer token, as kubectl sends tokens only
// over TLS.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { workdir } from "./workdir.js";

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

interface Kind {
  /** collection path without the namespace part */
  group: string; // "" for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/**
 * The collections served; Calico's under crd.projectcalico.org/v1, or projectcalico.org/v3 (newer
 * clusters). `filters`: BGPFilter is served (Calico 3.26 and later); without, it is not (404).
 */
function kinds(calico: string, filters: boolean): Kind[] {
  const [group, version] = calico.split("/") as [string, string];
  return [
    { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false },
    { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
    { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false },
    { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true },
    { group, version, plural: "bgppeers", kind: "BGPPeer", namespaced: false },
    { group, version, plural: "bgpconfigurations", kind: "BGPConfiguration", namespaced: false },
    { group, version, plural: "ippools", kind: "IPPool", namespaced: false },
    ...(filters ? [{ group, version, plural: "bgpfilters", kind: "BGPFilter", namespaced: false }] : []),
  ];
}

/** An RBAC rule; with a namespace, a Role's (it applies there only). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  namespace?: string;
}

/** The rules of the ClusterRoles and Roles among these objects (a rendered chart). */
export function rbacRules(
  objects: readonly { kind: string; metadata?: { namespace?: string } }[],
): RbacRule[] {
  return objects.flatMap((o) =>
    o.kind === "ClusterRole" || o.kind === "Role"
      ? ((o as unknown as { rules: RbacRule[] }).rules ?? []).map((r) => ({
          ...r,
          ...(o.kind === "Role" ? { namespace: o.metadata?.namespace } : {}),
        }))
      : [],
  );
}

interface Event {
  rv: number;
  collection: string;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: Obj;
}

interface WatchStream {
  collection: string;
  res: ServerResponse;
  bookmarks: boolean;
  /** fieldSelector metadata.name=: only this object's events */
  name?: string;
}

const apiVersionOf = (k: Kind) => (k.group ? `${k.group}/${k.version}` : k.version);

export class KubeApiServer {
  private readonly server: Server;
  private rv = 1;
  /** collection key ("nodes", "secrets/kube-system", ...) → name → object */
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly history: Event[] = [];
  private compactedTo = 0;
  private readonly watches = new Set<WatchStream>();
  readonly token = randomUUID();
  /** a client certificate and key the server accepts instead of the token (PEM files) */
  readonly clientCert: string;
  readonly clientKey: string;
  /** requests seen, "METHOD path?query", for the tests */
  readonly requests: string[] = [];

  /** kinds (plural) every request for which is refused, 403 Forbidden, as RBAC without a rule does */
  readonly forbidden = new Set<string>();
  /**
   * kinds (plural) the client may read only by name, as an RBAC Role with resourceNames grants:
   * a GET of one of these names, or a list or watch with fieldSelector metadata.name= one of them;
   * anything else 403 Forbidden
   */
  readonly onlyNamed = new Map<string, ReadonlySet<string>>();
  /**
   * RBAC: when set, a request is allowed only when a rule grants its verb on its resource, as
   * the API server's RBAC authoriser does (a ClusterRole's rules everywhere, a Role's in its
   * namespace; resourceNames restrict get, update, patch, delete, and list or watch by name)
   */
  rbac: RbacRule[] | undefined;
  /** kinds (plural) whose lists are held until released (see hold) */
  private readonly held = new Map<string, (() => void)[]>();

  /** the server certificate (self-signed): the CA a client needs */
  readonly cert: Buffer;

  private readonly kinds: Kind[];

  constructor(
    readonly host: string,
    readonly calicoGroup = "crd.projectcalico.org/v1",
    filters = true,
  ) {
    this.kinds = kinds(calicoGroup, filters);
    const dir = workdir("apiserver");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
        .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=stand-in"])
        .concat(["-addext", `subjectAltName=IP:${host}`]),
      { stdio: "ignore" },
    );
    this.cert = readFileSync(join(dir, "cert.pem"));
    // A client CA and a client certificate it signed: the other way in, as an API server takes
    // kubelets' and calico/node's K8S_CERT_FILE
    const ssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl([
      "req",
      "-x509",
      ...ec,
      "-days",
      "2",
      "-keyout",
      join(dir, "client-ca-key.pem"),
      "-out",
      join(dir, "client-ca.pem"),
      "-subj",
      "/CN=client-ca",
    ]);
    ssl([
      "req",
      ...ec,
      "-keyout",
      join(dir, "client-key.pem"),
      "-out",
      join(dir, "client.csr"),
      "-subj",
      "/CN=calico-node",
    ]);
    ssl([
      "x509",
      "-req",
      "-in",
      join(dir, "client.csr"),
      "-CA",
      join(dir, "client-ca.pem"),
      "-CAkey",
      join(dir, "client-ca-key.pem"),
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      join(dir, "client.pem"),
    ]);
    this.clientCert = join(dir, "client.pem");
    this.clientKey = join(dir, "client-key.pem");
    this.server = createServer(
      {
        cert: this.cert,
        key: readFileSync(join(dir, "key.pem")),
        ca: readFileSync(join(dir, "client-ca.pem")),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => this.handle(req, res),
    );
  }

  /** the port it listens on, once it does */
  private port = 0;

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  /** (kept after close: a request still in flight on a kept-alive connection may ask) */
  get url(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** A kubeconfig for this server, with a bearer token. */
  kubeconfig(): string {
    return `apiVersion: v1
kind: Config
clusters: [{name: stand-in, cluster: {server: "${this.url}", certificate-authority-data: ${this.cert.toString("base64")}}}]
users: [{name: tester, user: {token: "${this.token}"}}]
contexts: [{name: stand-in, context: {cluster: stand-in, user: tester}}]
current-context: stand-in
`;
  }

  /** GET with our token and CA, for tests that look at the raw protocol. */
  get(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      request(
        `${this.url}${path}`,
        { ca: this.cert, headers: { authorization: `Bearer ${this.token}` } },
        resolve,
      )
        .on("error", reject)
        .end();
    });
  }

  /** Stops: watches end, and kept-alive connections are closed too (server.close waits for them). */
  close(): Promise<void> {
    this.closeWatches();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }

  // --- test controls -----------------------------------------------------------------------

  put(plural: string, obj: Obj, namespace?: string): Obj {
    const kind = this.kinds.find((k) => k.plural === plural) as Kind;
    return this.write(kind, namespace, obj);
  }

  remove(plural: string, name: string, namespace?: string): void {
    const kind = this.kinds.find((k) => k.plural === plural) as Kind;
    this.delete(kind, namespace, name);
  }

  /** Ends every watch stream, as an API server does on restart or timeout. */
  closeWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  /** Forgets history: watching from any version before now answers 410 Gone. */
  compact(): void {
    this.compactedTo = this.rv;
    this.history.length = 0;
  }

  /** Sends a BOOKMARK with the current version to every watch that asked for them. */
  bookmark(): void {
    for (const w of this.watches) {
      if (!w.bookmarks) continue;
      const kind = this.kinds.find((k) => w.collection.startsWith(k.plural)) as Kind;
      this.send(w, {
        type: "BOOKMARK",
        object: {
          kind: kind.kind,
          apiVersion: apiVersionOf(kind),
          metadata: { resourceVersion: String(this.rv) },
        },
      });
    }
  }

  /**
   * Holds every list (or watch) of a kind until the returned function is called: a slow API
   * server. `heldCount` tells how many wait.
   */
  hold(plural: string, what: "list" | "watch" = "list"): () => void {
    const key = `${what} ${plural}`;
    this.held.set(key, []);
    return () => {
      const waiting = this.held.get(key) ?? [];
      this.held.delete(key);
      for (const answer of waiting) answer();
    };
  }

  heldCount(plural: string, what: "list" | "watch" = "list"): number {
    return this.held.get(`${what} ${plural}`)?.length ?? 0;
  }

  /** watch streams open now */
  get openWatches(): number {
    return this.watches.size;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  // --- storage -------------------------------------------------------------------------------

  private key(kind: Kind, namespace: string | undefined): string {
    return kind.namespaced ? `${kind.plural}/${namespace ?? "default"}` : kind.plural;
  }

  private collection(key: string): Map<string, Obj> {
    let c = this.store.get(key);
    if (!c) {
      c = new Map();
      this.store.set(key, c);
    }
    return c;
  }

  private write(kind: Kind, namespace: string | undefined, obj: Obj): Obj {
    const key = this.key(kind, namespace);
    const c = this.collection(key);
    const old = c.get(obj.metadata.name);
    const stored: Obj = {
      ...obj,
      apiVersion: apiVersionOf(kind),
      kind: kind.kind,
      metadata: {
        ...obj.metadata,
        ...(kind.namespaced ? { namespace: namespace ?? "default" } : {}),
        uid: (old?.metadata.uid as string | undefined) ?? randomUUID(),
        creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: String(++this.rv),
      },
    };
    c.set(obj.metadata.name, stored);
    this.emit({ rv: this.rv, collection: key, type: old ? "MODIFIED" : "ADDED", object: stored });
    return stored;
  }

  private delete(kind: Kind, namespace: string | undefined, name: string): Obj | undefined {
    const key = this.key(kind, namespace);
    const old = this.store.get(key)?.get(name);
    if (!old) return undefined;
    this.store.get(key)?.delete(name);
    const gone = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, collection: key, type: "DELETED", object: gone });
    return gone;
  }

  private emit(e: Event): void {
    this.history.push(e);
    for (const w of this.watches)
      if (w.collection === e.collection && (w.name === undefined || w.name === e.object.metadata.name))
        this.send(w, { type: e.type, object: e.object });
  }

  private send(w: WatchStream, event: unknown): void {
    w.res.write(`${JSON.stringify(event)}\n`);
  }

  // --- HTTP ----------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): unknown {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const status = (code: number, reason: string, message: string) =>
      json(code, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message,
        reason,
        code,
      });
    const certified = (req.socket as { authorized?: boolean }).authorized === true;
    if (!certified && req.headers.authorization !== `Bearer ${this.token}`)
      return status(401, "Unauthorized", "Unauthorized");

    const path = url.pathname.replace(/\/$/, "");
    if (path === "/api")
      return json(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    if (path === "/apis") {
      return json(200, {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [
          {
            name: this.calicoGroup.split("/")[0],
            versions: [{ groupVersion: this.calicoGroup, version: this.calicoGroup.split("/")[1] }],
            preferredVersion: { groupVersion: this.calicoGroup, version: this.calicoGroup.split("/")[1] },
          },
        ],
      });
    }
    if (path === "/version") return json(200, { major: "1", minor: "32", gitVersion: "v1.32.0-stand-in" });
    const groupList = /^\/(?:api\/v1|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (groupList) {
      const group = groupList[1] ?? "";
      const kinds = this.kinds.filter(
        (k) => k.group === group && (group === "" || k.version === groupList[2]),
      );
      if (!kinds.length) return status(404, "NotFound", "no such group");
      return json(200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: group ? `${group}/${groupList[2]}` : "v1",
        resources: kinds.map((k) => ({
          name: k.plural,
          singularName: k.kind.toLowerCase(),
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        })),
      });
    }
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(
      path,
    );
    const kind = m && this.kinds.find((k) => k.plural === m[4] && k.group === (m[1] ?? ""));
    if (!m || !kind)
      return status(404, "NotFound", `the server could not find the requested resource (${path})`);
    if (this.forbidden.has(kind.plural))
      return status(403, "Forbidden", `${kind.plural} is forbidden: the user cannot list it`);
    const namespace = m[3];
    const name = m[5];
    const key = this.key(kind, namespace);
    // fieldSelector: every kind has metadata.name and metadata.namespace; nothing else here
    let selected: string | undefined;
    for (const term of (url.searchParams.get("fieldSelector") ?? "").split(",").filter(Boolean)) {
      const [field, value = ""] = term.split("=") as [string, string?];
      if (field === "metadata.name") selected = value;
      else if (field !== "metadata.namespace")
        return status(400, "BadRequest", `"${field}" is not a known field selector`);
    }
    if (this.rbac) {
      const watching = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
      const verb =
        {
          GET: name ? "get" : watching ? "watch" : "list",
          POST: "create",
          PUT: "update",
          PATCH: "patch",
          DELETE: "delete",
        }[req.method ?? ""] ?? "";
      const granted = this.rbac.some(
        (r) =>
          (r.namespace === undefined || r.namespace === namespace) &&
          r.apiGroups.includes(kind.group) &&
          r.resources.includes(kind.plural) &&
          r.verbs.includes(verb) &&
          (!r.resourceNames || r.resourceNames.includes(name ?? selected ?? "")),
      );
      if (!granted)
        return status(
          403,
          "Forbidden",
          `${kind.plural}${name ? ` "${name}"` : ""} is forbidden: no rule grants ${verb}${namespace ? ` in namespace ${namespace}` : ""}`,
        );
    }
    const allowed = this.onlyNamed.get(kind.plural);
    if (allowed && !allowed.has(name ?? selected ?? ""))
      return status(
        403,
        "Forbidden",
        `${kind.plural}${name ? ` "${name}"` : ""} is forbidden: the Role grants only ${[...allowed].join(", ")}`,
      );

    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      const item = name ? this.store.get(key)?.get(name) : undefined;
      const notFound = () => status(404, "NotFound", `${kind.plural} "${name}" not found`);
      const conflict = () =>
        status(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${kind.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      switch (req.method) {
        case "GET":
          if (name) return item ? json(200, item) : notFound();
          if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
            const watch = () => this.watch(res, key, url.searchParams, selected);
            return this.held.get(`watch ${kind.plural}`)?.push(watch) ?? watch();
          }
          if (this.held.has(`list ${kind.plural}`)) {
            this.held.get(`list ${kind.plural}`)?.push(() => this.list(res, kind, key, selected));
            return;
          }
          return this.list(res, kind, key, selected);
        case "POST": {
          const obj = JSON.parse(body) as Obj;
          if (this.store.get(key)?.has(obj.metadata.name)) {
            return status(409, "AlreadyExists", `${kind.plural} "${obj.metadata.name}" already exists`);
          }
          return json(201, this.write(kind, namespace, obj));
        }
        case "PUT": {
          if (!item) return notFound();
          const obj = JSON.parse(body) as Obj;
          if (stale(item, obj.metadata.resourceVersion)) return conflict();
          return json(200, this.write(kind, namespace, obj));
        }
        case "PATCH": {
          // JSON merge patch (RFC 7386); kubectl sends it for custom resources. A resourceVersion
          // in the patch makes it conditional, as on a real API server.
          if (!item) return notFound();
          const patch = JSON.parse(body) as { metadata?: { resourceVersion?: unknown } };
          if (stale(item, patch.metadata?.resourceVersion)) return conflict();
          return json(200, this.write(kind, namespace, mergePatch(item, patch) as Obj));
        }
        case "DELETE": {
          if (!item) return notFound();
          // DeleteOptions' preconditions
          const options = (body ? JSON.parse(body) : {}) as { preconditions?: { resourceVersion?: unknown } };
          if (stale(item, options.preconditions?.resourceVersion)) return conflict();
          return json(200, this.delete(kind, namespace, name as string));
        }
        default:
          return status(405, "MethodNotAllowed", "method not allowed");
      }
    });
  }

  /** the collection as it is now, at the current resourceVersion */
  private list(res: ServerResponse, kind: Kind, key: string, name?: string): void {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        kind: `${kind.kind}List`,
        apiVersion: apiVersionOf(kind),
        metadata: { resourceVersion: String(this.rv) },
        items: [...(this.store.get(key)?.values() ?? [])].filter(
          (o) => name === undefined || o.metadata.name === name,
        ),
      }),
    );
  }

  private watch(res: ServerResponse, collection: string, q: URLSearchParams, name?: string): void {
    const from = Number(q.get("resourceVersion") ?? "0");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    // the API server sends the headers at once, before any event
    res.flushHeaders();
    const w: WatchStream = {
      collection,
      res,
      bookmarks: q.get("allowWatchBookmarks") === "true",
      ...(name !== undefined ? { name } : {}),
    };
    if (from && from < this.compactedTo) {
      // What a real API server sends for a resourceVersion compacted away.
      this.send(w, {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${from} (${this.compactedTo})`,
          reason: "Expired",
          code: 410,
        },
      });
      res.end();
      return;
    }
    // resourceVersion 0 or absent: the current state as ADDED events first
    const backlog = from
      ? this.history.filter((e) => e.collection === collection && e.rv > from)
      : [...(this.store.get(collection)?.values() ?? [])].map((object) => ({ type: "ADDED", object }));
    for (const e of backlog)
      if (w.name === undefined || e.object.metadata.name === w.name)
        this.send(w, { type: e.type, object: e.object });
    this.watches.add(w);
    res.on("close", () => this.watches.delete(w));
  }
}

/** A write naming a resourceVersion that is not the object's own (none named: unconditional). */
const stale = (item: Obj, resourceVersion: unknown): boolean =>
  resourceVersion !== undefined &&
  resourceVersion !== "" &&
  resourceVersion !== item.metadata.resourceVersion;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
