// Index runs: inside one chain, a maximal stretch of consecutive rules keyed on an exact
// destination address or one destination port (ops.ts indexKeys) gets an open-addressing hash table key → first rule with
// that key, and every rule in the run links to the next rule with the same key. The walk jumps
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

/**
 * Finds the runs (destination-address runs first; destination-port runs among the rules left),
 * writes the run table, hash tables and L.R_RUN/L.R_NEXT; returns the run count.
 */
export function buildRuns(w: Words, ruleChain: Int32Array, keyed: KeyedRules, rulesAt: number, minRun: number): number {
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
  const runs: number[] = []; // (start, end, index of start in its key list, kind)
  let longest = 0;
  for (let p = 0, q = 0; p < portRuns.length || q < dstRuns.length; ) {
    const c = Math.min(p < portRuns.length ? portRuns[p + 3]! : Infinity, q < dstRuns.length ? dstRuns[q + 3]! : Infinity);
    for (; p < portRuns.length && portRuns[p + 3] === c; p += 4) runs.push(portRuns[p]!, portRuns[p + 1]!, portRuns[p + 2]!, L.KEY_DPORT);
    for (; q < dstRuns.length && dstRuns[q + 3] === c; q += 4) runs.push(dstRuns[q]!, dstRuns[q + 1]!, dstRuns[q + 2]!, L.KEY_DST);
  }
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
  for (let runId = 0; runId < nruns; runId++) {
    const start = runs[4 * runId]!;
    const end = runs[4 * runId + 1]!;
    base = runs[4 * runId + 2]!;
    kind = runs[4 * runId + 3]!;
    const n = end - start;
    let mask = 3;
    while (mask + 1 < n * 2) mask = mask * 2 + 1;
    lastOf.fill(-1, 0, mask + 1);
    let nheads = 0;
    for (let i = 0; i < n; i++) {
      keyAt(i);
      const rec = rulesAt + (start + i) * L.RULE_WORDS;
      w.set(rec + L.R_RUN, runId + 1);
      w.set(rec + L.R_NEXT, end);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & mask;
      for (;;) {
        const prev = lastOf[s]!;
        if (prev < 0) {
          heads[nheads++] = i;
          break;
        }
        if (sameKey(prev, i)) {
          w.set(rulesAt + (start + prev) * L.RULE_WORDS + L.R_NEXT, start + i);
          break;
        }
        s = (s + 1) & mask;
      }
      lastOf[s] = i;
    }
    let slots = 4;
    while (slots < nheads * 2) slots *= 2;
    const hashAt = w.alloc(slots * L.SLOT_WORDS);
    for (let s = 0; s < slots; s++) w.set(hashAt + s * L.SLOT_WORDS + 4, -1);
    for (let h = 0; h < nheads; h++) {
      keyAt(heads[h]!);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & (slots - 1);
      while (w.get(hashAt + s * L.SLOT_WORDS + 4) !== -1) s = (s + 1) & (slots - 1);
      const at = hashAt + s * L.SLOT_WORDS;
      for (let q = 0; q < 4; q++) w.set(at + q, k[q]!);
      w.set(at + 4, start + heads[h]!);
    }
    const t = tableAt + runId * L.RUN_WORDS;
    w.set(t + L.RU_START, start);
    w.set(t + L.RU_END, end);
    w.set(t + L.RU_HASH, hashAt);
    w.set(t + L.RU_MASK, slots - 1);
    w.set(t + L.RU_KIND, kind);
  }
  buildCascades(w, ruleChain, rulesAt);
  return nruns;
}

/** Whether a rule's only match op is a non-inverted `statistic --mode random` (and it is in no index run). */
function randomOnly(w: Words, rec: number): boolean {
  if ((w.get(rec + L.R_NOPS_TK) & L.RN_NOPS_MASK) !== 1 || w.get(rec + L.R_RUN) !== 0) return false;
  const h = w.get(w.get(rec + L.R_OPS));
  return (h & 0xff) === L.M_RANDOM && (h & L.OP_INV_BIT) === 0 && h >>> L.OP_LEN_SHIFT === L.RANDOM_OP_WORDS;
}

/**
 * Random cascades (layout R_CASCADE): every stretch of at least MIN_CASCADE consecutive rules of
 * one chain whose only match is a random draw, with each rule's op right after the previous
 * rule's, gets R_RUN = R_CASCADE and R_NEXT = the stretch's end on each of its rules.
 */
function buildCascades(w: Words, ruleChain: Int32Array, rulesAt: number): void {
  const nrules = w.get(L.H_NRULES);
  const rec = (id: number) => rulesAt + id * L.RULE_WORDS;
  let r = 0;
  while (r < nrules) {
    if (!randomOnly(w, rec(r))) {
      r++;
      continue;
    }
    let e = r + 1;
    while (e < nrules && ruleChain[e] === ruleChain[r] && randomOnly(w, rec(e)) && w.get(rec(e) + L.R_OPS) === w.get(rec(e - 1) + L.R_OPS) + L.RANDOM_OP_WORDS) e++;
    if (e - r >= L.MIN_CASCADE) {
      for (let i = r; i < e; i++) {
        w.set(rec(i) + L.R_RUN, L.R_CASCADE);
        w.set(rec(i) + L.R_NEXT, e);
      }
    }
    r = e;
  }
}
