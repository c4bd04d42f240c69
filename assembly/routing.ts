// The routing decision over the node's own tables and MASQUERADE's source address: the
// AssemblyScript twin of src/engine/routing.ts (layout.ts RT_* block, written by
// src/compile/routing.ts).

import * as L from '../src/compile/layout';
import { rw, rsAddr } from './mem';
import * as S from './state';

export const LOOKUP_NONE: i32 = -1;
/** A terminal rule action: -(2 + PRA_*). */
export function actionCode(a: i32): i32 {
  return -2 - a;
}

@inline function block(): i32 {
  return rw(L.H_ROUTING);
}

export function hasRoutes(): bool {
  const b = block();
  return b != 0 && (rw(b + L.RT_FLAGS) & L.RTF_ROUTES) != 0;
}

export function hasAddrs(): bool {
  const b = block();
  return b != 0 && (rw(b + L.RT_FLAGS) & L.RTF_ADDRS) != 0;
}

/** (a & mask) == net over 4 words; a is a byte address, net/mask ruleset word offsets. */
function inNet(a: usize, net: i32, mask: i32): bool {
  for (let k = 0; k < 4; k++) {
    if ((load<i32>(a + (<usize>k << 2)) & rw(mask + k)) != rw(net + k)) return false;
  }
  return true;
}

/** Whether the names of interface blocks a (byte address) and b (byte address) are equal (prefix bits ignored). */
function sameName(a: usize, b: usize): bool {
  if ((load<i32>(a) & 0xff) != (load<i32>(b) & 0xff)) return false;
  for (let k = 1; k < 5; k++) if (load<i32>(a + (<usize>k << 2)) != load<i32>(b + (<usize>k << 2))) return false;
  return true;
}

function routeAt(i: i32): i32 {
  return rw(block() + L.RT_ROUTES) + i * L.RO_WORDS;
}

/** Longest prefix match in one table: route index or -1 (src/engine/routing.ts tableLookup). */
function tableLookup(table: i32, dst: usize): i32 {
  const n = rw(block() + L.RT_NROUTES);
  let best = -1;
  for (let i = 0; i < n; i++) {
    const r = routeAt(i);
    if (rw(r + L.RO_TABLE) != table || rw(r + L.RO_FAMILY) != S.family) continue;
    if (!inNet(dst, r + L.RO_DST, r + L.RO_MASK)) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const b = routeAt(best);
    const p = rw(r + L.RO_PREFIX);
    const bp = rw(b + L.RO_PREFIX);
    if (p > bp || (p == bp && <u32>rw(r + L.RO_METRIC) < <u32>rw(b + L.RO_METRIC))) best = i;
  }
  return best;
}

/**
 * fib_lookup for dst with the packet's source, mark and input interface (`iif`, a block; 0 = lo):
 * a route index, LOOKUP_NONE, or actionCode(PRA_*) for a terminal rule.
 */
export function lookup(dst: usize, iif: usize): i32 {
  const b = block();
  const n = rw(b + L.RT_NRULES);
  const rules = rw(b + L.RT_RULES);
  for (let i = 0; i < n; i++) {
    const p = rules + i * L.PR_WORDS;
    if (rw(p + L.PR_FAMILY) != S.family) continue;
    const f = rw(p + L.PR_FLAGS);
    let hit = true;
    if ((f & L.PRF_SRC) != 0 && !inNet(S.SRC, p + L.PR_SRC, p + L.PR_SRCMASK)) hit = false;
    if (hit && (f & L.PRF_DST) != 0 && !inNet(dst, p + L.PR_DST, p + L.PR_DSTMASK)) hit = false;
    if (hit && (f & L.PRF_IIF) != 0 && !sameName(iif, rsAddr(p + L.PR_IIF))) hit = false;
    if (hit && (f & L.PRF_OIF) != 0) hit = false;
    if (hit && (f & L.PRF_MARK) != 0 && ((S.mark ^ <u32>rw(p + L.PR_MARK)) & <u32>rw(p + L.PR_MARKMASK)) != 0) hit = false;
    if (hit == ((f & L.PRF_NOT) != 0)) continue;
    const action = rw(p + L.PR_ACTION);
    if (action == L.PRA_NOP) continue;
    if (action != L.PRA_LOOKUP) return actionCode(action);
    const r = tableLookup(rw(p + L.PR_TABLE), dst);
    if (r < 0) continue;
    const rec = routeAt(r);
    if (rw(rec + L.RO_TYPE) == L.RTYPE_THROW) continue;
    const sup = rw(p + L.PR_SUPPRESS);
    if (sup >= 0 && rw(rec + L.RO_PREFIX) <= sup) continue;
    return r;
  }
  return LOOKUP_NONE;
}

export function routeType(r: i32): i32 {
  return rw(routeAt(r) + L.RO_TYPE);
}

export function routeDev(r: i32): i32 {
  return rw(routeAt(r) + L.RO_DEV);
}

/** The route's gateway (byte address of 4 words) or 0. */
export function routeGateway(r: i32): usize {
  const rec = routeAt(r);
  return rw(rec + L.RO_HASGW) != 0 ? rsAddr(rec + L.RO_GW) : 0;
}

/** Byte address of link i's IFACE block. */
export function linkIface(i: i32): usize {
  return rsAddr(rw(block() + L.RT_LINKS) + i * L.LK_WORDS + L.LK_IFACE);
}

/** The link whose IFACE block is at `b` (a pointer into the links), else the link named like `b`, else -1. */
export function linkOf(b: usize): i32 {
  const rt = block();
  if (rt == 0 || b == 0) return -1;
  const n = rw(rt + L.RT_NLINKS);
  if ((load<i32>(b) & L.IF_PREFIX_BIT) != 0) return -1;
  for (let i = 0; i < n; i++) {
    const li = linkIface(i);
    if (li == b || ((load<i32>(li) & L.IF_PRESENT_BIT) != 0 && sameName(li, b))) return i;
  }
  return -1;
}

/** Whether a and b (byte addresses) share their first bits under `mask` (ruleset word offset). */
function samePrefix(a: usize, b: usize, mask: i32): bool {
  for (let k = 0; k < 4; k++) {
    if (((load<i32>(a + (<usize>k << 2)) ^ load<i32>(b + (<usize>k << 2))) & rw(mask + k)) != 0) return false;
  }
  return true;
}

/** inet_select_addr(dev, nexthop, universe) (src/engine/routing.ts selectSource): byte address of the address or 0. */
export function selectSource(dev: i32, nh: usize): usize {
  const rt = block();
  const links = rw(rt + L.RT_LINKS);
  const n = rw(rt + L.RT_NLINKS);
  if (dev >= 0) {
    const l = links + dev * L.LK_WORDS;
    const base = rw(l + L.LK_ADDRS);
    let first: usize = 0;
    for (let i = 0, c = rw(l + L.LK_NADDR); i < c; i++) {
      const a = base + i * L.LA_WORDS;
      if (rw(a + L.LA_FAMILY) != S.family || rw(a + L.LA_SECONDARY) != 0 || rw(a + L.LA_SCOPE) > 0) continue;
      if (samePrefix(nh, rsAddr(a + L.LA_ADDR), a + L.LA_MASK)) return rsAddr(a + L.LA_ADDR);
      if (first == 0) first = rsAddr(a + L.LA_ADDR);
    }
    if (first != 0) return first;
  }
  for (let d = 0; d < n; d++) {
    const l = links + d * L.LK_WORDS;
    const base = rw(l + L.LK_ADDRS);
    for (let i = 0, c = rw(l + L.LK_NADDR); i < c; i++) {
      const a = base + i * L.LA_WORDS;
      if (rw(a + L.LA_FAMILY) == S.family && rw(a + L.LA_SECONDARY) == 0 && rw(a + L.LA_SCOPE) == 0) return rsAddr(a + L.LA_ADDR);
    }
  }
  return 0;
}

/** reject-with string id for an unreachable (or prohibit) route. */
export function rejectId(prohibit: bool): i32 {
  const b = block();
  if (prohibit) return rw(b + (S.family == 4 ? L.RT_REJ_PROHIBIT4 : L.RT_REJ_PROHIBIT6));
  return rw(b + (S.family == 4 ? L.RT_REJ_UNREACH4 : L.RT_REJ_UNREACH6));
}

/** Inside a `local` route of table local (node-local ranges such as `local 10.0.0.0/8 dev lo`). */
export function inLocalRoute(a: usize): bool {
  const b = block();
  if (b == 0) return false;
  const n = rw(b + L.RT_NROUTES);
  for (let i = 0; i < n; i++) {
    const r = routeAt(i);
    if (rw(r + L.RO_TABLE) != 255 || rw(r + L.RO_TYPE) != L.RTYPE_LOCAL || rw(r + L.RO_FAMILY) != S.family) continue;
    if (inNet(a, r + L.RO_DST, r + L.RO_MASK)) return true;
  }
  return false;
}
