// The BIRD 1.6 configuration calico/node's confd renders for a node (projectcalico/calico
// confd/tests/compiled_templates/explicit_peering): bird_ipam.cfg's calico_export_to_bgp_peers
// (with apply_communities for BGPConfiguration prefixAdvertisements), bird.cfg's router ID,
// listen address, device protocol and bgp_template, and a protocol per peer with confd's import
// and export filters. One change, for this machine: the export filter sets a TEST-NET next hop
// (a loopback one is refused by other speakers). The node's routes (its blocks, service
// addresses) are static blackhole routes of the test's own, as bird_aggr.cfg writes them.

export interface CalicoNode {
  ip: string;
  as: number;
  /** the next hop its routes carry */
  nextHop: string;
  /** the IP pool and service range calico_export_to_bgp_peers accepts */
  pool: string;
  service: string;
  /** prefixAdvertisements: a standard community added within a CIDR */
  advertisements?: { cidr: string; community: [number, number] }[];
}

/** Everything before the peers' protocols. */
export function calicoNodePreamble(n: CalicoNode, dir: string): string {
  const adverts = (n.advertisements ?? [])
    .map(
      (a) => `      if ( net ~ ${a.cidr} ) then {
          bgp_community.add((${a.community[0]}, ${a.community[1]}));
      }`,
    )
    .join("\n");
  return `log "${dir}/bird.log" all;
# bird.cfg
function apply_communities ()
{
${adverts}
}
# bird_ipam.cfg
function calico_export_to_bgp_peers(bool internal_peer) {
  # filter code terminates when it calls \`accept;\` or \`reject;\`,
  if (internal_peer) then {
    if (defined(ifname)) then {
      if ((ifname ~ "*.cali") || (ifname ~ "*.calico") || (ifname ~ "tunl0")) then {
        reject;
      }
    }
  }
  apply_communities();
  # Export static routes.
  if ( net ~ ${n.service} ) then { accept; }
  if (net ~ ${n.pool}) then { accept; }
}
router id ${n.ip};
listen bgp address ${n.ip} port 179;
protocol device {
  scan time 2;    # Scan interfaces every 2 seconds
}
template bgp bgp_template {
  description "Connection to BGP peer";
  local as ${n.as};
  gateway recursive; # This should be the default, but just in case.
  add paths on;
  graceful restart;  # See comment in kernel section about graceful restart.
  connect delay time 2;
  connect retry time 5;
  error wait time 5,30;
}
# No v4 BGPFilters configured
`;
}

/** The protocol of one peer, as confd names it (Node_ or Global_ and the address). */
export function calicoNodePeer(
  n: CalicoNode,
  peer: { kind: "Node" | "Global"; address: string; table?: string; password?: string },
): string {
  return `protocol bgp ${peer.kind}_${peer.address.replace(/\./g, "_")} from bgp_template {
${peer.table ? `  table ${peer.table};\n` : ""}  neighbor ${peer.address} as ${n.as};
  source address ${n.ip};  # The local address we use for the TCP connection
  ttl security off;
  multihop;
  import filter {
    if (defined(bgp_local_pref)&&(bgp_local_pref > 2147482623)) then
      preference = 200;
    accept;
  };
  export filter {
    if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {
      krt_metric = 2147483647 - bgp_local_pref;
    } else {
      if (!defined(krt_metric)) then { krt_metric = 1024; }
      bgp_local_pref = 2147483647 - krt_metric;
    }
    bgp_next_hop = ${n.nextHop};  # (this machine: not a loopback next hop)
    calico_export_to_bgp_peers(true);
    reject;
  };  # Only want to export routes for workloads.
${peer.password ? `  password "${peer.password}";\n` : ""}}
`;
}
