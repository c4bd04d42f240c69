// `-m set` against the compiled set contents (layout SB_* / GR_*, written by src/compile/sets.ts):
// the twin of src/engine/ipset-match.ts setMatch(), branch for branch.

import * as L from '../src/compile/layout';
import { rw, rsAddr } from './mem';
import * as S from './state';

/** The lookup key being built (≤ 4 dimensions × 5 words). */
const KEY: usize = memory.data(4 * 5 * 4);

/** src/compile/sets.ts setHash, the same bits. */
export function setHash(key: usize, kw: i32): u32 {
  let h: u32 = 0x811c9dc5 ^ <u32>kw;
  for (let i = 0; i < kw; i++) {
    h = (h ^ load<u32>(key + (<usize>i << 2))) * 0x9e3779b1;
    h = h ^ (h >>> 15);
  }
  h = (h ^ (h >>> 13)) * 0x85ebca6b;
  return h ^ (h >>> 16);
}

/**
 * Open-addressing lookup shared by the set and IPVS tables (src/compile builds both the same way):
 * slots of kw key words plus one value word, linear probing from setHash. Returns the value stored
 * for the kw words at `key`, or `empty` (the value word of an unused slot).
 */
export function probeTable(table: i32, mask: i32, kw: i32, key: usize, empty: i32): i32 {
  const sw = kw + 1;
  let s = <i32>(setHash(key, kw) & <u32>mask);
  for (;;) {
    const slot = table + s * sw;
    const v = rw(slot + kw);
    if (v == empty) return empty;
    let eq = true;
    for (let i = 0; i < kw; i++) {
      if (rw(slot + i) != load<i32>(key + (<usize>i << 2))) {
        eq = false;
        break;
      }
    }
    if (eq) return v;
    s = (s + 1) & mask;
  }
  return unreachable();
}

/** The value stored for KEY in a group's table (0 = absent). */
function probe(g: i32, kw: i32): i32 {
  return probeTable(rw(g + L.GR_HASH), rw(g + L.GR_MASK), kw, KEY, 0);
}

/** The packet's (proto, port) key word as ipset sees it. */
function packetPort(dst: bool): i32 {
  const p = S.proto;
  if (p == 6 || p == 17 || p == 132 || p == 136) return (p << 16) | (dst ? S.dport : S.sport);
  if (p == 1 || p == 58) return (p << 16) | (((S.icmpType & 255) << 8) | (S.icmpCode & 255));
  return p << 16;
}

/** Whether interface block `have` (name bytes) starts with the pattern block at byte address `pat`. */
function startsWithName(have: usize, pat: usize): bool {
  const n = load<i32>(pat) & 0xff;
  if ((load<i32>(have) & 0xff) < n) return false;
  for (let i = 0; i < n; i++) {
    if (load<u8>(have + 4 + i) != load<u8>(pat + 4 + i)) return false;
  }
  return true;
}

const FOUND_NONE: i32 = 0;
const FOUND_MATCH: i32 = 1;
const FOUND_NOMATCH: i32 = 2;
const FOUND_UNKNOWN: i32 = 3;

function lookupHash(b: i32, dirs: i32): i32 {
  if (rw(b + L.SB_UNSUPPORTED) != 0) return FOUND_UNKNOWN;
  const nd = rw(b + L.SB_NDIMS);
  const kw = rw(b + L.SB_KW);
  // fixed fragments; remember where the interface part is
  let off = 0;
  let ifaceOff = -1;
  let ifaceBlock: usize = 0;
  for (let d = 0; d < nd; d++) {
    const code = rw(b + L.SB_DIMS + d);
    const dst = ((dirs >>> d) & 1) != 0;
    if (code == L.SD_ADDR) {
      off += 4;
    } else if (code == L.SD_PORT) {
      store<i32>(KEY + (<usize>off << 2), packetPort(dst));
      off += 1;
    } else if (code == L.SD_IFACE) {
      const have = dst ? S.outIf : S.inIf;
      if (have == 0 || (load<i32>(have) & L.IF_PRESENT_BIT) == 0) return FOUND_NONE;
      ifaceOff = off;
      ifaceBlock = have;
      off += 5;
    } else if (code == L.SD_MARK) {
      store<i32>(KEY + (<usize>off << 2), <i32>(S.mark & <u32>rw(b + L.SB_MARKMASK)));
      off += 1;
    } else return FOUND_UNKNOWN;
  }
  const ng = rw(b + L.SB_N);
  const groups = b + L.SB_WORDS;
  for (let gi = 0; gi < ng; gi++) {
    const g = groups + gi * L.GR_WORDS;
    // address fragments masked by this group's prefixes
    off = 0;
    let a = 0;
    for (let d = 0; d < nd; d++) {
      const code = rw(b + L.SB_DIMS + d);
      if (code == L.SD_ADDR) {
        const src = ((dirs >>> d) & 1) != 0 ? S.DST : S.SRC;
        const prefix = rw(g + L.GR_PREFIX + a++);
        for (let k = 0; k < 4; k++) {
          const bits = prefix - 32 * k;
          const m: u32 = S.family == 4 && k > 0 ? 0 : bits >= 32 ? 0xffffffff : bits <= 0 ? 0 : 0xffffffff << (32 - bits);
          store<u32>(KEY + (<usize>(off + k) << 2), load<u32>(src + (<usize>k << 2)) & m);
        }
        off += 4;
      } else if (code == L.SD_IFACE) {
        store<i32>(KEY + (<usize>off << 2), load<i32>(ifaceBlock) & 0xff);
        for (let k = 1; k < 5; k++) store<i32>(KEY + (<usize>(off + k) << 2), load<i32>(ifaceBlock + (<usize>k << 2)));
        off += 5;
      } else off += code == L.SD_PORT || code == L.SD_MARK ? 1 : 0;
    }
    const v = probe(g, kw);
    if ((v & (L.SV_MATCH | L.SV_NOMATCH)) != 0) return (v & L.SV_NOMATCH) != 0 ? FOUND_NOMATCH : FOUND_MATCH;
    if (ifaceOff >= 0) {
      // the same key with "any interface": wildcard entries, then the shadowing rule
      store<i32>(KEY + (<usize>ifaceOff << 2), -1);
      for (let k = 1; k < 5; k++) store<i32>(KEY + (<usize>(ifaceOff + k) << 2), 0);
      const nw = rw(g + L.GR_NWILD);
      const ew = kw + L.IFACE_WORDS + 1;
      let e = rw(g + L.GR_WILD);
      for (let i = 0; i < nw; i++, e += ew) {
        let eq = true;
        for (let k = 0; k < kw; k++) {
          if (rw(e + k) != load<i32>(KEY + (<usize>k << 2))) {
            eq = false;
            break;
          }
        }
        if (eq && startsWithName(ifaceBlock, rsAddr(e + kw))) return rw(e + kw + L.IFACE_WORDS) != 0 ? FOUND_NOMATCH : FOUND_MATCH;
      }
      if ((probe(g, kw) & L.SV_ANY_IFACE) != 0) return FOUND_NONE;
    }
  }
  return FOUND_NONE;
}

/** 1 match, 0 no match, -1 undecidable (setMatch → null). */
export function setTest(sid: i32, dirs: i32, ndirs: i32, returnNomatch: bool, depth: i32): i32 {
  if (sid < 0) return -1;
  const table = rw(L.H_SETS);
  if (sid >= rw(table)) return -1;
  const b = rw(table + 1 + sid);
  const kind = rw(b + L.SB_KIND);
  if (kind == L.SET_LIST) {
    if (depth > 8) return -1;
    let unknown = false;
    const n = rw(b + L.SB_N);
    for (let i = 0; i < n; i++) {
      const r = setTest(rw(b + L.SB_WORDS + i), dirs, ndirs, returnNomatch, depth + 1);
      if (r == 1) return 1;
      if (r < 0) unknown = true;
    }
    return unknown ? -1 : 0;
  }
  const fam = rw(b + L.SB_FAMILY);
  if (fam != 0 && fam != S.family) return 0;
  if (ndirs < rw(b + L.SB_NDIMS)) return 0;
  if (kind == L.SET_BITMAP_PORT) {
    if (S.proto != 6 && S.proto != 17) return 0;
    const port = (dirs & 1) != 0 ? S.dport : S.sport;
    return (rw(rw(b + L.SB_DATA) + (port >>> 5)) >>> (port & 31)) & 1;
  }
  const found = lookupHash(b, dirs);
  if (found == FOUND_MATCH) return 1;
  if (found == FOUND_NOMATCH) return returnNomatch ? 1 : 0;
  if (found == FOUND_NONE) return 0;
  return -1;
}
