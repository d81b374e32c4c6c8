// The consistency checker run after a scenario: every client's table against the table computed
// from what the peers announced. Through a reflector each client must hold every other client's
// prefixes, with that client's next hop and its router ID as ORIGINATOR_ID (RFC 4456 §8): a
// missing prefix is lost, one nobody announces any more is stale, other attributes are wrong.
import type { UpdateMessage } from "../../src/bgp/index.js";
import { type Bird, labRoutes } from "./lab.js";

/** What one client announces now, prefix -> next hop; its router ID. */
export interface Announcer {
  routerId: string;
  routes: ReadonlyMap<string, string>;
}

/** What a client holds from the reflector: prefix -> "next hop, originator". */
export type Held = ReadonlyMap<string, string>;

const entry = (nextHop: string, originator: string) => `next hop ${nextHop}, originator ${originator}`;

/** Every difference between what each client holds and what the others announced; [] when all agree. */
export function tableErrors(
  announcers: ReadonlyMap<string, Announcer>,
  held: ReadonlyMap<string, Held>,
): string[] {
  const errors: string[] = [];
  for (const [client, table] of held) {
    // a prefix announced by several others may arrive from any of them
    const want = new Map<string, Set<string>>();
    for (const [other, a] of announcers) {
      if (other === client) continue;
      for (const [prefix, nextHop] of a.routes) {
        const ok = want.get(prefix) ?? new Set<string>();
        ok.add(entry(nextHop, a.routerId));
        want.set(prefix, ok);
      }
    }
    for (const [prefix, ok] of want) {
      const got = table.get(prefix);
      if (got === undefined) errors.push(`${client}: ${prefix} lost`);
      else if (!ok.has(got)) errors.push(`${client}: ${prefix} has ${got}, expected ${[...ok].join(" or ")}`);
    }
    // a client's own routes may show in its table (BIRD lists its static routes with the rest)
    const own = announcers.get(client)?.routes;
    for (const prefix of table.keys()) {
      if (!want.has(prefix) && !own?.has(prefix)) errors.push(`${client}: ${prefix} stale`);
    }
  }
  return errors.sort();
}

/** A BIRD client's routes learned over BGP (its own static routes left out). */
export function birdHeld(b: Bird, af = "ipv4"): Held {
  const held = new Map<string, string>();
  for (const r of labRoutes("bird", b.dir, af)) {
    if (r.next_hop === null) continue;
    held.set(r.prefix, entry(r.next_hop, r.originator_id ?? "none"));
  }
  return held;
}

/** A scripted client's table, folded from the UPDATEs it received (IPv4 and MP_REACH/UNREACH). */
export class FoldedTable {
  readonly held = new Map<string, string>();

  fold(updates: Iterable<UpdateMessage>): void {
    for (const u of updates) {
      const a = u.attributes;
      for (const p of [...u.withdrawn, ...(a.mpUnreach?.withdrawn ?? [])]) {
        this.held.delete(typeof p === "string" ? p : p.prefix);
      }
      for (const p of u.nlri)
        this.held.set(
          typeof p === "string" ? p : p.prefix,
          entry(a.nextHop ?? "none", a.originatorId ?? "none"),
        );
      for (const p of a.mpReach?.nlri ?? []) {
        const prefix = typeof p === "string" ? p : p.prefix;
        this.held.set(prefix, entry(a.mpReach?.nextHop[0] ?? "none", a.originatorId ?? "none"));
      }
    }
  }
}
