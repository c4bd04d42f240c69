// landfall's WASM engine: exports the walk entry points. JS (src/engine/wasm.ts) owns memory:
// it copies the compiled ruleset to RS_BASE_BYTES, writes packets to IN_BYTES and reads results
// from OUT_BYTES / TRACE_OUT_BYTES (src/compile/layout.ts). Nothing here allocates.

import * as L from '../src/compile/layout';
import { st } from './mem';
import * as S from './state';
import { recentClear, recentPut } from './recent';
import { loadRuleset, outIfaceCode, outLinkIndex, outRejectWith, outVerdict, walkPacket } from './walk';

/** End of the module's static data: JS checks it lies below IO_BASE_BYTES. */
export function heapBase(): usize {
  return __heap_base;
}

/** Checks the ruleset copied to RS_BASE_BYTES; 0 when it is usable. */
export function init(): i32 {
  return loadRuleset() ? L.ST_OK : L.ST_BAD_RULESET;
}

/**
 * One recorded walk of packet 0 with `forcedCount` forced branches at FORCED_BYTES. The record
 * head and lists go to OUT_BYTES (layout O_*); returns the status.
 */
export function walk(forcedCount: i32): i32 {
  const status = walkPacket(0, true, forcedCount);
  const o = L.OUT_BYTES;
  st(o, L.O_STATUS, status);
  st(o, L.O_VERDICT, outVerdict());
  st(o, L.O_REJECT, outRejectWith());
  for (let k = 0; k < 4; k++) {
    st(o, L.O_DST + k, load<i32>(S.routeDst() + (<usize>k << 2)));
    st(o, L.O_SRC + k, load<i32>(S.SRC + (<usize>k << 2)));
  }
  st(o, L.O_DPORT, S.finalDport());
  st(o, L.O_SPORT, S.sport);
  st(o, L.O_MASQ, S.masq);
  st(o, L.O_OUT_IFACE, outIfaceCode());
  st(o, L.O_OUT_LINK, outLinkIndex());
  st(o, L.O_RULES, S.rulesEval);
  st(o, L.O_NPATH, S.npath);
  st(o, L.O_NASM, S.nasm);
  st(o, L.O_NDEC, S.ndec);
  st(o, L.O_NNOTES, S.nnotes);
  st(o, L.O_NPROBS, S.nprobs);
  return status;
}

/** Clears the statistic-nth counters and seeds the PRNG: the start of a trace batch. */
export function traceBegin(seed: u32, nthCounters: i32): void {
  memory.fill(L.STATE_BYTES, 0, <usize>nthCounters << 2);
  S.seedRng(seed);
}

/**
 * Sampled walks of packets 0..n-1 (one PRNG stream and nth counters across calls since
 * traceBegin). Writes TRACE_WORDS per packet; returns how many packets were walked — fewer than
 * n when one needed the host or failed (its status is in its record).
 */
export function trace(n: i32): i32 {
  let tasm = 0;
  for (let i = 0; i < n; i++) {
    const status = walkPacket(i, false, 0);
    const o = L.TRACE_OUT_BYTES + (<usize>(i * L.TRACE_WORDS) << 2);
    st(o, L.TR_STATUS, status);
    if (status != L.ST_OK) return i;
    st(o, L.TR_VERDICT, outVerdict());
    for (let k = 0; k < 4; k++) {
      st(o, L.TR_DST + k, load<i32>(S.routeDst() + (<usize>k << 2)));
      st(o, L.TR_SRC + k, load<i32>(S.SRC + (<usize>k << 2)));
    }
    st(o, L.TR_DPORT, S.finalDport());
    st(o, L.TR_MASQ, S.masq);
    st(o, L.TR_RULES, S.rulesEval);
    // the unknown conditions drawn for this packet (trace mode records only first meetings)
    if (tasm + S.nasm > L.MAX_TASM) {
      st(o, L.TR_STATUS, L.ST_HOST);
      return i;
    }
    memory.copy(L.TASM_BYTES + (<usize>(tasm * L.ASM_WORDS) << 2), L.OUT_BYTES + (<usize>L.O_ASM << 2), <usize>(S.nasm * L.ASM_WORDS) << 2);
    tasm += S.nasm;
    st(o, L.TR_NASM, S.nasm);
  }
  return n;
}

/**
 * trace() of n ≤ COLS packets given as columns (layout CI_*): each packet is its template
 * (CT_INDEX / CT_PKTS, by origin, family and protocol) with the column's addresses and ports,
 * walked as packet 0; results go to the CO_* columns. Returns how many packets were walked —
 * fewer than n when one needed the host or failed (its status at CO_STATUS). The batch's
 * assumptions are not kept (columns have no place for them).
 */
export function traceCols(n: i32): i32 {
  const p = L.IN_BYTES;
  for (let i = 0; i < n; i++) {
    const fam = <i32>load<u8>(L.CI_FAMILY + i);
    const proto = <i32>load<u8>(L.CI_PROTO + i);
    const origin = <i32>load<u8>(L.CI_ORIGIN + i);
    const v6 = fam == 6;
    const t = origin <= 2 ? load<i32>(L.CT_INDEX + (<usize>((((origin << 1) | (v6 ? 1 : 0)) << 8) | proto) << 2)) : -1;
    if (t < 0) {
      store<i32>(L.CO_STATUS, L.ST_HOST);
      return i;
    }
    memory.copy(p, L.CT_PKTS + (<usize>(t * L.PKT_WORDS) << 2), L.PKT_WORDS << 2);
    const a = L.CI_SRC + (<usize>i << 4);
    const b = L.CI_DST + (<usize>i << 4);
    st(p, L.P_SRC, load<i32>(a));
    st(p, L.P_DST, load<i32>(b));
    for (let k = 1; k < 4; k++) {
      st(p, L.P_SRC + k, v6 ? load<i32>(a + (<usize>k << 2)) : 0);
      st(p, L.P_DST + k, v6 ? load<i32>(b + (<usize>k << 2)) : 0);
    }
    const ported = proto != 1 && proto != 58;
    if (ported) {
      st(p, L.P_SPORT, <i32>load<u16>(L.CI_SPORT + (<usize>i << 1)));
      st(p, L.P_DPORT, <i32>load<u16>(L.CI_DPORT + (<usize>i << 1)));
    }
    const status = walkPacket(0, false, 0);
    if (status != L.ST_OK) {
      store<i32>(L.CO_STATUS, status);
      return i;
    }
    store<u8>(L.CO_VERDICT + i, <u8>outVerdict());
    store<u8>(L.CO_MASQ + i, S.masq != 0 ? 1 : 0);
    store<u16>(L.CO_DPORT + (<usize>i << 1), ported ? <u16>S.finalDport() : 0);
    store<i32>(L.CO_RULES + (<usize>i << 2), S.rulesEval);
    const d = S.routeDst();
    const o = L.CO_DST + (<usize>i << 4);
    const s = L.CO_SRC + (<usize>i << 4);
    store<i32>(o, load<i32>(d));
    store<i32>(s, load<i32>(S.SRC));
    for (let k = 1; k < 4; k++) {
      store<i32>(o + (<usize>k << 2), v6 ? load<i32>(d + (<usize>k << 2)) : 0);
      store<i32>(s + (<usize>k << 2), v6 ? load<i32>(S.SRC + (<usize>k << 2)) : 0);
    }
  }
  return n;
}

/** hsiphash of one u32 (checked by the tests against the kernel's vector). */
export { hsiphashU32 } from './ipvs';

/** Empties the recent table (before a walk, or at the start of a trace batch). */
export function recentReset(): void {
  recentClear();
}

/** Adds a packet's recent history entry; 0 when the table is full. */
export function recentAdd(list: i32, a0: i32, a1: i32, a2: i32, a3: i32, secondsAgo: i32, hits: i32): i32 {
  return recentPut(list, a0, a1, a2, a3, secondsAgo, hits) ? 1 : 0;
}
