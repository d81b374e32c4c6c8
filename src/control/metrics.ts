// Prometheus metrics, computed from the reflector's state when scraped: nothing on the data path.
// Names follow bird_exporter's and GoBGP's where they have one: per-peer session state, uptime
// and flaps, NOTIFICATIONs by code, prefixes per family.
import { readFileSync } from "node:fs";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Daemon } from "../daemon/index.js";
import { status } from "./snapshot.js";

const STATES = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const FAMILIES = ["ipv4", "ipv6"] as const;

export function createMetrics(d: Daemon): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const peerLabels = ["peer", "name", "type"] as const;

  // One status read per scrape, shared by the collectors below.
  let cached: { at: number; value: ReturnType<typeof status> } | undefined;
  const snap = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 500) cached = { at: now, value: status(d) };
    return cached.value;
  };
  const perPeer = (
    set: (labels: Record<string, string>, p: ReturnType<typeof status>["peers"][number]) => void,
  ) => {
    for (const p of snap().peers) set({ peer: p.address, name: p.name, type: p.type }, p);
  };

  new Gauge({
    name: "routereflector_bgp_session_state",
    help: "BGP FSM state per peer: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
    labelNames: peerLabels,
    registers: [register],
    collect() {
      this.reset();
      perPeer((l, p) => this.set(l, STATES.indexOf(p.state) + 1));
    },
  });
  new Gauge({
    name: "routereflector_build_info",
    help: "1, labelled with the version and the Node.js runtime",
    labelNames: ["version", "nodejs"],
    registers: [register],
    collect() {
      this.reset();
      this.set({ version: VERSION, nodejs: process.versions.node }, 1);
    },
  });
  new Gauge({
    name: "routereflector_bgp_session_uptime_seconds",
    help: "seconds the session with the peer has been Established (0 when it is not)",
    labelNames: peerLabels,
    registers: [register],
    collect() {
      this.reset();
      const now = Date.now();
      perPeer((l, p) => {
        const since = d.since.get(p.address);
        this.set(l, p.state === "Established" && since !== undefined ? (now - since) / 1000 : 0);
      });
    },
  });
  new Counter({
    name: "routereflector_bgp_session_flaps_total",
    help: "times the session with the peer left Established",
    labelNames: ["peer"],
    registers: [register],
    collect() {
      this.reset();
      for (const p of snap().peers) this.inc({ peer: p.address }, d.flaps.get(p.address) ?? 0);
    },
  });
  new Counter({
    name: "routereflector_bgp_notifications_total",
    help: "NOTIFICATION messages per peer, sent or received, by error code and subcode (RFC 4271 §4.5)",
    labelNames: ["peer", "direction", "code", "subcode"],
    registers: [register],
    collect() {
      this.reset();
      for (const n of d.notifications.values()) {
        this.inc({ peer: n.peer, direction: n.direction, code: n.code, subcode: n.subcode }, n.count);
      }
    },
  });
  new Gauge({
    name: "routereflector_bgp_session_established",
    help: "1 when the session with the peer is Established",
    labelNames: peerLabels,
    registers: [register],
    collect() {
      this.reset();
      perPeer((l, p) => this.set(l, p.state === "Established" ? 1 : 0));
    },
  });
  for (const [what, field] of [
    ["received", "prefixesReceived"],
    ["advertised", "prefixesAdvertised"],
    ["left_out", "prefixesLeftOut"],
  ] as const) {
    new Gauge({
      name: `routereflector_bgp_prefixes_${what}`,
      help:
        what === "left_out"
          ? "prefixes not sent per peer and family: their route is too large for one UPDATE to the peer"
          : `prefixes ${what} per peer and family`,
      labelNames: ["peer", "family"],
      registers: [register],
      collect() {
        this.reset();
        for (const p of snap().peers)
          for (const f of FAMILIES) this.set({ peer: p.address, family: f }, p[field][f]);
      },
    });
  }
  for (const [name, help, field] of [
    ["routereflector_bgp_updates_received_total", "UPDATE messages received per peer", "updatesReceived"],
    ["routereflector_bgp_received_bytes_total", "octets received per peer", "bytesReceived"],
    ["routereflector_bgp_sent_bytes_total", "octets sent per peer", "bytesSent"],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ["peer"],
      registers: [register],
      collect() {
        this.reset();
        for (const p of snap().peers) this.inc({ peer: p.address }, p[field]);
      },
    });
  }
  for (const [name, help, field] of [
    [
      "routereflector_update_group_encoded_bytes_total",
      "octets of UPDATEs encoded per update group",
      "bytesEncoded",
    ],
    [
      "routereflector_update_group_written_bytes_total",
      "octets of UPDATEs written per update group",
      "bytesWritten",
    ],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ["group"],
      registers: [register],
      collect() {
        this.reset();
        for (const g of d.reflector?.updateGroups ?? []) this.inc({ group: g.key }, g[field]);
      },
    });
  }
  new Counter({
    name: "routereflector_connections_refused_total",
    help: "TCP connections from addresses that are not configured peers, closed before OPEN",
    registers: [register],
    collect() {
      this.reset();
      this.inc(d.refusedConnections);
    },
  });
  new Gauge({
    name: "routereflector_update_group_members",
    help: "peers per update group",
    labelNames: ["group"],
    registers: [register],
    collect() {
      this.reset();
      for (const g of d.reflector?.updateGroups ?? []) this.set({ group: g.key }, g.members.size);
    },
  });
  new Gauge({
    name: "routereflector_loc_rib_prefixes",
    help: "prefixes in the Loc-RIB per family",
    labelNames: ["family"],
    registers: [register],
    collect() {
      const counts = { ipv4: 0, ipv6: 0 };
      for (const dest of d.reflector?.rib.all() ?? []) counts[dest.family]++;
      for (const f of FAMILIES) this.set({ family: f }, counts[f]);
    },
  });
  new Gauge({
    name: "routereflector_datastore_synced",
    help: "1 once the datastore's initial list is complete",
    labelNames: ["datastore"],
    registers: [register],
    collect() {
      this.reset();
      this.set({ datastore: d.config.datastoreType }, d.store.synced ? 1 : 0);
    },
  });
  new Gauge({
    name: "routereflector_datastore_connected",
    help: "1 while the datastore answers; what was read stays in force while it does not",
    labelNames: ["datastore"],
    registers: [register],
    collect() {
      this.reset();
      this.set({ datastore: d.config.datastoreType }, d.datastoreConnected ? 1 : 0);
    },
  });
  new Gauge({
    name: "routereflector_update_group_queued_bytes",
    help: "octets of UPDATEs queued per update group and not yet written, once per member",
    labelNames: ["group"],
    registers: [register],
    collect() {
      this.reset();
      for (const g of d.reflector?.updateGroups ?? []) this.set({ group: g.key }, g.queuedOctets);
    },
  });
  new Gauge({
    name: "routereflector_bgp_routes_behind",
    help: "prefixes a peer that fell behind (its socket full) is still to be sent, per peer",
    labelNames: ["peer"],
    registers: [register],
    collect() {
      this.reset();
      for (const g of d.reflector?.updateGroups ?? [])
        for (const m of g.members) this.set({ peer: m.address }, m.behind ? m.missed.size : 0);
    },
  });
  new Gauge({
    name: "routereflector_datastore_last_change_age_seconds",
    help: "seconds since the datastore last changed what the reflector holds",
    registers: [register],
    collect() {
      const at = d.store.lastChangeAt;
      this.set(at === undefined ? Number.NaN : (Date.now() - at) / 1000);
    },
  });
  new Gauge({
    name: "routereflector_peers_configured",
    help: "peerings the datastore yields",
    registers: [register],
    collect() {
      this.set(d.reconciler?.specs.size ?? 0);
    },
  });
  assignmentMetrics(d, register);
  return register;
}

/** The reflector assignment's metrics (ASSIGN_REFLECTORS): none unless it runs here. */
function assignmentMetrics(d: Daemon, register: Registry): void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        if (d.assigner?.on) this.set(value());
      },
    });
  gauge(
    "routereflector_assignment_members",
    "reflectors whose lease is live",
    () => d.assigner?.coordination.members.size ?? 0,
  );
  gauge("routereflector_assignment_writer", "1 when this instance is the elected writer", () =>
    d.assigner?.coordination.writer ? 1 : 0,
  );
  gauge(
    "routereflector_assignment_nodes",
    "client nodes in the plan",
    () => d.assigner?.plan?.nodes.size ?? 0,
  );
  gauge(
    "routereflector_assignment_held_back",
    "nodes whose old reflectors stay until their new ones are up",
    () => d.assigner?.heldBack ?? 0,
  );
  gauge(
    "routereflector_assignment_writes_pending",
    "writes the rate limit left for later",
    () => d.assigner?.pendingWrites ?? 0,
  );
  new Gauge({
    name: "routereflector_assignment_reflector_nodes",
    help: "client nodes each reflector is given in the plan",
    labelNames: ["reflector"],
    registers: [register],
    collect() {
      this.reset();
      for (const [r, n] of d.assigner?.on ? (d.assigner.plan?.load ?? []) : []) this.set({ reflector: r }, n);
    },
  });
  new Counter({
    name: "routereflector_assignment_moves_total",
    help: "reflector slots moved by changes of the plan (a node given another reflector: one)",
    registers: [register],
    collect() {
      this.reset();
      if (d.assigner?.on) this.inc(d.assigner.movedSlots);
    },
  });
  new Counter({
    name: "routereflector_assignment_writes_total",
    help: "datastore writes made for the assignment, by result (done, conflict, gone, failed)",
    labelNames: ["result"],
    registers: [register],
    collect() {
      this.reset();
      if (!d.assigner) return;
      for (const [result, n] of Object.entries(d.assigner.writes)) this.inc({ result }, n);
    },
  });
}
