// Index runs: inside one chain, a maximal stretch of consecutive rules keyed on an exact
// destination address or one destination port (ops.ts indexKeys) gets an open-addressing hash table key → first rule with
// that key, and every rule in the run links to the next rule with the same key (or the run's end). The walk jumps
// from candidate to candidate and adds the skipped rules to rulesEvaluated, so first-match order
// and the kernel's linear count are both kept while KUBE-SERVICES is not scanned.

import * as L from './layout.js';

import type { Words } from './words.js';

import type { Key } from './ops.js';

/** The key hash; assembly/walk.ts hashKey computes the same bits. */
export function hashKey(k0: number, k1: number, k2: number, k3: number): number {
  let h = Math.imul(k0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ k1 ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ k2 ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ k3 ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The rules with an index key, in rule order: ids and keys side by side. */
export interface KeyedRules {
  dst: number[];
  dstKeys: Key[];
  port: number[];
  portKeys: number[];
}

/**
 * Maximal stretches of consecutive rule ids of one chain among ids[from..] (ascending), skipping
 * ids `skip` says no to, at least minRun long: (start, end, index of start in ids, chain) each.
 */
function stretches(ids: number[], ruleChain: Int32Array, minRun: number, skip: (r: number) => boolean, out: number[]): void {
  let i = 0;
  while (i < ids.length) {
    if (skip(ids[i]!)) {
      i++;
      continue;
    }
    const c = ruleChain[ids[i]!]!;
    let j = i + 1;
    while (j < ids.length && ids[j] === ids[j - 1]! + 1 && ruleChain[ids[j]!] === c && !skip(ids[j]!)) j++;
    if (j - i >= minRun) out.push(ids[i]!, ids[j - 1]! + 1, i, c);
    i = j;
  }
}

/** Equal key words (as numbers: what the keys' decimal texts compared before). */
const same = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

/** Which rules are in index runs, decided before any record is written (a run record is longer). */
export interface RunPlan {
  /** (start, end, index of start in its key list, KEY_*) per run, chain by chain. */
  runs: number[];
  /** By rule id: 1 + the run's index, 0 outside runs. */
  runOf: Int32Array;
}

/** The runs: destination-address runs first; destination-port runs among the rules left. */
export function planRuns(ruleChain: Int32Array, keyed: KeyedRules, minRun: number): RunPlan {
  const dstRuns: number[] = [];
  stretches(keyed.dst, ruleChain, minRun, () => false, dstRuns);
  // A port-keyed rule inside an address run is not a port candidate (ids and runs both ascend).
  let d = 0;
  const inDstRun = (r: number): boolean => {
    while (d < dstRuns.length && dstRuns[d + 1]! <= r) d += 4;
    return d < dstRuns.length && dstRuns[d]! <= r;
  };
  const portRuns: number[] = [];
  stretches(keyed.port, ruleChain, minRun, inDstRun, portRuns);
  // Run order: chain by chain, its port runs, then its address runs.
  const runs: number[] = [];
  for (let p = 0, q = 0; p < portRuns.length || q < dstRuns.length; ) {
    const c = Math.min(p < portRuns.length ? portRuns[p + 3]! : Infinity, q < dstRuns.length ? dstRuns[q + 3]! : Infinity);
    for (; p < portRuns.length && portRuns[p + 3] === c; p += 4) runs.push(portRuns[p]!, portRuns[p + 1]!, portRuns[p + 2]!, L.KEY_DPORT);
    for (; q < dstRuns.length && dstRuns[q + 3] === c; q += 4) runs.push(dstRuns[q]!, dstRuns[q + 1]!, dstRuns[q + 2]!, L.KEY_DST);
  }
  const runOf = new Int32Array(ruleChain.length);
  for (let i = 0; i < runs.length; i += 4) runOf.fill(i / 4 + 1, runs[i]!, runs[i + 1]!);
  return { runs, runOf };
}


/**
 * Writes the run table and the hash tables into `w`, and logs each run rule's R_RUN / R_ID /
 * R_NEXT / R_NEXTID into `recs` as (offset, word) pairs, to be written in that order once the records
 * exist (compile.ts; a run's first rule gets RF_START there); returns the run count. recOf: record
 * offset by rule id; sizeOf: a record's R_SIZE by rule id.
 */
export function buildRuns(w: Words, plan: RunPlan, keyed: KeyedRules, recOf: Int32Array, sizeOf: (id: number) => number, recs: Words): number {
  const runs = plan.runs;
  let longest = 0;
  for (let i = 0; i < runs.length; i += 4) longest = Math.max(longest, runs[i + 1]! - runs[i]!);
  const nruns = runs.length / 4;
  const tableAt = w.alloc(nruns * L.RUN_WORDS);
  w.set(L.H_NRUNS, nruns);
  w.set(L.H_RUNS, tableAt);
  // Per run, key → the last rule seen with it (open addressing over positions in the run), and
  // the distinct keys' first rules in rule order: the first rule of each key heads its candidate list.
  let seen = 4;
  while (seen < longest * 2) seen *= 2;
  const lastOf = new Int32Array(seen);
  const heads = new Int32Array(longest);
  const k = [0, 0, 0, 0];
  // k ← the key of the rule at position `i` of the run's key list
  let base = 0;
  let kind = L.KEY_DST;
  const keyAt = (i: number): void => {
    if (kind === L.KEY_DST) {
      const x = keyed.dstKeys[base + i]!;
      k[0] = x[0];
      k[1] = x[1];
      k[2] = x[2];
      k[3] = x[3];
    } else {
      k[0] = keyed.portKeys[base + i]!;
      k[1] = k[2] = k[3] = 0;
    }
  };
  const sameKey = (i: number, j: number): boolean => {
    if (kind !== L.KEY_DST) return same(keyed.portKeys[base + i]!, keyed.portKeys[base + j]!);
    const x = keyed.dstKeys[base + i]!;
    const y = keyed.dstKeys[base + j]!;
    return same(x[0], y[0]) && same(x[1], y[1]) && same(x[2], y[2]) && same(x[3], y[3]);
  };
  const link = (from: number, to: number, toRec: number): void => {
    const rec = recOf[from]!;
    recs.push(rec + L.R_NEXT);
    recs.push(toRec);
    recs.push(rec + L.R_NEXTID);
    recs.push(to);
  };
  for (let runId = 0; runId < nruns; runId++) {
    const start = runs[4 * runId]!;
    const end = runs[4 * runId + 1]!;
    base = runs[4 * runId + 2]!;
    kind = runs[4 * runId + 3]!;
    const t = tableAt + runId * L.RUN_WORDS;
    // the run's first record is the only one in line (compile.ts): the rule one past the run follows it
    const endRec = recOf[start]! + sizeOf(start);
    const n = end - start;
    let mask = 3;
    while (mask + 1 < n * 2) mask = mask * 2 + 1;
    lastOf.fill(-1, 0, mask + 1);
    let nheads = 0;
    for (let i = 0; i < n; i++) {
      keyAt(i);
      const rec = recOf[start + i]!;
      recs.push(rec + L.R_RUN);
      recs.push(t);
      recs.push(rec + L.R_ID);
      recs.push(start + i);
      link(start + i, end, endRec);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & mask;
      for (;;) {
        const prev = lastOf[s]!;
        if (prev < 0) {
          heads[nheads++] = i;
          break;
        }
        if (sameKey(prev, i)) {
          link(start + prev, start + i, rec);
          break;
        }
        s = (s + 1) & mask;
      }
      lastOf[s] = i;
    }
    let compact = true;
    for (let h = 0; h < nheads && compact; h++) {
      keyAt(heads[h]!);
      compact = (k[1]! | k[2]! | k[3]!) === 0;
    }
    // compact tables fill to at most 2/3 (probes stay within a line or two), full ones to 1/2
    let slots = 4;
    while (compact ? slots * 2 < nheads * 3 : slots < nheads * 2) slots *= 2;
    const sw = compact ? L.SLOT_COMPACT : L.SLOT_WORDS;
    const rat = compact ? L.SC_REC : L.SL_REC;
    // slots aligned to their size: one probe is one cache line (RS_BASE_BYTES is 64-byte aligned)
    w.alloc((sw - (w.length % sw)) % sw);
    const hashAt = w.alloc(slots * sw);
    for (let h = 0; h < nheads; h++) {
      keyAt(heads[h]!);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & (slots - 1);
      while (w.get(hashAt + s * sw + rat) !== 0) s = (s + 1) & (slots - 1);
      const at = hashAt + s * sw;
      for (let q = 0; q < (compact ? 1 : 4); q++) w.set(at + q, k[q]!);
      w.set(at + rat, recOf[start + heads[h]!]!);
    }
    w.set(t + L.RU_START, start);
    w.set(t + L.RU_END, end);
    w.set(t + L.RU_HASH, hashAt);
    w.set(t + L.RU_MASK, slots - 1);
    w.set(t + L.RU_KIND, kind);
    w.set(t + L.RU_ENDREC, endRec);
    w.set(t + L.RU_SLOTW, sw);
  }
  return nruns;
}

/** Whether the nops ops at `ops` are one non-inverted `statistic --mode random` (a cascade candidate). */
export function randomOnly(w: Words, ops: number, nops: number): boolean {
  if (nops !== 1) return false;
  const h = w.get(ops);
  return (h & 0xff) === L.M_RANDOM && (h & L.OP_INV_BIT) === 0 && h >>> L.OP_LEN_SHIFT === L.RANDOM_OP_WORDS;
}

/** A record written as a cascade candidate: outside runs, random-only (randomOnly), with its count word. */
function cascadable(w: Int32Array, rec: number): boolean {
  const meta = w[rec + L.R_META]!;
  if ((meta & L.RF_RUN) !== 0 || (meta & L.RN_NOPS_MASK) !== 1) return false;
  const h = w[rec + L.RULE_WORDS]!;
  return (h & 0xff) === L.M_RANDOM && (h & L.OP_INV_BIT) === 0 && h >>> L.OP_LEN_SHIFT === L.RANDOM_OP_WORDS;
}

/**
 * Random cascades (layout RF_CASCADE): every stretch of at least MIN_CASCADE consecutive rules of
 * one chain whose only match is a random draw, each record CASCADE_WORDS after the previous one
 * (no target block in between), gets RF_CASCADE and, in its count word, the rules left in the
 * stretch from it on.
 */
export function buildCascades(w: Int32Array, ruleChain: Int32Array, recOf: Int32Array): void {
  const nrules = recOf.length;
  let r = 0;
  while (r < nrules) {
    if (!cascadable(w, recOf[r]!)) {
      r++;
      continue;
    }
    let e = r + 1;
    while (e < nrules && ruleChain[e] === ruleChain[r] && cascadable(w, recOf[e]!) && recOf[e] === recOf[e - 1]! + L.CASCADE_WORDS) e++;
    if (e - r >= L.MIN_CASCADE) {
      for (let i = r; i < e; i++) {
        const rec = recOf[i]!;
        w[rec + L.R_META] |= L.RF_CASCADE;
        w[rec + L.RULE_WORDS + L.RANDOM_OP_WORDS] = e - i;
      }
    }
    r = e;
  }
}

/**
 * The order chain regions are written in: a depth-first visit of the jump graph from each chain
 * in id order, a chain placed when first reached, its jump/goto targets in rule order after it.
 * A kube-proxy service's KUBE-SVC chain is followed by its KUBE-SEP chains, so one packet's
 * chains lie in one stretch of memory.
 */
export function walkOrder(chainFirst: Int32Array, chainCount: Int32Array, jumpTo: Int32Array): Int32Array {
  const n = chainFirst.length;
  const order = new Int32Array(n);
  const placed = new Uint8Array(n);
  const stack: number[] = [];
  let k = 0;
  for (let root = 0; root < n; root++) {
    if (placed[root]) continue;
    stack.push(root);
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (placed[c]) continue;
      placed[c] = 1;
      order[k++] = c;
      // targets pushed last first, so the first is visited next
      for (let r = chainFirst[c]! + chainCount[c]! - 1; r >= chainFirst[c]!; r--) {
        const t = jumpTo[r]!;
        if (t >= 0 && !placed[t]) stack.push(t);
      }
    }
  }
  return order;
}
