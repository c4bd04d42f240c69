// Stateless match evaluation for the reference walk (SEMANTICS.md "Matches"). Decisions
// (statistic) and stateful matches (recent) live in the walker; everything here is a pure
// function of the packet as it stands at this rule. A result is true/false, or a string: the
// reason the condition cannot be decided (the walker turns it into an uncertain decision).

import type { Addr, Cidr } from '../model/addr.js';
import { addrCompare, cidrContains } from '../model/addr.js';
import type { Match, PortRange } from '../model/rule.js';
import { ADDRTYPE, CT, PROTO } from '../model/rule.js';
import type { Iface, NodeContext, Ruleset } from '../model/ruleset.js';
import type { Origin } from '../model/contracts.js';
import { setMatch } from './ipset-match.js';
import { isNodeLocal } from './packet.js';

/** A match outcome: decided, or the reason it cannot be. */
export type MatchResult = boolean | string;

/** The packet as a rule sees it mid-walk. */
export interface PacketView {
  readonly rs: Ruleset;
  readonly family: 4 | 6;
  readonly proto: number;
  readonly origin: Origin;
  src: Addr;
  dst: Addr;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  mark: number;
  connmark: number;
  ctstate: number;
  /** Tuple before NAT (conntrack's original direction). */
  origSrc: Addr;
  origDst: Addr;
  origSport: number;
  origDport: number;
  inIface: Iface | null;
  /** null where the hook has no output interface (PREROUTING, INPUT). */
  outIface: Iface | null;
  /** Index of the IPVS virtual service that handled the packet, or -1. */
  ipvsService: number;
  /** Records a warning-class note once per walk. */
  note(text: string): void;
}

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

function inRange(p: number, r: PortRange): boolean {
  return p >= r.lo && p <= r.hi;
}

function inv(invert: boolean, r: MatchResult): MatchResult {
  return typeof r === 'string' ? r : r !== invert;
}

/**
 * -i/-o against the packet's interface. A packet interface known only as a prefix (`eni+`) is
 * decided when the answer is the same for every name with that prefix, else uncertain.
 */
export function ifaceMatch(pattern: { name: string; prefix: boolean }, have: Iface | null): MatchResult {
  if (!have) return false;
  if (!have.prefix) return pattern.prefix ? have.name.startsWith(pattern.name) : have.name === pattern.name;
  if (pattern.prefix && have.name.startsWith(pattern.name)) return true;
  const overlap = pattern.name.startsWith(have.name) || (pattern.prefix && have.name.startsWith(pattern.name));
  return overlap ? `interface ${have.name}+ may or may not be ${pattern.name}${pattern.prefix ? '+' : ''}` : false;
}

/** The kernel's address type for addrtype (one RTN_* type per address). */
export function addrTypeOf(node: NodeContext, a: Addr): number {
  if (isNodeLocal(node, a)) return ADDRTYPE.LOCAL;
  if (a.family === 4) {
    if (a.w[0] === 0xffffffff) return ADDRTYPE.BROADCAST;
    if (a.w[0] >>> 28 === 0xe) return ADDRTYPE.MULTICAST;
    return ADDRTYPE.UNICAST;
  }
  if (a.w[0] >>> 24 === 0xff) return ADDRTYPE.MULTICAST;
  return ADDRTYPE.UNICAST;
}

function addrtypeSide(p: PacketView, a: Addr, side: { invert: boolean; types: number }, limited: boolean): MatchResult {
  const t = addrTypeOf(p.rs.node, a);
  // With --limit-iface-* the kernel asks whether the address is local to that one interface;
  // which node address sits on which interface is not known.
  if (limited && t === ADDRTYPE.LOCAL) return 'addrtype --limit-iface: which interface holds the local address is not known';
  return ((t & side.types) !== 0) !== side.invert;
}

function ctTuple(p: PacketView, field: 'origsrc' | 'origdst' | 'replsrc' | 'repldst'): { a: Addr; port: number } {
  switch (field) {
    case 'origsrc':
      return { a: p.origSrc, port: p.origSport };
    case 'origdst':
      return { a: p.origDst, port: p.origDport };
    case 'replsrc':
      return { a: p.dst, port: p.dport };
    case 'repldst':
      return { a: p.src, port: p.sport };
  }
}

function ifaceName(i: Iface | null): string | null {
  return i ? i.name : null;
}

function ipvsMatch(p: PacketView, m: Extract<Match, { kind: 'ipvs' }>): MatchResult {
  if (m.unmodelled) return 'ipvs match option not modelled';
  const handled = p.ipvsService >= 0;
  const others = m.vaddr || m.vproto || m.vport || m.vdir;
  // xt_ipvs: --ipvs is tested first; a packet IPVS did not handle fails every other criterion.
  if (m.ipvs && handled === m.ipvs.invert) return false;
  if (!others) return true;
  if (!handled) return false;
  const vs = p.rs.ipvs!.services[p.ipvsService];
  if (m.vaddr) {
    const hit = vs.addr !== undefined && cidrContains(m.vaddr.cidr, vs.addr);
    if (hit === m.vaddr.invert) return false;
  }
  if (m.vproto) {
    const proto = vs.protocol === 'tcp' ? PROTO.tcp : vs.protocol === 'udp' ? PROTO.udp : vs.protocol === 'sctp' ? PROTO.sctp : p.proto;
    if ((proto === m.vproto.proto) === m.vproto.invert) return false;
  }
  if (m.vport && (vs.port === m.vport.port) === m.vport.invert) return false;
  if (m.vdir && !m.vdir.reply === m.vdir.invert) return false;
  return true;
}

function cidrHit(c: Cidr, a: Addr): boolean {
  return cidrContains(c, a);
}

/**
 * Evaluates one stateless match. statistic (random/nth) and recent are the walker's: calling this
 * with them is a programming error.
 */
export function evalMatch(p: PacketView, m: Match): MatchResult {
  switch (m.kind) {
    case 'src':
      return cidrHit(m.cidr, p.src) !== m.invert;
    case 'dst':
      return cidrHit(m.cidr, p.dst) !== m.invert;
    case 'proto':
      return (m.proto === 0 || m.proto === p.proto) !== m.invert;
    case 'inIface':
      return inv(m.invert, ifaceMatch(m, p.inIface));
    case 'outIface':
      return inv(m.invert, ifaceMatch(m, p.outIface));
    case 'fragment':
      return m.invert;
    case 'sport':
      return inRange(p.sport, m.range) !== m.invert;
    case 'dport':
      return inRange(p.dport, m.range) !== m.invert;
    case 'multiport': {
      let hit = false;
      for (const r of m.ports) {
        if ((m.dir !== 'dst' && inRange(p.sport, r)) || (m.dir !== 'src' && inRange(p.dport, r))) {
          hit = true;
          break;
        }
      }
      return hit !== m.invert;
    }
    case 'tcpFlags': {
      if (p.proto !== PROTO.tcp) return false;
      const flags = p.ctstate & CT.NEW ? TCP_SYN : TCP_ACK;
      return ((flags & m.mask) === m.comp) !== m.invert;
    }
    case 'icmpType': {
      const want = m.v6 ? PROTO.icmpv6 : PROTO.icmp;
      if (p.proto !== want) return false;
      const hit = m.type === -1 || (p.icmpType === m.type && (m.code === -1 || p.icmpCode === m.code));
      return hit !== m.invert;
    }
    case 'mark':
      return (((p.mark & m.mask) >>> 0) === m.value >>> 0) !== m.invert;
    case 'connmark':
      return (((p.connmark & m.mask) >>> 0) === m.value >>> 0) !== m.invert;
    case 'ctstate':
      return ((p.ctstate & m.states) !== 0) !== m.invert;
    case 'ctaddr':
      return cidrHit(m.cidr, ctTuple(p, m.field).a) !== m.invert;
    case 'ctport':
      return inRange(ctTuple(p, m.field).port, m.range) !== m.invert;
    case 'ctdir':
      return !m.reply !== m.invert; // landfall's packets travel in the ORIGINAL direction
    case 'ctproto':
      return (m.proto === p.proto) !== m.invert;
    case 'addrtype': {
      if (m.src) {
        const r = addrtypeSide(p, p.src, m.src, m.limitIfaceIn || m.limitIfaceOut);
        if (r !== true) return r;
      }
      if (m.dst) {
        const r = addrtypeSide(p, p.dst, m.dst, m.limitIfaceIn || m.limitIfaceOut);
        if (r !== true) return r;
      }
      return true;
    }
    case 'set': {
      const r = setMatch(p.rs.ipsets, m.name, m.dirs, {
        family: p.family,
        proto: p.proto,
        src: p.src,
        dst: p.dst,
        sport: p.sport,
        dport: p.dport,
        inIface: ifaceName(p.inIface),
        outIface: ifaceName(p.outIface),
        icmpType: p.icmpType,
        icmpCode: p.icmpCode,
        mark: p.mark,
      }, { returnNomatch: m.returnNomatch });
      return r === null ? `ipset ${m.name} not supplied` : r !== m.invert;
    }
    case 'comment':
    case 'nfacct':
      return true;
    case 'iprange': {
      const a = m.dir === 'src' ? p.src : p.dst;
      const hit = a.family === m.lo.family && addrCompare(a, m.lo) >= 0 && addrCompare(a, m.hi) <= 0;
      return hit !== m.invert;
    }
    case 'physdev': {
      p.note('physdev: packets are modelled as routed, never bridged, so positive physdev tests are false');
      for (const c of [m.in, m.out, m.isIn, m.isOut, m.isBridged]) if (c && !c.invert) return false;
      return true;
    }
    case 'owner': {
      if (p.origin === 'host') return 'owner: the sending socket of a host packet is not known';
      for (const c of [m.uid, m.gid, m.socketExists]) if (c && !c.invert) return false;
      return true;
    }
    case 'limit':
      p.note(`${m.module}: rate limits are not modelled; assumed within the limit (${m.text})`);
      return true;
    case 'policy':
      if (m.unmodelled) return 'policy match option not modelled';
      return (m.pol === 'none') !== m.invert;
    case 'ipvs':
      return ipvsMatch(p, m);
    case 'unknown':
      return m.reason || `-m ${m.module} not modelled`;
    case 'random':
    case 'nth':
    case 'recent':
      throw new Error(`evalMatch: ${m.kind} is decided by the walker`);
  }
}

/**
 * The kernel checks the fixed IP header part of a rule (addresses, protocol, interfaces,
 * fragment) before any -m module, whatever order the dump printed; later modules are only reached
 * when earlier ones hold. Sorting once at engine creation keeps decisions (statistic, uncertain)
 * from being taken for packets the header part already rejects.
 */
export function kernelOrder(ms: Match[]): Match[] {
  let seenModule = false;
  let sorted = true;
  for (const m of ms) {
    if (isHeader(m)) {
      if (seenModule) {
        sorted = false;
        break;
      }
    } else seenModule = true;
  }
  // iptables-save already prints the header part first: keep the array, allocate nothing.
  if (sorted) return ms;
  return [...ms.filter(isHeader), ...ms.filter((m) => !isHeader(m))];
}

function isHeader(m: Match): boolean {
  return m.kind === 'src' || m.kind === 'dst' || m.kind === 'proto' || m.kind === 'inIface' || m.kind === 'outIface' || m.kind === 'fragment';
}
