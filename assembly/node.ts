// The node context (layout N_*): which addresses are node-local, the pod CIDRs, the uplink and
// pods interfaces, and the address MASQUERADE/REDIRECT use. Mirrors src/engine/packet.ts.

import * as L from '../src/compile/layout';
import { rw, rsAddr } from './mem';
import * as S from './state';
import { setHash } from './ipset';
import { clearKey, keyAddr, unknown } from './assume';
import { hasRoutes, inLocalRoute, linkIface, lookup, LOOKUP_NONE, routeDev, routeGateway, routeType } from './routing';

/** Why the last route() gave no interface (src/compile/routing.ts ROUTE_FAIL). */
let routeFail: i32 = 0;
export function routeFailCode(): i32 { return routeFail; }

/** The `lo` interface block (comes-back-in path of host packets). */
export const LO_IFACE: usize = memory.data<i32>([2 | L.IF_PRESENT_BIT, 0x6f6c, 0, 0, 0, 0]); // "lo", little-endian bytes
/** 127.0.0.1 and ::1 as 4-word blocks. */
const LOOP4: usize = memory.data<i32>([0x7f000001, 0, 0, 0]);
const LOOP6: usize = memory.data<i32>([0, 0, 0, 1]);

@inline function node(): i32 {
  return rw(L.H_NODE);
}

export function isLoopback(a: usize): bool {
  if (S.family == 4) return (<u32>load<i32>(a)) >>> 24 == 127;
  return load<i32>(a) == 0 && load<i32>(a, 4) == 0 && load<i32>(a, 8) == 0 && load<i32>(a, 12) == 1;
}

const NKEY: usize = memory.data(5 * 4);

/** Loopback or one of the node's addresses (of the packet's family): a probe of the node-address hash. */
export function isNodeLocal(a: usize): bool {
  if (isLoopback(a)) return true;
  store<i32>(NKEY, S.family);
  for (let k = 0; k < 4; k++) store<i32>(NKEY + 4 + (<usize>k << 2), load<i32>(a + (<usize>k << 2)));
  const table = rw(L.H_NODEHASH);
  const mask = rw(L.H_NODEMASK);
  let s = <i32>(setHash(NKEY, 5) & <u32>mask);
  for (;;) {
    const e = table + s * L.NODEHASH_SLOT;
    const f = rw(e);
    if (f == 0) return false;
    if (f == S.family && rw(e + 1) == load<i32>(NKEY, 4) && rw(e + 2) == load<i32>(NKEY, 8) && rw(e + 3) == load<i32>(NKEY, 12) && rw(e + 4) == load<i32>(NKEY, 16)) return true;
    s = (s + 1) & mask;
  }
  return false;
}

/**
 * src/engine/packet.ts nodeLocality + the walker's isLocal: what the input settles, the packet's
 * own original source, else an unknown condition asked by `rule` (-1: the routing decision).
 */
export function isLocal(rule: i32, a: usize): bool {
  if (isNodeLocal(a) || inLocalRoute(a)) return true;
  if ((rw(L.H_NODEFLAGS) & L.NF_ADDRS_KNOWN) != 0) return false;
  const w0 = <u32>load<i32>(a);
  if (S.family == 4 ? w0 == 0xffffffff || w0 >>> 28 == 0xe : w0 >>> 24 == 0xff) return false;
  if (inPodRange(a)) return false;
  let same = true;
  for (let k = 0; k < 4; k++) if (load<i32>(a + (<usize>k << 2)) != load<i32>(S.OSRC + (<usize>k << 2))) same = false;
  if (same) return S.origin == L.ORIGIN_HOST;
  clearKey();
  keyAddr(L.K_A, a);
  return unknown(rule, L.A_LOCAL, -1, -1);
}

/** Inside a pod CIDR and not its network or gateway (network + 1) address: a pod's, not the node's. */
function inPodRange(a: usize): bool {
  const n = node();
  const base = n + L.N_ADDRS + rw(n + L.N_NADDR) * L.NADDR_WORDS;
  const count = rw(n + L.N_NCIDR);
  const last = S.family == 4 ? 0 : 3;
  for (let i = 0; i < count; i++) {
    const c = base + i * L.NCIDR_WORDS;
    if (rw(c) != S.family || !cidrHas(c, a)) continue;
    let same = true;
    for (let k = 0; k < 4; k++) if (k != last && load<i32>(a + (<usize>k << 2)) != rw(c + 1 + k)) same = false;
    const off = <u32>load<i32>(a + (<usize>last << 2)) - <u32>rw(c + 1 + last);
    if (!(same && off <= 1)) return true;
  }
  return false;
}

function inPodCidr(a: usize): bool {
  const n = node();
  const base = n + L.N_ADDRS + rw(n + L.N_NADDR) * L.NADDR_WORDS;
  const count = rw(n + L.N_NCIDR);
  for (let i = 0; i < count; i++) {
    const c = base + i * L.NCIDR_WORDS;
    if (rw(c) != S.family) continue;
    let hit = true;
    for (let k = 0; k < 4; k++) {
      if ((load<i32>(a + (<usize>k << 2)) & rw(c + 5 + k)) != rw(c + 1 + k)) {
        hit = false;
        break;
      }
    }
    if (hit) return true;
  }
  return false;
}

export function uplinkIface(): usize {
  return rsAddr(node() + L.N_UPLINK);
}

export function podsIface(): usize {
  return rsAddr(node() + L.N_PODS);
}

/**
 * The outgoing interface for the current destination (src/engine/reference-walk.ts route()):
 * override, lo, the node's routes when given (0 when they give no usable route: routeFailCode()
 * says why, a note is recorded), else pods, uplink.
 */
export function route(given: usize): usize {
  S.setHasNh(false);
  if (given != 0) return given;
  const dst = S.routeDst();
  if (isLocal(-1, dst)) return LO_IFACE;
  if (hasRoutes()) {
    const iif = S.inIf != 0 && (load<i32>(S.inIf) & L.IF_PRESENT_BIT) != 0 ? S.inIf : LO_IFACE;
    const r = lookup(dst, iif);
    let fail = 0;
    if (r >= 0) {
      const t = routeType(r);
      if (t == L.RTYPE_LOCAL || t == L.RTYPE_BROADCAST || t == L.RTYPE_ANYCAST) return LO_IFACE;
      if (t == L.RTYPE_BLACKHOLE) fail = 1;
      else if (t == L.RTYPE_UNREACHABLE) fail = 2;
      else if (t == L.RTYPE_PROHIBIT) fail = 3;
      else if (routeDev(r) < 0) fail = 4;
      else {
        const gw = routeGateway(r);
        const nh = gw != 0 ? gw : dst;
        for (let k = 0; k < 4; k++) store<i32>(S.NH + (<usize>k << 2), load<i32>(nh + (<usize>k << 2)));
        S.setHasNh(true);
        return linkIface(routeDev(r));
      }
    } else if (r != LOOKUP_NONE) {
      const a = -2 - r;
      fail = a == L.PRA_BLACKHOLE ? 1 : a == L.PRA_PROHIBIT ? 3 : 2;
    }
    routeFail = fail;
    S.pushNote(L.NOTE_ROUTE, fail, 0, dst);
    return 0;
  }
  if (inPodCidr(dst)) return podsIface();
  return uplinkIface();
}

/** 127.0.0.1 / ::1 for the packet's family. */
export function loopbackAddr(): usize {
  return S.family == 4 ? LOOP4 : LOOP6;
}

/** The first non-loopback node address of the packet's family, 0 when there is none. */
export function firstNodeAddress(): usize {
  const n = node();
  const i = rw(n + (S.family == 4 ? L.N_FIRST4 : L.N_FIRST6));
  if (i < 0) return 0;
  return rsAddr(n + L.N_ADDRS + i * L.NADDR_WORDS + 1);
}

const GW: usize = memory.data(16);

/** Whether pod CIDR record `c` contains the address at `a`. */
function cidrHas(c: i32, a: usize): bool {
  for (let k = 0; k < 4; k++) {
    if ((load<i32>(a + (<usize>k << 2)) & rw(c + 5 + k)) != rw(c + 1 + k)) return false;
  }
  return true;
}

/** src/engine/packet.ts podGatewayFor: network + 1 of the family's pod CIDR holding `a` (else its first); 0 none. */
export function podGateway(a: usize): usize {
  const n = node();
  const base = n + L.N_ADDRS + rw(n + L.N_NADDR) * L.NADDR_WORDS;
  const count = rw(n + L.N_NCIDR);
  let pick = -1;
  for (let i = 0; i < count; i++) {
    const c = base + i * L.NCIDR_WORDS;
    if (rw(c) != S.family) continue;
    if (cidrHas(c, a)) {
      pick = c;
      break;
    }
    if (pick < 0) pick = c;
  }
  if (pick < 0) return 0;
  for (let k = 0; k < 4; k++) store<i32>(GW + (<usize>k << 2), rw(pick + 1 + k));
  for (let k = S.family == 4 ? 0 : 3; k >= 0; k--) {
    const at = GW + (<usize>k << 2);
    const v = load<u32>(at) + 1;
    store<u32>(at, v);
    if (v != 0) break;
  }
  return GW;
}

/** Whether the interface block at `have` is the pods interface by exact name (neither side a `+` prefix). */
export function onPodsExact(have: usize): bool {
  if (have == 0) return false;
  const p = podsIface();
  const pm = load<i32>(p);
  const hm = load<i32>(have);
  if ((pm & L.IF_PRESENT_BIT) == 0 || (hm & L.IF_PRESENT_BIT) == 0) return false;
  if ((pm & L.IF_PREFIX_BIT) != 0 || (hm & L.IF_PREFIX_BIT) != 0) return false;
  if ((pm & 0xff) != (hm & 0xff)) return false;
  for (let k = 1; k < 5; k++) if (load<i32>(p + (<usize>k << 2)) != load<i32>(have + (<usize>k << 2))) return false;
  return true;
}
