// The lab's network: three namespaces joined by two veth pairs (see /work/shared/KERNEL-LAB.md).
//
//   ext ──(uplink: eth0 on the node)── node ──(pods link: cni0 on the node)── pods
//
// - node holds the dump; it forwards, and its interfaces carry the names the dump's rules expect.
// - ext holds the clients "outside the cluster": whole prefixes are local there (local routes),
//   so a probe may bind any address in them.
// - pods holds every endpoint as a local /32 (/128) route and answers on all of them. Policy
//   routing sends everything pods itself originates to the node first, as if each pod had its own
//   namespace: pod→service→pod and the replies then cross the node's rules (un-DNAT, hairpin).

export interface FamilyPlan {
  /** The node's address on the uplink (its "node IP"). */
  nodeAddress: string;
  /** ext's address on the same link (the node's default gateway). */
  extAddress: string;
  prefixLen: number;
  /** The node's address on the pods link (pods' gateway; the masquerade source toward pods). */
  podGateway: string;
  /** The cluster's pod CIDR (for explain's node context; kube-proxy's `! -s <podCIDR>`). */
  podCIDR: string;
  /** Prefixes that are local in ext: any address in them can be a client. */
  externalClients: string[];
  /**
   * Prefixes ext must send to the node although they look on-link (an externalIP or LB IP inside
   * the uplink subnet, which the real network routes to the node).
   */
  viaNode?: string[];
}

export interface LabTopology {
  /** Node-side name of the link toward ext, e.g. eth0 (or ens5 to match `-i ens+`). */
  uplink: string;
  /** Node-side name of the link toward the pods, e.g. cni0 or eni1a2b (to match `-i eni+`). */
  podsInterface: string;
  v4: FamilyPlan;
  /** IPv6 plan, or null for an IPv4-only lab. */
  v6: FamilyPlan | null;
}

export const DEFAULT_TOPOLOGY: LabTopology = {
  uplink: 'eth0',
  podsInterface: 'cni0',
  v4: {
    nodeAddress: '192.168.0.2',
    extAddress: '192.168.0.100',
    prefixLen: 24,
    podGateway: '10.244.0.1',
    podCIDR: '10.244.0.0/16',
    externalClients: ['203.0.113.0/24', '198.51.100.0/24'],
  },
  v6: {
    nodeAddress: 'fd00:192:168::2',
    extAddress: 'fd00:192:168::100',
    prefixLen: 64,
    podGateway: 'fd00:10:244::1',
    podCIDR: 'fd00:10:244::/56',
    externalClients: ['2001:db8:113::/64'],
  },
};

/** Link-local addresses on the pods link: IPv6 routes to pods go via pods' link-local, because
 * neighbour discovery does not answer for addresses that are only local routes. */
export const NODE_PODS_LL = 'fe80::1';
export const PODS_NODE_LL = 'fe80::2';
/** pods' routing table for what it originates (the "one netns per pod" trick). */
export const PODS_TABLE = 100;
/** The pods side of the pods link and the ext side of the uplink (names private to the lab). */
export const PODS_IFACE = 'eth0';
export const EXT_IFACE = 'eth0';

export const isV6 = (ip: string): boolean => ip.includes(':');

/** Linux interface names: at most 15 bytes, no '/', no whitespace, not '.'/'..'. */
export function checkIfaceName(name: string): void {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(name) || name === '.' || name === '..')
    throw new Error(`invalid interface name ${JSON.stringify(name)} (1-15 characters of [A-Za-z0-9_.@-])`);
}

/** sysctls every namespace gets, set before any link exists so the links inherit `default`. */
export function commonSysctls(): string[] {
  return [
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
    'net.ipv4.conf.all.accept_redirects=0',
    'net.ipv4.conf.default.accept_redirects=0',
    'net.ipv6.conf.all.accept_redirects=0',
    'net.ipv6.conf.default.accept_redirects=0',
    // No duplicate address detection: addresses are usable at once, not after a second.
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
    // Without these a burst of REJECTs turns into timeouts after a few answers: the per-destination
    // limit, and the global token bucket (50 ICMP errors, then 1000/s). The bucket is per namespace
    // since Linux 6.2; before that the keys exist only in the root namespace and `sysctl -e` skips
    // them here, so the root namespace is never touched.
    'net.ipv4.icmp_ratelimit=0',
    'net.ipv6.icmp.ratelimit=0',
    'net.ipv4.icmp_msgs_per_sec=1000000',
    'net.ipv4.icmp_msgs_burst=100000',
  ];
}

/** ext and pods hold their client/endpoint addresses as local routes, not interface addresses. IPv4
 * binds to those as is; IPv6 only binds to configured addresses unless non-local binds are allowed. */
export function anyIpSysctls(): string[] {
  return ['net.ipv6.ip_nonlocal_bind=1'];
}

export function nodeSysctls(): string[] {
  return [
    'net.ipv4.ip_forward=1',
    'net.ipv6.conf.all.forwarding=1',
    'net.ipv6.conf.default.forwarding=1',
    // kube-proxy sets this so NodePorts answer on 127.0.0.1.
    'net.ipv4.conf.all.route_localnet=1',
    'net.ipv4.conf.default.route_localnet=1',
    // The node routes pod→node→pod back out of the link it came from; a redirect would teach pods
    // a shortcut around the node's rules.
    'net.ipv4.conf.all.send_redirects=0',
    'net.ipv4.conf.default.send_redirects=0',
  ];
}

export function podsSysctls(): string[] {
  return [
    // Packets from one pod address to another arrive with a source that is local here too.
    'net.ipv4.conf.all.accept_local=1',
    'net.ipv4.conf.default.accept_local=1',
  ];
}

/** `ip -batch` lines for the node namespace (after the links exist). */
export function nodeBatch(t: LabTopology): string[] {
  const b = [
    'link set lo up',
    `addr add ${t.v4.nodeAddress}/${t.v4.prefixLen} dev ${t.uplink}`,
    `addr add ${t.v4.podGateway}/32 dev ${t.podsInterface}`,
    `link set ${t.uplink} up`,
    `link set ${t.podsInterface} up`,
    `route add default via ${t.v4.extAddress} dev ${t.uplink}`,
  ];
  if (t.v6)
    b.push(
      `addr add ${t.v6.nodeAddress}/${t.v6.prefixLen} dev ${t.uplink} nodad`,
      `addr add ${t.v6.podGateway}/128 dev ${t.podsInterface} nodad`,
      `addr add ${NODE_PODS_LL}/64 dev ${t.podsInterface} nodad`,
      `-6 route add default via ${t.v6.extAddress} dev ${t.uplink}`,
    );
  return b;
}

export function extBatch(t: LabTopology): string[] {
  const b = [
    'link set lo up',
    `addr add ${t.v4.extAddress}/${t.v4.prefixLen} dev ${EXT_IFACE}`,
    `link set ${EXT_IFACE} up`,
    `route add default via ${t.v4.nodeAddress} dev ${EXT_IFACE}`,
    ...t.v4.externalClients.map((p) => `route add local ${p} dev lo`),
    ...(t.v4.viaNode ?? []).map((p) => `route add ${p} via ${t.v4.nodeAddress} dev ${EXT_IFACE}`),
  ];
  if (t.v6)
    b.push(
      `addr add ${t.v6.extAddress}/${t.v6.prefixLen} dev ${EXT_IFACE} nodad`,
      `-6 route add default via ${t.v6.nodeAddress} dev ${EXT_IFACE}`,
      ...t.v6.externalClients.map((p) => `-6 route add local ${p} dev lo`),
      ...(t.v6.viaNode ?? []).map((p) => `-6 route add ${p} via ${t.v6?.nodeAddress} dev ${EXT_IFACE}`),
    );
  return b;
}

export function podsBatch(t: LabTopology): string[] {
  const b = [
    'link set lo up',
    `link set ${PODS_IFACE} up`,
    // Everything pods originates (iif lo) goes to the node first, ahead of the local table...
    `route add default via ${t.v4.podGateway} dev ${PODS_IFACE} onlink table ${PODS_TABLE}`,
    `rule add iif lo lookup ${PODS_TABLE} pref 10`,
    // ...so the local table moves from preference 0 to behind that rule.
    'rule add lookup local pref 100',
    'rule del pref 0',
  ];
  if (t.v6)
    b.push(
      `addr add ${PODS_NODE_LL}/64 dev ${PODS_IFACE} nodad`,
      `-6 route add default via ${NODE_PODS_LL} dev ${PODS_IFACE} table ${PODS_TABLE}`,
      `-6 rule add iif lo lookup ${PODS_TABLE} pref 10`,
      '-6 rule add lookup local pref 100',
      '-6 rule del pref 0',
    );
  return b;
}

/** Lines that make `ip` a pod address: local in pods, routed to pods from the node. */
export function podAddressLines(t: LabTopology, ip: string): { pods: string; node: string } {
  if (isV6(ip))
    return {
      pods: `-6 route replace local ${ip}/128 dev lo table local`,
      node: `-6 route replace ${ip}/128 via ${PODS_NODE_LL} dev ${t.podsInterface}`,
    };
  return { pods: `route replace local ${ip}/32 dev lo table local`, node: `route replace ${ip}/32 dev ${t.podsInterface}` };
}
