// One Kubernetes collection listed, then watched from the list's resourceVersion with bookmarks,
// forever: a watch that ends is resumed from the last resourceVersion; 410 Gone means that version
// is too old, so list again and apply the difference. The Kubernetes source uses one per
// collection, the assignment's coordination one for its Leases.
import type { KubernetesObject, Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { logEvent } from "../log/index.js";

export interface ListResult {
  metadata?: { resourceVersion?: string };
  items: KubernetesObject[];
}

export interface Collection {
  name: string;
  path: string;
  /** only the objects it selects, in the list and the watch ("metadata.name=bgp-secrets") */
  fieldSelector?: string;
  list(): Promise<ListResult>;
  /** the object as the store holds it */
  apply(obj: KubernetesObject | undefined, name: string): void;
  /**
   * The answers that mean there are none of it for us, asked again every minute: 404 for a kind
   * older Calico versions do not define, 403 for Secrets without a Role (no passwords to read).
   * Any other failure is retried, and the source is not synced until every collection answered.
   */
  absentWhen?: readonly number[];
}

const GONE = 410;
export const NOT_FOUND = 404;
export const FORBIDDEN = 403;
/** how often a kind we may not or cannot read is asked for again (its CRD or Role may come later) */
const UNSERVED_RETRY_MS = 60_000;

/** list, then watch from its resourceVersion, forever; relist on 410 Gone. */
export class ListWatch {
  private resourceVersion = "";
  private names = new Set<string>();
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoff = 1000;
  private stopped = false;
  listed = false;
  /** the API server answered its last list or watch */
  reachable = false;

  constructor(
    private readonly c: Collection,
    private readonly watch: Watch,
    private readonly log: Logger,
    private readonly onListed: () => void,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.resourceVersion) await this.relist();
      // stopped meanwhile: no watch (and one opened while it stopped is closed at once)
      if (this.stopped) return;
      this.abort = await this.watch.watch(
        this.c.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          ...(this.c.fieldSelector ? { fieldSelector: this.c.fieldSelector } : {}),
        },
        (type, obj: KubernetesObject & { code?: number }) => this.onEvent(type, obj),
        (err: (Error & { statusCode?: number }) | null) => this.onDone(err),
      );
      if (this.stopped) this.abort.abort();
    } catch (e) {
      this.failed(e as Error & { statusCode?: number; code?: number });
    }
  }

  /** A list or watch failed: none of it for us (absentWhen), or try again later. */
  private failed(err: Error & { statusCode?: number; code?: number }): void {
    const status = err.statusCode ?? err.code;
    if (status !== undefined && this.c.absentWhen?.includes(status)) this.unserved(status);
    else this.retry(err);
  }

  /** The API server does not serve this kind, or not to us: there are none of it, until it does. */
  private unserved(status: number): void {
    this.reachable = true;
    for (const name of this.names) this.c.apply(undefined, name);
    this.names.clear();
    this.resourceVersion = "";
    logEvent(this.log, "kubernetesNotServed", {
      collection: this.c.name,
      status,
      retryIn: UNSERVED_RETRY_MS,
    });
    if (!this.listed) {
      this.listed = true;
      this.onListed();
    }
    this.timer = setTimeout(() => void this.run(), UNSERVED_RETRY_MS);
  }

  private async relist(): Promise<void> {
    const list = await this.c.list();
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const obj of list.items) {
      const name = obj.metadata?.name ?? "";
      seen.add(name);
      this.c.apply(obj, name);
    }
    for (const name of this.names) if (!seen.has(name)) this.c.apply(undefined, name);
    this.names = seen;
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    this.backoff = 1000;
    this.reachable = true;
    logEvent(this.log, "kubernetesListed", {
      collection: this.c.name,
      resourceVersion: this.resourceVersion,
      objects: seen.size,
    });
    if (!this.listed) {
      this.listed = true;
      this.onListed();
    }
  }

  private onEvent(type: string, obj: KubernetesObject & { code?: number }): void {
    if (this.stopped) return;
    if (type === "ERROR") {
      // A Status object; 410 Gone: our resourceVersion is too old.
      if (obj.code === GONE) this.resourceVersion = "";
      logEvent(this.log, "kubernetesWatchError", { collection: this.c.name, code: obj.code });
      return;
    }
    this.reachable = true;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === "BOOKMARK") return;
    const name = obj.metadata?.name ?? "";
    logEvent(this.log, "objectChanged", { key: `${this.c.name}/${name}`, type, resourceVersion: rv });
    if (type === "DELETED") {
      this.names.delete(name);
      this.c.apply(undefined, name);
    } else {
      this.names.add(name);
      this.c.apply(obj, name);
    }
  }

  private onDone(err: (Error & { statusCode?: number; code?: number }) | null): void {
    if (this.stopped) return;
    if (err && (err.statusCode === GONE || err.code === GONE)) {
      this.resourceVersion = "";
    } else if (err && err.name !== "AbortError") {
      this.failed(err);
      return;
    }
    // The stream ended (servers end watches now and then): resume, or relist after 410.
    void this.run();
  }

  private retry(err: Error & { statusCode?: number; code?: number }): void {
    if (this.stopped) return;
    this.reachable = false;
    if (err.statusCode === GONE || err.code === GONE) this.resourceVersion = "";
    logEvent(this.log, "kubernetesUnreachable", {
      collection: this.c.name,
      err: err.message,
      status: err.statusCode,
      retryIn: this.backoff,
    });
    this.timer = setTimeout(() => void this.run(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 30_000);
  }
}
