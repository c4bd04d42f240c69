// Stateless match evaluation for the reference walk (SEMANTICS.md "Matches"). Decisions
// (statistic) and stateful matches (recent) live in the walker; everything here is a pure
// function of the packet as it stands at this rule, except for conditions the input does not
// settle: those ask the walker for the value of their variable (PacketView.unknown, assume.ts).

import type { Addr, Cidr } from '../model/addr.js';
import { addrCompare, cidrContains } from '../model/addr.js';
import type { Match, PortRange } from '../model/rule.js';
import { ADDRTYPE, CT, PROTO } from '../model/rule.js';
import type { Iface, Ruleset } from '../model/ruleset.js';
import type { WalkPacket } from './types.js';
import { setMatch } from './ipset-match.js';
import { emptyKey, putAddr, putIface } from './assume.js';
import { ADDRTYPE_LIMIT_REASON, ipvsLabel, matchLabel, OWNER_HOST_REASON, ownerLabel, policyLabel, setLabel } from '../compile/labels.js';
import * as L from '../compile/layout.js';


/** A match outcome: decided, or the reason it cannot be (ifaceMatch only). */
export type MatchResult = boolean | string;

/** The packet as a rule sees it mid-walk. */
export interface PacketView {
  readonly rs: Ruleset;
  /** The packet as it stands at this rule (NAT, MARK, CONNMARK, CT and routing have changed it). */
  readonly pkt: WalkPacket;
  /** The packet as it entered the walk: conntrack's original-direction tuple. */
  readonly orig: WalkPacket;
  /** Index of the IPVS virtual service that handled the packet, or -1. */
  readonly ipvsService: number;
  /** Records a warning-class note once per walk. */
  note(text: string): void;
  /** Whether an address is the node's own (loopback, node addresses, routing; else an unknown condition). */
  isLocal(a: Addr): boolean;
  /**
   * The value of an unknown condition in this walk (assume.ts): decided on first meeting, reused
   * after. `reason` null: made from the key (assume.ts keyedReason).
   */
  unknown(kind: number, label: string, reason: string | null, key: number[]): boolean;
}

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

function inRange(p: number, r: PortRange): boolean {
  return p >= r.lo && p <= r.hi;
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
export function addrTypeOf(p: PacketView, a: Addr): number {
  if (p.isLocal(a)) return ADDRTYPE.LOCAL;
  if (a.family === 4) {
    if (a.w[0] === 0xffffffff) return ADDRTYPE.BROADCAST;
    if (a.w[0] >>> 28 === 0xe) return ADDRTYPE.MULTICAST;
    return ADDRTYPE.UNICAST;
  }
  if (a.w[0] >>> 24 === 0xff) return ADDRTYPE.MULTICAST;
  return ADDRTYPE.UNICAST;
}

function addrtypeSide(p: PacketView, a: Addr, side: { invert: boolean; types: number }, limit: Iface | null | undefined): boolean {
  let t = addrTypeOf(p, a);
  // With --limit-iface-* the kernel asks whether the address is local to that one interface;
  // which node address sits on which interface is not known.
  if (limit !== undefined && t === ADDRTYPE.LOCAL) {
    const key = emptyKey();
    putAddr(key, L.K_A, a);
    putIface(key, L.K_IFA, limit);
    if (!p.unknown(L.A_ADDRTYPE_LIMIT, '', ADDRTYPE_LIMIT_REASON, key)) t = ADDRTYPE.UNICAST;
  }
  return ((t & side.types) !== 0) !== side.invert;
}

/** The packet's fields as an unknown match's key (it may test any of them). */
function packetKey(p: PacketView): number[] {
  const key = emptyKey();
  putAddr(key, L.K_A, p.pkt.src);
  putAddr(key, L.K_B, p.pkt.dst);
  key[L.K_PA] = p.pkt.sport;
  key[L.K_PB] = p.pkt.dport;
  key[L.K_PROTO] = p.pkt.proto;
  key[L.K_MARK] = p.pkt.mark | 0;
  key[L.K_CONNMARK] = p.pkt.connmark | 0;
  key[L.K_CTSTATE] = p.pkt.ctstate;
  putIface(key, L.K_IFA, p.pkt.inIface);
  putIface(key, L.K_IFB, p.pkt.outIface);
  return key;
}

/** -i/-o with the packet interface known only as a prefix: an unknown condition. */
function ifaceTest(p: PacketView, m: { invert: boolean; name: string; prefix: boolean }, have: Iface | null): boolean {
  const r = ifaceMatch(m, have);
  if (typeof r !== 'string') return r !== m.invert;
  const key = emptyKey();
  putIface(key, L.K_IFA, m);
  putIface(key, L.K_IFB, have);
  return p.unknown(L.A_IFACE, '', null, key) !== m.invert;
}

function ctTuple(p: PacketView, field: 'origsrc' | 'origdst' | 'replsrc' | 'repldst'): { a: Addr; port: number } {
  switch (field) {
    case 'origsrc':
      return { a: p.orig.src, port: p.orig.sport };
    case 'origdst':
      return { a: p.orig.dst, port: p.orig.dport };
    case 'replsrc':
      return { a: p.pkt.dst, port: p.pkt.dport };
    case 'repldst':
      return { a: p.pkt.src, port: p.pkt.sport };
  }
}

function ipvsMatch(p: PacketView, m: Extract<Match, { kind: 'ipvs' }>, line: number): boolean {
  if (m.unmodelled) return p.unknown(L.A_MATCH, ipvsLabel(line), 'ipvs match option not modelled', packetKey(p));
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
    const proto = vs.protocol === 'tcp' ? PROTO.tcp : vs.protocol === 'udp' ? PROTO.udp : vs.protocol === 'sctp' ? PROTO.sctp : p.pkt.proto;
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
export function evalMatch(p: PacketView, m: Match, line: number): boolean {
  switch (m.kind) {
    case 'nfproto':
      return (p.pkt.family === m.family) !== m.invert;
    case 'src':
      return cidrHit(m.cidr, p.pkt.src) !== m.invert;
    case 'dst':
      return cidrHit(m.cidr, p.pkt.dst) !== m.invert;
    case 'proto':
      return (m.proto === 0 || m.proto === p.pkt.proto) !== m.invert;
    case 'inIface':
      return ifaceTest(p, m, p.pkt.inIface);
    case 'outIface':
      return ifaceTest(p, m, p.pkt.outIface);
    case 'fragment':
      return m.invert;
    case 'sport':
      return inRange(p.pkt.sport, m.range) !== m.invert;
    case 'dport':
      return inRange(p.pkt.dport, m.range) !== m.invert;
    case 'multiport': {
      let hit = false;
      for (const r of m.ports) {
        if ((m.dir !== 'dst' && inRange(p.pkt.sport, r)) || (m.dir !== 'src' && inRange(p.pkt.dport, r))) {
          hit = true;
          break;
        }
      }
      return hit !== m.invert;
    }
    case 'tcpFlags': {
      if (p.pkt.proto !== PROTO.tcp) return false;
      const flags = p.pkt.ctstate & CT.NEW ? TCP_SYN : TCP_ACK;
      return ((flags & m.mask) === m.comp) !== m.invert;
    }
    case 'icmpType': {
      const want = m.v6 ? PROTO.icmpv6 : PROTO.icmp;
      if (p.pkt.proto !== want) return false;
      const hit = m.type === -1 || (p.pkt.icmpType === m.type && (m.code === -1 || p.pkt.icmpCode === m.code));
      return hit !== m.invert;
    }
    case 'mark':
      return (((p.pkt.mark & m.mask) >>> 0) === m.value >>> 0) !== m.invert;
    case 'connmark':
      return (((p.pkt.connmark & m.mask) >>> 0) === m.value >>> 0) !== m.invert;
    case 'ctstate':
      return ((p.pkt.ctstate & m.states) !== 0) !== m.invert;
    case 'ctaddr':
      return cidrHit(m.cidr, ctTuple(p, m.field).a) !== m.invert;
    case 'ctport':
      return inRange(ctTuple(p, m.field).port, m.range) !== m.invert;
    case 'ctdir':
      return !m.reply !== m.invert; // landfall's packets travel in the ORIGINAL direction
    case 'ctproto':
      return (m.proto === p.pkt.proto) !== m.invert;
    case 'addrtype': {
      // --limit-iface-in/out: local to that interface (the input one wins when both are given, as xt_addrtype)
      const limit = m.limitIfaceIn ? p.pkt.inIface : m.limitIfaceOut ? p.pkt.outIface : undefined;
      if (m.src && !addrtypeSide(p, p.pkt.src, m.src, limit)) return false;
      if (m.dst && !addrtypeSide(p, p.pkt.dst, m.dst, limit)) return false;
      return true;
    }
    case 'set': {
      const r = setMatch(p.rs.ipsets, m.name, m.dirs, p.pkt, { returnNomatch: m.returnNomatch });
      if (r !== null) return r !== m.invert;
      const src = m.dirs.includes('src');
      const dst = m.dirs.includes('dst');
      const key = emptyKey();
      if (src) {
        putAddr(key, L.K_A, p.pkt.src);
        key[L.K_PA] = p.pkt.sport;
      }
      if (dst) {
        putAddr(key, L.K_B, p.pkt.dst);
        key[L.K_PB] = p.pkt.dport;
      }
      key[L.K_PROTO] = p.pkt.proto;
      key[L.K_MARK] = p.pkt.mark | 0;
      if (m.dirs.length > 1) {
        putIface(key, L.K_IFA, p.pkt.inIface);
        putIface(key, L.K_IFB, p.pkt.outIface);
      }
      return p.unknown(L.A_SET, setLabel(m.name, m.dirs, m.returnNomatch), `ipset ${m.name} not supplied`, key) !== m.invert;
    }
    case 'comment':
    case 'nfacct':
      return true;
    case 'iprange': {
      const a = m.dir === 'src' ? p.pkt.src : p.pkt.dst;
      const hit = a.family === m.lo.family && addrCompare(a, m.lo) >= 0 && addrCompare(a, m.hi) <= 0;
      return hit !== m.invert;
    }
    case 'physdev': {
      p.note('physdev: packets are modelled as routed, never bridged, so positive physdev tests are false');
      for (const c of [m.in, m.out, m.isIn, m.isOut, m.isBridged]) if (c && !c.invert) return false;
      return true;
    }
    case 'owner': {
      if (p.pkt.origin === 'host') return p.unknown(L.A_OWNER, ownerLabel(m), OWNER_HOST_REASON, emptyKey());
      for (const c of [m.uid, m.gid, m.socketExists]) if (c && !c.invert) return false;
      return true;
    }
    case 'limit':
      p.note(`${m.module}: rate limits are not modelled; assumed within the limit (${m.text})`);
      return true;
    case 'policy':
      if (m.unmodelled) return p.unknown(L.A_MATCH, policyLabel(m, line), 'policy match option not modelled', packetKey(p));
      return (m.pol === 'none') !== m.invert;
    case 'ipvs':
      return ipvsMatch(p, m, line);
    case 'unknown':
      return p.unknown(L.A_MATCH, matchLabel(m.module, m.text), m.reason || `-m ${m.module} not modelled`, packetKey(p));
    case 'random':
    case 'nth':
    case 'recent':
      throw new Error(`evalMatch: ${m.kind} is decided by the walker`);
  }
}

