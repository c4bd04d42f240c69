// Service discovery for kube-proxy's IPVS mode: the services live in IPVS virtual servers and
// ipsets, not in per-service chains, and neither carries the service's name (kube-proxy writes
// no comments into them), so `name`/`namespace` are ''.
//
// A cluster-IP virtual server is one whose VIP,proto:port is in KUBE-CLUSTER-IP (or, without
// ipsets, one whose address is neither a node address nor in an LB/external set). NodePort
// (a node address), LoadBalancer (KUBE-LOAD-BALANCER) and external-IP (KUBE-EXTERNAL-IP*)
// virtual servers carry no link to their cluster IP either; they are attached to the cluster
// service of the same protocol whose real servers they use — all of them (Cluster policy) or its
// local ones (Local policy, per the *-LOCAL sets). When that is ambiguous (several services with
// the same endpoints) or impossible (no real servers), the virtual server becomes a service of
// its own with clusterIP ''. Health-check node ports cannot be linked (a bitmap of ports) and are
// not reported.

import { cidrContains, formatAddr, formatEndpoint } from '../model/addr.js';
import type { Addr } from '../model/addr.js';
import type { IpsetState } from '../model/ipset.js';
import type { IpvsState, VirtualService } from '../model/ipvs.js';
import type { NodeContext } from '../model/ruleset.js';
import { protoNumber } from '../model/protocols.js';
import { setMatch } from '../engine/ipset-match.js';
import type { Service, ServiceEndpoint } from '../model/contracts.js';

type Kind = 'cluster' | 'nodePort' | 'loadBalancer' | 'externalIP';
type Proto = Service['protocol'];


interface Classified {
  vs: VirtualService;
  kind: Kind;
  local: boolean;
  key: string;
}

function inSet(sets: IpsetState, name: string, dims: number, vs: VirtualService, addr: Addr, proto: Proto): boolean {
  const dirs = new Array<'dst'>(dims).fill('dst');
  const r = setMatch(sets, name, dirs, { family: addr.family, proto: protoNumber(proto), src: addr, dst: addr, sport: 0, dport: vs.port ?? 0, inIface: null, outIface: null });
  return r === true;
}

function endpointsKey(vs: VirtualService): string {
  return vs.reals.map((r) => formatEndpoint(r.addr, r.port)).sort().join(' ');
}

/** An address as a Set key: family and all four words, the equality isNodeAddress needs. */
function addrKey(a: Addr): string {
  return `${a.family}:${a.w[0]}:${a.w[1]}:${a.w[2]}:${a.w[3]}`;
}

/**
 * Is an address one of the node's? A set of the node's addresses, built once per discovery: an
 * IPVS node lists every VIP as a node address (kube-ipvs0), so a scan per real server is quadratic.
 */
function nodeAddressTest(node: NodeContext): (a: Addr) => boolean {
  const keys = new Set(node.addresses.map(addrKey));
  return (a) => keys.has(addrKey(a));
}

/** kube-proxy's default --service-node-port-range. */
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

/**
 * Without ipsets, the node addresses among the virtual addresses: every VIP is bound to
 * kube-ipvs0, so node-locality cannot tell them apart. An address whose virtual servers all listen
 * on NodePort-range ports is taken as a node address (kube-proxy opens each NodePort on every node
 * address); the loader warns that this is inferred.
 */
function nodePortAddresses(st: IpvsState): Set<string> {
  const ports = new Map<string, boolean>();
  for (const vs of st.services) {
    if (!vs.addr || vs.port === undefined) continue;
    const k = formatAddr(vs.addr);
    const inRange = vs.port >= NODE_PORT_MIN && vs.port <= NODE_PORT_MAX;
    ports.set(k, (ports.get(k) ?? true) && inRange);
  }
  return new Set([...ports].filter(([, all]) => all).map(([k]) => k));
}

function classify(vs: VirtualService, sets: IpsetState, node: NodeContext, vips: Set<string>, nodeAddrs: Set<string>): Classified | null {
  if (vs.protocol === 'fwmark' || !vs.addr || vs.port === undefined) return null; // kube-proxy makes no fwmark services
  const p = vs.protocol;
  const a = vs.addr;
  const six = a.family === 6 ? '6-' : '';
  const key = endpointsKey(vs);
  const S = (n: string) => `KUBE-${six}${n}`;
  if (sets.supplied) {
    if (inSet(sets, S('CLUSTER-IP'), 2, vs, a, p)) return { vs, kind: 'cluster', local: false, key };
    if (inSet(sets, S('LOAD-BALANCER'), 2, vs, a, p)) return { vs, kind: 'loadBalancer', local: inSet(sets, S('LOAD-BALANCER-LOCAL'), 2, vs, a, p), key };
    if (inSet(sets, S('EXTERNAL-IP-LOCAL'), 2, vs, a, p)) return { vs, kind: 'externalIP', local: true, key };
    if (inSet(sets, S('EXTERNAL-IP'), 2, vs, a, p)) return { vs, kind: 'externalIP', local: false, key };
    if (!vips.has(formatAddr(a))) {
      const localSet = p === 'sctp' ? S('NODE-PORT-LOCAL-SCTP-HASH') : S(`NODE-PORT-LOCAL-${p.toUpperCase()}`);
      const local = inSet(sets, localSet, p === 'sctp' ? 2 : 1, vs, a, p);
      return { vs, kind: 'nodePort', local, key };
    }
    return { vs, kind: 'cluster', local: false, key };
  }
  // No ipsets: NodePorts by their addresses (nodePortAddresses); anything else is taken as a cluster IP.
  return { vs, kind: nodeAddrs.has(formatAddr(a)) ? 'nodePort' : 'cluster', local: false, key };
}

function endpointList(vs: VirtualService, node: NodeContext, isNodeAddress: (a: Addr) => boolean, forCluster: boolean): ServiceEndpoint[] {
  // rr/wrr shares, as the scheduler gives them; only the cluster IP's shares are reported.
  const live = vs.reals.filter((r) => r.weight > 0);
  const total = vs.scheduler === 'rr' ? live.length : live.reduce((s, r) => s + r.weight, 0);
  return vs.reals.map((r) => {
    const share = r.weight > 0 && total > 0 ? (vs.scheduler === 'rr' ? 1 : r.weight) / total : 0;
    const local = node.podCIDRs.some((c) => cidrContains(c, r.addr)) || isNodeAddress(r.addr);
    return { endpoint: formatEndpoint(r.addr, r.port), probability: forCluster ? share : 0, local };
  });
}

function newService(c: Classified, node: NodeContext, isNodeAddress: (a: Addr) => boolean): Service {
  const vs = c.vs;
  const s: Service = {
    name: '',
    namespace: '',
    protocol: vs.protocol as Proto,
    clusterIP: c.kind === 'cluster' ? formatAddr(vs.addr as Addr) : '',
    port: c.kind === 'nodePort' ? 0 : (vs.port as number),
    externalIPs: [],
    loadBalancerIPs: [],
    sourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    // A service seen only through a NodePort/LB/external virtual server: that server's shares
    // (reporting 0% for every endpoint would read as "never").
    endpoints: endpointList(vs, node, isNodeAddress, true),
    status: vs.reals.some((r) => r.weight > 0) ? 'ok' : 'no-endpoints',
  };
  if (vs.persistent !== undefined) s.affinitySeconds = vs.persistent;
  return s;
}

function sourceRanges(sets: IpsetState, lb: Addr, proto: Proto, port: number): string[] {
  const set = sets.sets.get(lb.family === 6 ? 'KUBE-6-LOAD-BALANCER-SOURCE-CIDR' : 'KUBE-LOAD-BALANCER-SOURCE-CIDR');
  if (!set) return [];
  const out: string[] = [];
  for (const e of set.entries) {
    const [ip, pp, net] = e.parts;
    if (ip?.kind !== 'addr' || pp?.kind !== 'port' || net?.kind !== 'addr') continue;
    if (pp.proto !== protoNumber(proto) || pp.lo !== port || !cidrContains(ip.cidr, lb) || ip.cidr.prefix !== (lb.family === 4 ? 32 : 128)) continue;
    out.push(`${formatAddr(net.cidr)}/${net.cidr.prefix}`);
  }
  return out;
}

/** The kube-proxy services of an IPVS-mode node (unsorted; discoverServices sorts). */
export function discoverIpvsServices(rs: { ipvs?: IpvsState; ipsets: IpsetState; node: NodeContext }): Service[] {
  const st = rs.ipvs;
  if (!st || st.services.length === 0) return [];
  const vips = new Set<string>();
  for (const name of ['KUBE-IPVS-IPS', 'KUBE-6-IPVS-IPS']) {
    for (const e of rs.ipsets.sets.get(name)?.entries ?? []) {
      const p = e.parts[0];
      if (p?.kind === 'addr') vips.add(formatAddr(p.cidr));
    }
  }
  const nodeAddrs = rs.ipsets.supplied ? new Set<string>() : nodePortAddresses(st);
  const classified = st.services.map((vs) => classify(vs, rs.ipsets, rs.node, vips, nodeAddrs)).filter((c): c is Classified => c !== null);
  const isNodeAddress = nodeAddressTest(rs.node);
  const out: Service[] = [];
  // Cluster services indexed by protocol + endpoint set, and by protocol + each endpoint, to attach the rest.
  const byExact = new Map<string, Service[]>();
  const byEndpoint = new Map<string, Service[]>();
  for (const c of classified) {
    if (c.kind !== 'cluster') continue;
    const s = newService(c, rs.node, isNodeAddress);
    out.push(s);
    if (c.key === '') continue;
    pushTo(byExact, `${s.protocol}|${c.key}`, s);
    for (const e of s.endpoints) pushTo(byEndpoint, `${s.protocol}|${e.endpoint}`, s);
  }
  for (const c of classified) {
    if (c.kind === 'cluster') continue;
    const proto = c.vs.protocol as Proto;
    let owner: Service | undefined;
    if (c.key !== '') {
      const exact = byExact.get(`${proto}|${c.key}`) ?? [];
      if (!c.local && exact.length === 1) owner = exact[0];
      else if (c.local) {
        // Local policy: the services that have every one of these (local) real servers.
        const firstReal = formatEndpoint(c.vs.reals[0].addr, c.vs.reals[0].port);
        const cands = (byEndpoint.get(`${proto}|${firstReal}`) ?? []).filter((s) =>
          c.vs.reals.every((r) => s.endpoints.some((e) => e.endpoint === formatEndpoint(r.addr, r.port))),
        );
        if (cands.length === 1) owner = cands[0];
      }
    }
    if (!owner) {
      owner = newService(c, rs.node, isNodeAddress);
      out.push(owner);
    }
    const addr = formatAddr(c.vs.addr as Addr);
    if (c.kind === 'nodePort') owner.nodePort = c.vs.port;
    else if (c.kind === 'loadBalancer') {
      if (!owner.loadBalancerIPs.includes(addr)) owner.loadBalancerIPs.push(addr);
      for (const r of sourceRanges(rs.ipsets, c.vs.addr as Addr, proto, c.vs.port as number)) if (!owner.sourceRanges.includes(r)) owner.sourceRanges.push(r);
    } else if (!owner.externalIPs.includes(addr)) owner.externalIPs.push(addr);
    if (c.local) {
      owner.externalTrafficPolicy = 'Local';
      // Nothing local: kube-proxy leaves the Local virtual server empty and IPVS refuses it.
      if (c.vs.reals.length === 0) owner.status = 'no-local-endpoints';
    }
  }
  return out;
}

/** Appends to a map of lists in place (a copy per append is quadratic when many services share an endpoint). */
function pushTo<T>(m: Map<string, T[]>, k: string, v: T): void {
  const xs = m.get(k);
  if (xs) xs.push(v);
  else m.set(k, [v]);
}
