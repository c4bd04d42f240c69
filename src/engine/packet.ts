// The API edge for packets: a user's Query (strings, optional fields) and NodeInput become the
// fully resolved WalkPacket / NodeContext the engines walk, with DESIGN.md's defaults applied and
// echoed back as a ResolvedQuery. User addresses are validated here with ip-num (a clear error
// naming the field, HTTP 400) and only then turned into the numeric form of src/model/addr.ts.

import { isCidrNotation, isIpAddress } from '../model/addr-check.js';
import type { Addr, Cidr, Family } from '../model/addr.js';
import { cidrContains, formatAddr, formatCidr, parseAddr, parseCidr } from '../model/addr.js';
import type { IpvsState } from '../model/ipvs.js';
import type { NodeInput, Origin, Protocol, Query, ResolvedQuery } from '../model/contracts.js';
import { CT, PROTO } from '../model/rule.js';
import { LandfallError, type ErrorDetails } from '../model/errors.js';
import type { Iface, NodeContext } from '../model/ruleset.js';
import type { WalkPacket } from './types.js';
import { buildRouting } from '../parse/iproute.js';
import { RT_TABLE } from '../model/routing.js';

/** A malformed or contradictory query/node field; `field` names it (e.g. "source", "node.addresses[1]"). */
export class QueryError extends LandfallError {
  override readonly name = 'QueryError';
  readonly code = 'invalid-field';
  constructor(
    readonly field: string,
    /** The message without the field prefix. */
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
  override report(): { detail: string; details: ErrorDetails } {
    return { detail: this.message, details: { field: this.field } };
  }
}

/** Default source of an `external` packet (TEST-NET-3 / the IPv6 documentation prefix). */
export const EXTERNAL_SOURCE = { 4: '203.0.113.10', 6: '2001:db8::10' } as const;
export const DEFAULT_SOURCE_PORT = 40000;
export const DEFAULT_UPLINK = 'eth0';
export const DEFAULT_PODS_IFACE = 'cni0';

const PROTOCOLS: Record<Protocol, true> = { tcp: true, udp: true, sctp: true, icmp: true };
const ORIGINS: Record<Origin, true> = { external: true, pod: true, host: true };
const STATES: Record<NonNullable<Query['state']>, number> = {
  NEW: CT.NEW,
  ESTABLISHED: CT.ESTABLISHED,
  RELATED: CT.RELATED,
  INVALID: CT.INVALID,
  UNTRACKED: CT.UNTRACKED,
};

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const CANONICAL_V4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** Validates one address string with ip-num, then converts it. */
export function userAddr(field: string, s: unknown): Addr {
  if (typeof s !== 'string' || s.length === 0) throw new QueryError(field, 'an IP address is required');
  // A canonical dotted quad (the usual query) is one ip-num accepts: checked here, ~30× faster.
  const a = CANONICAL_V4.test(s) || isIpAddress(s) ? parseAddr(s) : null;
  if (!a) throw new QueryError(field, `${JSON.stringify(s.slice(0, 60))} is not a valid IP address`);
  return a;
}

/** Validates a CIDR ("10.244.0.0/16"; a bare address is a host route). */
export function userCidr(field: string, s: unknown): Cidr {
  if (typeof s !== 'string' || s.length === 0) throw new QueryError(field, 'a CIDR is required');
  const ok = s.includes('/') ? isCidrNotation(s) : isIpAddress(s);
  const c = ok ? parseCidr(s) : null;
  if (!c) throw new QueryError(field, `${JSON.stringify(s.slice(0, 60))} is not a valid CIDR`);
  return c;
}

/** "eni+" → prefix pattern {name: "eni", prefix: true}; iptables' interface name rules (≤ 15 chars). */
export function userIface(field: string, s: unknown): Iface {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_.:@-]{1,15}\+?$/.test(s) || s === '+') {
    throw new QueryError(field, `${JSON.stringify(String(s).slice(0, 60))} is not an interface name`);
  }
  return s.endsWith('+') ? { name: s.slice(0, -1), prefix: true } : { name: s, prefix: false };
}

export function formatIface(i: Iface): string {
  return i.prefix ? `${i.name}+` : i.name;
}

function intField(field: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new QueryError(field, `must be an integer from ${lo} to ${hi}`);
  }
  return v;
}

/**
 * NodeInput → NodeContext. IPVS virtual addresses are node-local (kube-proxy binds them to
 * kube-ipvs0), so they join the addresses after the user's own: "the first node address" used for
 * defaults and MASQUERADE stays the user's.
 */
export function resolveNode(input: NodeInput | undefined, ipvs?: IpvsState, warnings: string[] = []): NodeContext {
  const addresses: Addr[] = [];
  const seen = new Set<string>();
  const add = (a: Addr): void => {
    const k = `${a.family}:${a.w.join(',')}`;
    if (!seen.has(k)) {
      seen.add(k);
      addresses.push(a);
    }
  };
  const given = input?.addresses ?? [];
  if (!Array.isArray(given)) throw new QueryError('node.addresses', 'must be a list of addresses');
  given.forEach((s, i) => add(userAddr(`node.addresses[${i}]`, s)));
  const routing = buildRouting({ ipAddr: input?.ipAddr, ipRoute: input?.ipRoute, ipRule: input?.ipRule }, warnings);
  const localRanges: Cidr[] = [];
  let routesSayLocal = false;
  if (routing) {
    for (const l of routing.links) for (const a of l.addrs) add(a.addr);
    for (const r of routing.routes) {
      if (r.table !== RT_TABLE.local || r.type !== 'local') continue;
      routesSayLocal = true;
      if (r.dst.prefix === (r.family === 4 ? 32 : 128)) add({ family: r.family, w: [...r.dst.w] });
      else localRanges.push(r.dst);
    }
  }
  for (const vs of ipvs?.services ?? []) if (vs.addr) add(vs.addr);
  const cidrs = input?.podCIDRs ?? [];
  if (!Array.isArray(cidrs)) throw new QueryError('node.podCIDRs', 'must be a list of CIDRs');
  const podCIDRs = cidrs.map((s, i) => userCidr(`node.podCIDRs[${i}]`, s));
  const ifs = input?.interfaces ?? {};
  return {
    addresses,
    podCIDRs,
    uplink: userIface('node.interfaces.uplink', ifs.uplink ?? DEFAULT_UPLINK),
    pods: userIface('node.interfaces.pods', ifs.pods ?? DEFAULT_PODS_IFACE),
    addressesKnown: given.length > 0 || (routing?.has.addrs ?? false) || routesSayLocal,
    localRanges,
    ...(routing ? { routing } : {}),
  };
}

/** 127.0.0.0/8 or ::1. */
export function isLoopback(a: Addr): boolean {
  if (a.family === 4) return a.w[0] >>> 24 === 127;
  return a.w[0] === 0 && a.w[1] === 0 && a.w[2] === 0 && a.w[3] === 1;
}

const localSets = new WeakMap<NodeContext, Set<string>>();

/**
 * Node-local: a node address or loopback (SEMANTICS.md routing and addrtype LOCAL). IPVS mode
 * makes every virtual address node-local, so the lookup is a set built once per node context.
 */
export function isNodeLocal(node: NodeContext, a: Addr): boolean {
  if (isLoopback(a)) return true;
  for (const c of node.localRanges) if (cidrContains(c, a)) return true;
  let set = localSets.get(node);
  if (!set) {
    set = new Set(node.addresses.map((n) => `${n.family}:${addrKey(n)}`));
    localSets.set(node, set);
  }
  return set.has(`${a.family}:${addrKey(a)}`);
}

/**
 * Whether `a` is node-local as far as the input says: true / false, or null when the node's
 * addresses were not given and nothing in the input settles it. Known without them: loopback,
 * the IPVS virtual addresses (kube-ipvs0 holds them), broadcast and multicast (never a node
 * address), and pod addresses (inside a pod CIDR, other than its network and gateway (network + 1)
 * addresses, which bridge and overlay devices such as cni0 / flannel.1 hold).
 */
export function nodeLocality(node: NodeContext, a: Addr): boolean | null {
  if (isNodeLocal(node, a)) return true;
  if (node.addressesKnown) return false;
  if (a.family === 4 ? a.w[0] === 0xffffffff || a.w[0] >>> 28 === 0xe : a.w[0] >>> 24 === 0xff) return false;
  for (const c of node.podCIDRs) {
    if (c.family !== a.family || !cidrContains(c, a)) continue;
    const last = a.family === 4 ? 0 : 3;
    let same = true;
    for (let k = 0; k < 4; k++) if (k !== last && a.w[k] !== c.w[k]) same = false;
    const off = (a.w[last] - c.w[last]) >>> 0;
    if (!(same && off <= 1)) return false;
  }
  return null;
}

/** The first non-loopback node address of a family (MASQUERADE, REDIRECT, host defaults). */
export function firstNodeAddress(node: NodeContext, family: Family): Addr | undefined {
  return node.addresses.find((a) => a.family === family && !isLoopback(a));
}

/**
 * The address MASQUERADE takes when the packet leaves on the pods interface (an exact name: a
 * bridge such as cni0 holds the gateway, network + 1, of the node's pod CIDR; `+`-prefix pods
 * interfaces are per-pod veths without an address): the gateway of the pod CIDR of the family
 * that contains `dst`, else of the family's first pod CIDR; undefined when the node has none.
 */
export function podGatewayFor(node: NodeContext, dst: Addr): Addr | undefined {
  let c: Cidr | undefined;
  for (const x of node.podCIDRs) {
    if (x.family !== dst.family) continue;
    if (cidrContains(x, dst)) {
      c = x;
      break;
    }
    c ??= x;
  }
  if (!c) return undefined;
  const w: [number, number, number, number] = [c.w[0], c.w[1], c.w[2], c.w[3]];
  // network + 1 with carry from the last word of the family upwards
  for (let k = c.family === 4 ? 0 : 3; k >= 0; k--) {
    w[k] = (w[k] + 1) >>> 0;
    if (w[k] !== 0) break;
  }
  return { family: c.family, w };
}

/** network + 2: the first pod address that is not the bridge gateway (network + 1). */
function podDefaultSource(c: Cidr): Addr {
  const w: [number, number, number, number] = [c.w[0], c.w[1], c.w[2], c.w[3]];
  const k = c.family === 4 ? 0 : 3;
  w[k] = (w[k] + 2) >>> 0;
  return { family: c.family, w };
}

export function addrKey(a: Addr): string {
  return `${a.w[0]},${a.w[1]},${a.w[2]},${a.w[3]}`;
}

export interface ResolvedPacket {
  pkt: WalkPacket;
  query: ResolvedQuery;
  /** Facts about the query the walk does not model (e.g. a martian destination). */
  warnings: string[];
}

/** Query + node → the packet to walk, with every default filled in. Throws QueryError. */
export function resolveQuery(q: Query, node: NodeContext): ResolvedPacket {
  if (q === null || typeof q !== 'object') throw new QueryError('query', 'must be an object');
  if (!(typeof q.protocol === 'string' && Object.hasOwn(PROTOCOLS, q.protocol))) {
    throw new QueryError('protocol', 'must be one of tcp, udp, sctp, icmp');
  }
  const protocol = q.protocol;
  const dst = userAddr('destination', q.destination);
  const family = dst.family;
  const origin: Origin = q.origin ?? 'external';
  if (!Object.hasOwn(ORIGINS, origin)) throw new QueryError('origin', 'must be one of external, pod, host');
  const warnings: string[] = [];

  let src: Addr;
  if (q.source !== undefined) {
    src = userAddr('source', q.source);
    if (src.family !== family) throw new QueryError('source', 'must be of the same address family as destination');
  } else if (origin === 'external') {
    src = parseAddr(EXTERNAL_SOURCE[family])!;
  } else if (origin === 'pod') {
    const c = node.podCIDRs.find((p) => p.family === family);
    if (!c) throw new QueryError('source', `origin pod needs a source or an IPv${family} node.podCIDRs entry`);
    src = podDefaultSource(c);
  } else if (isLoopback(dst)) {
    src = family === 4 ? parseAddr('127.0.0.1')! : parseAddr('::1')!;
  } else {
    const a = firstNodeAddress(node, family);
    if (!a) throw new QueryError('source', `origin host needs a source or an IPv${family} node.addresses entry`);
    src = a;
  }

  const ported = protocol !== 'icmp';
  let dport = 0;
  let sport = 0;
  if (ported) {
    if (q.port === undefined) throw new QueryError('port', `is required for protocol ${protocol}`);
    dport = intField('port', q.port, 0, 65535);
    sport = q.sourcePort === undefined ? DEFAULT_SOURCE_PORT : intField('sourcePort', q.sourcePort, 0, 65535);
  } else if (q.port !== undefined || q.sourcePort !== undefined) {
    throw new QueryError(q.port !== undefined ? 'port' : 'sourcePort', 'icmp has no ports');
  }
  const icmpType = ported ? 0 : q.icmpType === undefined ? (family === 4 ? 8 : 128) : intField('icmpType', q.icmpType, 0, 255);
  const icmpCode = ported ? 0 : q.icmpCode === undefined ? 0 : intField('icmpCode', q.icmpCode, 0, 255);
  const proto = protocol === 'tcp' ? PROTO.tcp : protocol === 'udp' ? PROTO.udp : protocol === 'sctp' ? PROTO.sctp : family === 4 ? PROTO.icmp : PROTO.icmpv6;

  const inIface =
    q.inInterface !== undefined ? userIface('inInterface', q.inInterface) : origin === 'external' ? node.uplink : origin === 'pod' ? node.pods : null;
  const outIface = q.outInterface !== undefined ? userIface('outInterface', q.outInterface) : null;
  const mark = q.mark === undefined ? 0 : intField('mark', q.mark, 0, 0xffffffff);
  const connmark = q.connmark === undefined ? 0 : intField('connmark', q.connmark, 0, 0xffffffff);
  const state = q.state ?? 'NEW';
  if (!Object.hasOwn(STATES, state)) throw new QueryError('state', 'must be one of NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED');

  const recent: WalkPacket['recent'] = new Map();
  (q.recent ?? []).forEach((r, i) => {
    const field = `recent[${i}]`;
    if (r === null || typeof r !== 'object' || typeof r.name !== 'string' || r.name.length === 0) {
      throw new QueryError(`${field}.name`, 'a recent list name is required');
    }
    const a = userAddr(`${field}.address`, r.address);
    const secondsAgo = r.secondsAgo === undefined ? 0 : intField(`${field}.secondsAgo`, r.secondsAgo, 0, 0x7fffffff);
    const hits = r.hits === undefined ? 1 : intField(`${field}.hits`, r.hits, 1, 0x7fffffff);
    let list = recent.get(r.name);
    if (!list) recent.set(r.name, (list = new Map()));
    list.set(addrKey(a), { secondsAgo, hits });
  });
  const activeConnections = new Map<string, number>();
  for (const [k, v] of Object.entries(q.activeConnections ?? {})) {
    activeConnections.set(k, intField(`activeConnections.${k}`, v, 0, 0x7fffffff));
  }

  if (origin !== 'host' && isLoopback(dst)) {
    warnings.push(
      `a packet from outside the node to ${formatAddr(dst)} is a martian: the kernel drops it unless route_localnet is set (not modelled)`,
    );
  }
  if (origin === 'pod' && q.source !== undefined && node.podCIDRs.length > 0 && !node.podCIDRs.some((c) => cidrContains(c, src))) {
    warnings.push(`source ${formatAddr(src)} is not in any pod CIDR (${node.podCIDRs.map(formatCidr).join(', ')})`);
  }

  const pkt: WalkPacket = {
    family,
    proto,
    src,
    dst,
    sport,
    dport,
    icmpType,
    icmpCode,
    origin,
    inIface,
    outIface,
    mark,
    connmark,
    ctstate: STATES[state],
    recent,
    activeConnections,
  };
  const query: ResolvedQuery = {
    protocol,
    family,
    destination: formatAddr(dst),
    source: formatAddr(src),
    origin,
    inInterface: inIface ? formatIface(inIface) : null,
    outInterface: outIface ? formatIface(outIface) : null,
    mark,
    connmark,
    state,
  };
  if (ported) {
    query.port = dport;
    query.sourcePort = sport;
  } else {
    query.icmpType = icmpType;
    query.icmpCode = icmpCode;
  }
  return { pkt, query, warnings };
}
