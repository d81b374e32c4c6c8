// The file datastore: a YAML file of Calico resources, the documents calicoctl takes (Node, BGPPeer,
// BGPConfiguration; `kind: List` with items; Kubernetes v1 Nodes and Secrets too). Read at start,
// again when the file changes and on reload() (SIGHUP). A file that does not parse leaves the last
// good state in place; an invalid object is logged with its place and skipped.
import { type FSWatcher, watch as fsWatch, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { parseAllDocuments } from "yaml";
import { logEvent } from "../log/index.js";
import { claimedIdentity, parseObject, parseOne } from "./objects.js";
import { type Resource, ResourceError } from "./resources.js";
import { resourceKey, type Store } from "./store.js";

export class FileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "FileError";
  }
}

interface Parsed {
  resources: Resource[];
  secrets: Map<string, Record<string, string>>;
  /** keys of invalid objects whose last good version stays */
  keep: Set<string>;
  /** invalid objects: where they are and why */
  invalid: { key: string; reason: string }[];
}

/** Parses the file's text; throws FileError when it is not YAML at all. */
export function parseFile(path: string, text: string): Parsed {
  const out: Parsed = { resources: [], secrets: new Map(), keep: new Set(), invalid: [] };
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const [error] = doc.errors;
    if (error) throw new FileError(path, `invalid YAML in document ${i + 1}: ${error.message}`);
    // toJS() refuses a document whose aliases expand past its limit (a "billion laughs"): that
    // document is skipped, the others load.
    const doc1 = `${path}: document ${i + 1}`;
    const value = parseOne(doc1, () => doc.toJS() as unknown);
    if (value instanceof ResourceError) {
      out.invalid.push({ key: doc1, reason: value.message.slice(doc1.length + 2) });
      return;
    }
    if (value === null || value === undefined) return;
    // `nodeSelector: !has(x)` unquoted is a YAML tag, and its value an empty string: the peer
    // would silently become global. Refuse the document instead.
    const tag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
    if (tag) {
      const where = `${path}: document ${i + 1}`;
      const line = tag.linePos?.[0];
      out.invalid.push({
        key: where,
        reason: `unknown YAML tag${line ? ` at line ${line.line} column ${line.col}` : ""}; quote selectors that start with "!"`,
      });
      const id = claimedIdentity(value);
      if (id) out.keep.add(resourceKey(id));
      return;
    }
    const v = value as { kind?: unknown; items?: unknown };
    const objects =
      typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items) ? v.items : [value];
    objects.forEach((obj: unknown, j: number) => {
      const where = `${path}: document ${i + 1}${objects.length > 1 || obj !== value ? ` item ${j + 1}` : ""}`;
      const r = parseOne(where, () => parseObject(obj, where));
      if (r instanceof ResourceError) {
        out.invalid.push({ key: where, reason: r.message.slice(where.length + 2) });
        const id = claimedIdentity(obj);
        if (id) out.keep.add(resourceKey(id));
      } else if (r.kind === "Secret") {
        out.secrets.set(r.name, r.data);
      } else {
        out.resources.push(r);
      }
    });
  });
  return out;
}

const KINDS = ["Node", "BGPPeer", "BGPConfiguration", "BGPFilter", "IPPool", "ReflectorEntry"] as const;

export class FileSource {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  /** the last read of the file succeeded */
  connected = true;

  constructor(
    readonly path: string,
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** Reads the file once, synchronously: a missing or unreadable file stops start-up. */
  start(): void {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      throw new FileError(this.path, (e as NodeJS.ErrnoException).message);
    }
    this.apply(text);
    this.store.markSynced();
    // Editors replace files by rename, and a ConfigMap volume swaps a symlink (..data) the
    // file's name leads through: watch the directory, and read again on any change in it (a
    // text that did not change applies nothing).
    this.watcher = fsWatch(dirname(this.path), () => this.schedule());
  }

  /** Reads the file again (SIGHUP). */
  async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      logEvent(this.log, "fileUnreadable", { key: this.path, err: (e as Error).message });
      this.connected = false;
      return;
    }
    this.connected = true;
    try {
      this.apply(text);
    } catch (e) {
      logEvent(this.log, "fileNotApplied", { key: this.path, err: (e as Error).message });
    }
  }

  stop(): void {
    this.watcher?.close();
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), 100);
  }

  private apply(text: string): void {
    if (text === this.lastText) return;
    const parsed = parseFile(this.path, text);
    this.lastText = text;
    for (const bad of parsed.invalid) logEvent(this.log, "invalidObject", { key: bad.key, err: bad.reason });
    this.store.replace(KINDS, parsed.resources, parsed.keep);
    this.store.replaceSecrets(parsed.secrets);
    logEvent(this.log, "fileLoaded", { key: this.path, objects: parsed.resources.length });
  }
}
