// Match ops (layout.ts M_*), evaluated in the order the compiler wrote them, which is the
// kernel's order the reference walk uses (src/engine/matches.ts kernelOrder). Each op answers
// MATCH, NO_MATCH or HOST (the packet needs a host-side feature); conditions the input does not
// settle are variables (assembly/assume.ts), keyed exactly like the reference's (src/engine/matches.ts).

import * as L from '../src/compile/layout';
import { rw, rsAddr } from './mem';
import * as S from './state';
import { isLocal } from './node';
import { clearKey, keyAddr, keyIface, keyPut, unknown } from './assume';
import { recentMatch } from './recent';
import { setTest } from './ipset';
// conntrack and addrtype bits: the one definition (src/model/kernel-bits.ts)
import { ADDRTYPE_BROADCAST as AT_BROADCAST, ADDRTYPE_LOCAL as AT_LOCAL, ADDRTYPE_MULTICAST as AT_MULTICAST, ADDRTYPE_UNICAST as AT_UNICAST, CT_NEW } from '../src/model/kernel-bits';

export const NO_MATCH: i32 = 0;
export const MATCH: i32 = 1;
export const HOST: i32 = 2;

const TCP_SYN: i32 = 0x02;
const TCP_ACK: i32 = 0x10;
const TWO31: f64 = 2147483648.0;


@inline function inPortRange(p: i32, packed: i32): bool {
  return p >= (packed & 0xffff) && p <= (<i32>(<u32>packed >>> 16));
}

/** (addr & mask) == want over the family's words; `addr` is a 4-word block in memory. */
@inline function cidr4(addr: usize, want: i32, mask: i32): bool {
  return (load<i32>(addr) & mask) == want;
}

function cidr6(addr: usize, op: i32): bool {
  for (let k = 0; k < 4; k++) {
    if ((load<i32>(addr + (<usize>k << 2)) & rw(op + 5 + k)) != rw(op + 1 + k)) return false;
  }
  return true;
}

// ---- interfaces ----

/** Does name `a` (IFACE block at byte address) start with name `b`'s bytes? */
function startsWith(a: usize, b: usize): bool {
  const la = load<i32>(a) & 0xff;
  const lb = load<i32>(b) & 0xff;
  if (lb > la) return false;
  for (let i = 0; i < lb; i++) {
    if (load<u8>(a + 4 + i) != load<u8>(b + 4 + i)) return false;
  }
  return true;
}

function sameName(a: usize, b: usize): bool {
  return (load<i32>(a) & 0xff) == (load<i32>(b) & 0xff) && startsWith(a, b);
}

/** ifaceMatch() of the reference: 1 match, 0 no match, -1 undecidable (packet iface known as a prefix). */
function ifaceMatch(pat: usize, have: usize): i32 {
  if (have == 0 || (load<i32>(have) & L.IF_PRESENT_BIT) == 0) return 0;
  const patPrefix = (load<i32>(pat) & L.IF_PREFIX_BIT) != 0;
  if ((load<i32>(have) & L.IF_PREFIX_BIT) == 0) {
    return (patPrefix ? startsWith(have, pat) : sameName(have, pat)) ? 1 : 0;
  }
  if (patPrefix && startsWith(have, pat)) return 1;
  return startsWith(pat, have) ? -1 : 0;
}

// ---- addrtype ----

function addrTypeOf(rule: i32, a: usize): i32 {
  if (isLocal(rule, a)) return AT_LOCAL;
  const w0 = <u32>load<i32>(a);
  if (S.family == 4) {
    if (w0 == 0xffffffff) return AT_BROADCAST;
    if (w0 >>> 28 == 0xe) return AT_MULTICAST;
    return AT_UNICAST;
  }
  if (w0 >>> 24 == 0xff) return AT_MULTICAST;
  return AT_UNICAST;
}

/** One side of addrtype; `limit` is the --limit-iface interface block (0: none). */
function addrtypeSide(rule: i32, a: usize, types: i32, invert: bool, limited: bool, limit: usize, reason: i32): bool {
  let t = addrTypeOf(rule, a);
  if (limited && t == AT_LOCAL) {
    clearKey();
    keyAddr(L.K_A, a);
    keyIface(L.K_IFA, limit);
    if (!unknown(rule, L.A_ADDRTYPE_LIMIT, -1, reason)) t = AT_UNICAST;
  }
  return ((t & types) != 0) != invert;
}

/** The packet's fields as an unknown match's key (src/engine/matches.ts packetKey). */
function packetKey(): void {
  clearKey();
  keyAddr(L.K_A, S.SRC);
  keyAddr(L.K_B, S.DST);
  keyPut(L.K_PA, S.sport);
  keyPut(L.K_PB, S.dport);
  keyPut(L.K_PROTO, S.proto);
  keyPut(L.K_MARK, <i32>S.mark);
  keyPut(L.K_CONNMARK, <i32>S.connmark);
  keyPut(L.K_CTSTATE, S.ctstate);
  keyIface(L.K_IFA, S.inIf);
  keyIface(L.K_IFB, S.outIf);
}

/** A set test the input cannot decide (src/engine/matches.ts, case 'set'). */
function setUnknown(rule: i32, op: i32): bool {
  const dirs = rw(op + 2);
  const n = rw(op + 3);
  let src = false;
  let dst = false;
  for (let i = 0; i < n; i++) {
    if (i < 31 && ((dirs >>> i) & 1) != 0) dst = true;
    else src = true;
  }
  clearKey();
  if (src) {
    keyAddr(L.K_A, S.SRC);
    keyPut(L.K_PA, S.sport);
  }
  if (dst) {
    keyAddr(L.K_B, S.DST);
    keyPut(L.K_PB, S.dport);
  }
  keyPut(L.K_PROTO, S.proto);
  keyPut(L.K_MARK, <i32>S.mark);
  if (n > 1) {
    keyIface(L.K_IFA, S.inIf);
    keyIface(L.K_IFB, S.outIf);
  }
  return unknown(rule, L.A_SET, rw(op + 6), rw(op + 5));
}

@inline function bool2(b: bool): i32 {
  return b ? MATCH : NO_MATCH;
}

/** Conntrack tuple field (0 origsrc 1 origdst 2 replsrc 3 repldst) → address block. */
@inline function ctAddr(field: i32): usize {
  return field == 0 ? S.OSRC : field == 1 ? S.ODST : field == 2 ? S.DST : S.SRC;
}

@inline function ctPort(field: i32): i32 {
  return field == 0 ? S.osport : field == 1 ? S.odport : field == 2 ? S.dport : S.sport;
}

/** Unsigned word-wise compare of two 4-word addresses. */
function cmp4(a: usize, b: usize): i32 {
  for (let k = 0; k < 4; k++) {
    const x = <u32>load<i32>(a + (<usize>k << 2));
    const y = <u32>load<i32>(b + (<usize>k << 2));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** xt_ipvs against the virtual service the IPVS stage chose (src/engine/matches.ts ipvsMatch). */
function ipvsMatch(op: i32): i32 {
  const f = rw(op + 1);
  const handled = S.ipvsSvc >= 0;
  if ((f & L.IPM_IPVS) != 0 && handled == ((f & L.IPM_IPVS_INV) != 0)) return NO_MATCH;
  if ((f & (L.IPM_VADDR | L.IPM_VPROTO | L.IPM_VPORT | L.IPM_VDIR)) == 0) return MATCH;
  if (!handled) return NO_MATCH;
  const vs = rw(rw(L.H_IPVS) + L.IV_SVCS) + S.ipvsSvc * L.VS_WORDS;
  if ((f & L.IPM_VADDR) != 0) {
    const fam = rw(op + 2);
    let hit = rw(vs + L.VS_FAMILY) == fam;
    for (let k = 0; hit && k < (fam == 4 ? 1 : 4); k++) {
      if ((rw(vs + L.VS_ADDR + k) & rw(op + 7 + k)) != rw(op + 3 + k)) hit = false;
    }
    if (hit == ((f & L.IPM_VADDR_INV) != 0)) return NO_MATCH;
  }
  if ((f & L.IPM_VPROTO) != 0) {
    const p = rw(vs + L.VS_PROTO);
    const proto = p >= 0 ? p : S.proto;
    if ((proto == rw(op + 11)) == ((f & L.IPM_VPROTO_INV) != 0)) return NO_MATCH;
  }
  if ((f & L.IPM_VPORT) != 0 && (rw(vs + L.VS_PORT) == rw(op + 12)) == ((f & L.IPM_VPORT_INV) != 0)) return NO_MATCH;
  if ((f & L.IPM_VDIR) != 0 && ((f & L.IPM_VDIR_REPLY) == 0) == ((f & L.IPM_VDIR_INV) != 0)) return NO_MATCH;
  return MATCH;
}

/** A sampled walk's `statistic --mode random` draw: a fresh draw every time, as the kernel's 31-bit test. */
@inline export function drawRandom(threshold: u32): bool {
  return (S.nextRandom() & 0x7fffffff) < threshold;
}

/**
 * Evaluates op at word offset `op` of rule `rule`: every kind but the ones most rules are made of
 * (IPv4 src/dst, protocol, dport, ctstate, mark), which matchRule tests itself without a call.
 */
function evalOp(rule: i32, op: i32, nthCounters: usize): i32 {
  const h = rw(op);
  const kind = h & 0xff;
  const inv = (h & L.OP_INV_BIT) != 0;
  switch (kind) {
    // An address of the other family never matches (an nft inet table walks both families).
    case L.M_SRC6:
      return bool2((S.family == 6 && cidr6(S.SRC, op)) != inv);
    case L.M_DST6:
      return bool2((S.family == 6 && cidr6(S.DST, op)) != inv);
    case L.M_NFPROTO:
      return bool2((S.family == rw(op + 1)) != inv);
    case L.M_IN_IFACE:
    case L.M_OUT_IFACE: {
      const have = kind == L.M_IN_IFACE ? S.inIf : S.outIf;
      const r = ifaceMatch(rsAddr(op + 1), have);
      if (r < 0) {
        clearKey();
        keyIface(L.K_IFA, rsAddr(op + 1));
        keyIface(L.K_IFB, have);
        return bool2(unknown(rule, L.A_IFACE, -1, -1) != inv);
      }
      return bool2((r == 1) != inv);
    }
    case L.M_FRAGMENT:
      return bool2(inv);
    case L.M_SPORT:
      return bool2(inPortRange(S.sport, rw(op + 1)) != inv);
    case L.M_MULTIPORT: {
      const dir = rw(op + 1);
      const n = rw(op + 2);
      let hit = false;
      for (let i = 0; i < n; i++) {
        const r = rw(op + 3 + i);
        if ((dir != 1 && inPortRange(S.sport, r)) || (dir != 0 && inPortRange(S.dport, r))) {
          hit = true;
          break;
        }
      }
      return bool2(hit != inv);
    }
    case L.M_TCPFLAGS: {
      if (S.proto != 6) return NO_MATCH;
      const flags = (S.ctstate & CT_NEW) != 0 ? TCP_SYN : TCP_ACK;
      return bool2(((flags & rw(op + 1)) == rw(op + 2)) != inv);
    }
    case L.M_ICMPTYPE: {
      const want = rw(op + 3) != 0 ? 58 : 1;
      if (S.proto != want) return NO_MATCH;
      const t = rw(op + 1);
      const c = rw(op + 2);
      const hit = t == -1 || (S.icmpType == t && (c == -1 || S.icmpCode == c));
      return bool2(hit != inv);
    }
    case L.M_CONNMARK:
      return bool2(((S.connmark & <u32>rw(op + 2)) == <u32>rw(op + 1)) != inv);
    case L.M_CTADDR: {
      const a = ctAddr(rw(op + 1));
      let hit = S.family == rw(op + 10);
      for (let k = 0; hit && k < 4; k++) {
        if ((load<i32>(a + (<usize>k << 2)) & rw(op + 6 + k)) != rw(op + 2 + k)) {
          hit = false;
          break;
        }
      }
      return bool2(hit != inv);
    }
    case L.M_CTPORT:
      return bool2(inPortRange(ctPort(rw(op + 1)), rw(op + 2)) != inv);
    case L.M_CTDIR:
      return bool2((rw(op + 1) == 0) != inv);
    case L.M_CTPROTO:
      return bool2((rw(op + 1) == S.proto) != inv);
    case L.M_ADDRTYPE: {
      const f = rw(op + 1);
      const limited = (f & (L.AT_LIMIT_IN | L.AT_LIMIT_OUT)) != 0;
      // the input interface wins when both limits are given (xt_addrtype)
      const limit = (f & L.AT_LIMIT_IN) != 0 ? S.inIf : (f & L.AT_LIMIT_OUT) != 0 ? S.outIf : 0;
      const reason = rw(op + 4);
      if ((f & L.AT_HAS_SRC) != 0 && !addrtypeSide(rule, S.SRC, rw(op + 2), (f & L.AT_SRC_INV) != 0, limited, limit, reason)) return NO_MATCH;
      if ((f & L.AT_HAS_DST) != 0 && !addrtypeSide(rule, S.DST, rw(op + 3), (f & L.AT_DST_INV) != 0, limited, limit, reason)) return NO_MATCH;
      return MATCH;
    }
    case L.M_RANDOM: {
      const threshold = <u32>rw(op + 1);
      let hit: bool;
      if (!S.recording) hit = drawRandom(threshold);
      else if (threshold == 0) hit = false;
      else if (threshold >= 0x80000000) hit = true;
      else hit = S.decide2(<f64>threshold / TWO31) == 0;
      return bool2(hit != inv);
    }
    case L.M_NTH: {
      const every = rw(op + 1);
      const packet = rw(op + 2);
      let hit: bool;
      if (!S.recording) {
        const slot = nthCounters + (<usize>rw(op + 3) << 2);
        const c = load<i32>(slot);
        hit = c == packet;
        store<i32>(slot, (c + 1) % every);
      } else if (every <= 1) hit = true;
      else hit = S.decide2(1.0 / <f64>every) == 0;
      return bool2(hit != inv);
    }
    case L.M_IPRANGE: {
      const a = rw(op + 1) == 0 ? S.SRC : S.DST;
      const hit = S.family == rw(op + 10) && cmp4(a, rsAddr(op + 2)) >= 0 && cmp4(a, rsAddr(op + 6)) <= 0;
      return bool2(hit != inv);
    }
    case L.M_PHYSDEV: {
      S.pushNote(L.NOTE_PHYSDEV, 0, 0, 0);
      const f = rw(op + 1);
      // a present, non-inverted test (bit pair 01) is false for a routed packet
      for (let i = 0; i < 5; i++) {
        if (((f >>> (2 * i)) & 3) == 1) return NO_MATCH;
      }
      return MATCH;
    }
    case L.M_OWNER:
      if (S.origin == L.ORIGIN_HOST) {
        clearKey();
        return bool2(unknown(rule, L.A_OWNER, rw(op + 2), rw(op + 3)));
      }
      return bool2(rw(op + 1) != 0);
    case L.M_LIMIT:
      S.pushNote(L.NOTE_STRING, rw(op + 1), 0, 0);
      return MATCH;
    case L.M_POLICY: {
      const mode = rw(op + 1);
      if (mode == L.POL_UNMODELLED) {
        packetKey();
        return bool2(unknown(rule, L.A_MATCH, rw(op + 3), rw(op + 2)));
      }
      return bool2((mode == L.POL_NONE) != inv);
    }
    case L.M_UNKNOWN:
      packetKey();
      return bool2(unknown(rule, L.A_MATCH, rw(op + 2), rw(op + 1)));
    case L.M_CONST:
      return bool2(rw(op + 1) != 0);
    case L.M_SET: {
      const r = rw(op + 1) < 0 ? -1 : setTest(rw(op + 1), rw(op + 2), rw(op + 3), rw(op + 4) != 0, 0);
      if (r < 0) return bool2(setUnknown(rule, op) != inv);
      return bool2((r == 1) != inv);
    }
    case L.M_IPVS:
      return ipvsMatch(op);
    case L.M_RECENT: {
      const r = recentMatch(rw(op + 1), rw(op + 2), rw(op + 3), rw(op + 4), rw(op + 5) == 0 ? S.SRC : S.DST, rsAddr(op + 6));
      if (r < 0) return HOST; // the table is full: the host walks this batch
      return bool2((r == 1) != inv);
    }
    default:
      return HOST;
  }
}

/** All n ops of a rule (the first at word `op`) in order, stopping at the first that fails. */
export function matchRule(rule: i32, op: i32, n: i32, nthCounters: usize): i32 {
  for (let i = 0; i < n; i++) {
    // The ops most rules are made of, tested here without a call (evalOp has every other kind).
    // An IPv4 address never matches a packet of the other family (an nft inet table walks both).
    const h = rw(op);
    const kind = h & 0xff;
    const inv = (h & L.OP_INV_BIT) != 0;
    let hit: bool;
    if (kind == L.M_DST4) hit = (S.family == 4 && cidr4(S.DST, rw(op + 1), rw(op + 2))) != inv;
    else if (kind == L.M_SRC4) hit = (S.family == 4 && cidr4(S.SRC, rw(op + 1), rw(op + 2))) != inv;
    else if (kind == L.M_PROTO) {
      const p = rw(op + 1);
      hit = (p == 0 || p == S.proto) != inv;
    } else if (kind == L.M_DPORT) hit = inPortRange(S.dport, rw(op + 1)) != inv;
    else if (kind == L.M_CTSTATE) hit = ((S.ctstate & rw(op + 1)) != 0) != inv;
    else if (kind == L.M_MARK) hit = ((S.mark & <u32>rw(op + 2)) == <u32>rw(op + 1)) != inv;
    else {
      const r = evalOp(rule, op, nthCounters);
      if (r != MATCH) return r;
      hit = true;
    }
    if (!hit) return NO_MATCH;
    op += <i32>(<u32>h >>> L.OP_LEN_SHIFT);
  }
  return MATCH;
}
