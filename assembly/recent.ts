// recent lists (xt_recent, kube-proxy session affinity): one open-addressing table keyed by
// (list id, masked address) in RECENT_BYTES. A generation number per slot makes "clear all" O(1)
// (a new walk or trace batch bumps it). Removed entries stay as tombstones (hits = -1) so probe
// chains stay intact.

import * as L from '../src/compile/layout';
import * as S from './state';

const T: usize = L.RECENT_BYTES;
const MASK: i32 = L.RECENT_SLOTS - 1;
let gen: i32 = 1;
let used: i32 = 0;

/** Forgets every entry. */
export function recentClear(): void {
  gen++;
  used = 0;
}

@inline function slotAt(s: i32): usize {
  return T + (<usize>(s * L.RECENT_WORDS) << 2);
}

function hash(list: i32, a0: i32, a1: i32, a2: i32, a3: i32): i32 {
  let h: u32 = (<u32>a0 ^ 0x9e3779b9) * 0x85ebca6b;
  h = (h ^ <u32>a1 ^ (h >>> 13)) * 0xc2b2ae35;
  h = (h ^ <u32>a2 ^ (h >>> 16)) * 0x85ebca6b;
  h = (h ^ <u32>a3 ^ <u32>list ^ (h >>> 13)) * 0xc2b2ae35;
  return <i32>(h ^ (h >>> 16));
}

/** The slot holding the key, or the empty slot where it would go. */
function find(list: i32, a0: i32, a1: i32, a2: i32, a3: i32): usize {
  let s = hash(list, a0, a1, a2, a3) & MASK;
  for (;;) {
    const p = slotAt(s);
    if (load<i32>(p, 28) != gen || load<i32>(p) == 0) return p;
    if (load<i32>(p) == list + 1 && load<i32>(p, 4) == a0 && load<i32>(p, 8) == a1 && load<i32>(p, 12) == a2 && load<i32>(p, 16) == a3) return p;
    s = (s + 1) & MASK;
  }
  return unreachable();
}

@inline function present(p: usize): bool {
  return load<i32>(p, 28) == gen && load<i32>(p) != 0 && load<i32>(p, 24) >= 0;
}

/** Sets an entry (a packet's history or a trace update); false when the table is full. */
export function recentPut(list: i32, a0: i32, a1: i32, a2: i32, a3: i32, secondsAgo: i32, hits: i32): bool {
  const p = find(list, a0, a1, a2, a3);
  if (load<i32>(p, 28) != gen || load<i32>(p) == 0) {
    if (used >= L.RECENT_MAX) return false;
    used++;
    store<i32>(p, list + 1);
    store<i32>(p, a0, 4);
    store<i32>(p, a1, 8);
    store<i32>(p, a2, 12);
    store<i32>(p, a3, 16);
    store<i32>(p, gen, 28);
  }
  store<i32>(p, secondsAgo, 20);
  store<i32>(p, hits, 24);
  return true;
}

/** The recent match at op `op` (layout M_RECENT); MATCH/NO_MATCH as 1/0, or -1 when the table is full. */
export function recentMatch(list: i32, rc: i32, seconds: i32, hitcount: i32, addr: usize, m: usize): i32 {
  const a0 = load<i32>(addr) & load<i32>(m);
  const a1 = load<i32>(addr, 4) & load<i32>(m, 4);
  const a2 = load<i32>(addr, 8) & load<i32>(m, 8);
  const a3 = load<i32>(addr, 12) & load<i32>(m, 12);
  const p = find(list, a0, a1, a2, a3);
  const has = present(p);

  let hit: bool;
  if (rc == L.RC_SET) hit = true;
  else if (rc == L.RC_REMOVE) hit = has;
  else {
    hit = has && (seconds < 0 || load<i32>(p, 20) <= seconds) && (hitcount < 0 || load<i32>(p, 24) >= hitcount);
  }
  if (!S.recording) {
    // Trace: later packets of the batch see what this one recorded.
    if (rc == L.RC_SET || (rc == L.RC_UPDATE && hit)) {
      if (!recentPut(list, a0, a1, a2, a3, 0, (has ? load<i32>(p, 24) : 0) + 1)) return -1;
    } else if (rc == L.RC_REMOVE && hit) {
      store<i32>(p, -1, 24);
    }
  }
  return hit ? 1 : 0;
}
