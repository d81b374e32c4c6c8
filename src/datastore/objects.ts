// Turning one datastore object into what the store holds, for every source: Calico resources,
// Kubernetes Nodes and Secrets. Invalid objects are reported with their key and skipped.
import {
  parseKubernetesNode,
  parseResource,
  type Resource,
  ResourceError,
  type ResourceKind,
} from "./resources.js";

export interface SecretObject {
  kind: "Secret";
  name: string;
  data: Record<string, string>;
}

/**
 * Runs the parsing of one object: whatever fails in it, a bad field or an error of any other
 * kind, is that object's alone and comes back as a ResourceError naming its key, never thrown
 * to the watcher that met it. Nothing one object holds can stop the others from loading.
 */
export function parseOne<T>(key: string, parse: () => T): T | ResourceError {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ResourceError) return e;
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return new ResourceError(key, "(object)", reason);
  }
}

/** A v1 Secret: data is base64, stringData is plain (and wins, as the API server merges it). */
export function parseSecret(obj: Record<string, unknown>, key: string): SecretObject {
  const meta = obj.metadata as { name?: unknown } | undefined;
  if (typeof meta?.name !== "string" || !meta.name) throw new ResourceError(key, "metadata.name", "missing");
  const data: Record<string, string> = {};
  for (const [field, decode] of [
    ["data", (v: string) => Buffer.from(v, "base64").toString("utf8")],
    ["stringData", (v: string) => v],
  ] as const) {
    const values = obj[field];
    if (values === undefined || values === null) continue;
    if (typeof values !== "object") throw new ResourceError(key, field, "not a map of strings");
    for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
      if (typeof v !== "string") throw new ResourceError(key, `${field}.${k}`, "not a string");
      data[k] = decode(v);
    }
  }
  return { kind: "Secret", name: meta.name, data };
}

/** Any object a source may meet: Calico resources, a Kubernetes (v1) Node, a Secret. */
export function parseObject(obj: unknown, key: string): Resource | SecretObject {
  const o = (typeof obj === "object" && obj !== null ? obj : {}) as Record<string, unknown>;
  if (o.apiVersion === "v1" && o.kind === "Node") return parseKubernetesNode(o, key);
  if (o.apiVersion === "v1" && o.kind === "Secret") return parseSecret(o, key);
  return parseResource(obj, key);
}

/** The kind and name an object claims, for keeping its last good version when it is invalid. */
export function claimedIdentity(obj: unknown): { kind: ResourceKind; name: string } | undefined {
  const o = obj as { kind?: unknown; metadata?: { name?: unknown } } | null;
  const kind = o?.kind;
  const name = o?.metadata?.name;
  if (typeof name !== "string") return undefined;
  if (
    kind === "Node" ||
    kind === "BGPPeer" ||
    kind === "BGPConfiguration" ||
    kind === "BGPFilter" ||
    kind === "IPPool"
  )
    return { kind, name };
  return undefined;
}
