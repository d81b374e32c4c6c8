// A Calico datastore for the reflector assignment's tests: reflector Nodes (with a zone and a
// route reflector cluster ID), client Nodes, each with a label not ours (team: x) beside the
// labels given, full mesh off, and the BGPPeers given. A reflector's cluster ID is its address.
import type { AssignmentPeer } from "../../src/datastore/assignment.js";
import { Store } from "../../src/datastore/index.js";
import { parseResource } from "../../src/datastore/resources.js";

export const ZONE_LABEL = "topology.kubernetes.io/zone";

export interface WorldNode {
  name: string;
  ip: string;
  /** a reflector's zone: a reflector has one */
  zone?: string;
}

/** The projectcalico.org/v3 objects, each with the key it has under /calico/resources/v3/projectcalico.org/. */
export function worldObjects(
  nodes: readonly WorldNode[],
  labels: ReadonlyMap<string, Record<string, string>>,
  peers: Iterable<AssignmentPeer>,
): { key: string; object: object }[] {
  const out: { key: string; object: object }[] = [
    {
      key: "bgpconfigurations/default",
      object: {
        apiVersion: "projectcalico.org/v3",
        kind: "BGPConfiguration",
        metadata: { name: "default" },
        spec: { nodeToNodeMeshEnabled: false },
      },
    },
  ];
  for (const n of nodes) {
    const rr = n.zone !== undefined;
    out.push({
      key: `nodes/${n.name}`,
      object: {
        apiVersion: "projectcalico.org/v3",
        kind: "Node",
        metadata: {
          name: n.name,
          labels: { ...(rr ? { [ZONE_LABEL]: n.zone } : {}), team: "x", ...labels.get(n.name) },
        },
        spec: { bgp: { ipv4Address: `${n.ip}/24`, ...(rr ? { routeReflectorClusterID: n.ip } : {}) } },
      },
    });
  }
  for (const p of peers)
    out.push({
      key: `bgppeers/${p.name}`,
      object: {
        apiVersion: "projectcalico.org/v3",
        kind: "BGPPeer",
        metadata: { name: p.name },
        spec: { nodeSelector: p.nodeSelector, peerSelector: p.peerSelector },
      },
    });
  return out;
}

export function worldStore(
  nodes: readonly WorldNode[],
  labels: ReadonlyMap<string, Record<string, string>>,
  peers: Iterable<AssignmentPeer>,
): Store {
  const store = new Store();
  for (const { key, object } of worldObjects(nodes, labels, peers)) store.put(parseResource(object, key));
  return store;
}

/**
 * The same on the Kubernetes datastore: v1 Nodes with Calico's annotations (the address and the
 * reflectors' cluster ID) and the labels, and the default BGPConfiguration.
 */
export function worldKubernetesObjects(nodes: readonly WorldNode[]): { plural: string; object: object }[] {
  return [
    {
      plural: "bgpconfigurations",
      object: { metadata: { name: "default" }, spec: { nodeToNodeMeshEnabled: false } },
    },
    ...nodes.map((n) => ({
      plural: "nodes",
      object: {
        metadata: {
          name: n.name,
          labels: { ...(n.zone !== undefined ? { [ZONE_LABEL]: n.zone } : {}), team: "x" },
          annotations: {
            "projectcalico.org/IPv4Address": `${n.ip}/24`,
            ...(n.zone !== undefined ? { "projectcalico.org/RouteReflectorClusterID": n.ip } : {}),
          },
        },
      },
    })),
  ];
}
