// Index runs: inside one chain, a maximal stretch of consecutive rules keyed on an exact
// destination address or one destination port (ops.ts indexKeys) gets an open-addressing hash table key → first rule with
// that key, and every rule in the run links to the next rule with the same key. The walk jumps
// from candidate to candidate and adds the skipped rules to rulesEvaluated, so first-match order
// and the kernel's linear count are both kept while KUBE-SERVICES is not scanned.

import type { Ruleset } from '../model/ruleset.js';
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

/** Maximal stretches [i, j) of rules in `first..end` that have a key, at least minRun long, as (start, end) pairs. */
function stretches(first: number, end: number, has: (r: number) => boolean, minRun: number, out: number[]): void {
  let i = first;
  while (i < end) {
    if (!has(i)) {
      i++;
      continue;
    }
    let j = i;
    while (j < end && has(j)) j++;
    if (j - i >= minRun) out.push(i, j);
    i = j;
  }
}

/** Equal key words (as numbers: what the keys' decimal texts compared before). */
const same = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

/**
 * Finds the runs (destination-address runs first; destination-port runs among the rules left),
 * writes the run table, hash tables and L.R_RUN/L.R_NEXT; returns the run count. dstKeys[r] is
 * rule r's address key or null, portKeys[r] its port key or NaN.
 */
export function buildRuns(w: Words, rs: Ruleset, dstKeys: (Key | null)[], portKeys: Float64Array, rulesAt: number, minRun: number): number {
  // (start, end, kind) per run: per chain its port runs, then its address runs
  const runs: number[] = [];
  const inRun = new Uint8Array(rs.rules.length);
  const hasDst = (r: number): boolean => dstKeys[r] !== null;
  const hasPort = (r: number): boolean => !inRun[r] && portKeys[r] === portKeys[r];
  const dstRuns: number[] = [];
  // numberRules numbers a chain's rules consecutively, in chain order.
  let next = 0;
  let longest = 0;
  for (let c = 0; c < rs.chains.length; c++) {
    const n = rs.chains[c]!.chain.rules.length;
    const first = next;
    next += n;
    if (n < minRun) continue;
    const end = first + n;
    dstRuns.length = 0;
    stretches(first, end, hasDst, minRun, dstRuns);
    for (let i = 0; i < dstRuns.length; i += 2) inRun.fill(1, dstRuns[i], dstRuns[i + 1]);
    const ports: number[] = [];
    stretches(first, end, hasPort, minRun, ports);
    for (let i = 0; i < ports.length; i += 2) runs.push(ports[i]!, ports[i + 1]!, L.KEY_DPORT);
    for (let i = 0; i < dstRuns.length; i += 2) runs.push(dstRuns[i]!, dstRuns[i + 1]!, L.KEY_DST);
  }
  for (let i = 0; i < runs.length; i += 3) longest = Math.max(longest, runs[i + 1]! - runs[i]!);
  const nruns = runs.length / 3;
  const tableAt = w.alloc(nruns * L.RUN_WORDS);
  w.set(L.H_NRUNS, nruns);
  w.set(L.H_RUNS, tableAt);
  // Per run, key → the last rule seen with it (open addressing over rule ids), and the distinct
  // keys' first rules in rule order: the first rule of each key heads its candidate list.
  let seen = 4;
  while (seen < longest * 2) seen *= 2;
  const lastOf = new Int32Array(seen);
  const heads = new Int32Array(longest);
  const k = [0, 0, 0, 0];
  const keyOf = (r: number, kind: number): number[] => {
    if (kind === L.KEY_DST) {
      const d = dstKeys[r]!;
      k[0] = d[0];
      k[1] = d[1];
      k[2] = d[2];
      k[3] = d[3];
    } else {
      k[0] = portKeys[r]!;
      k[1] = k[2] = k[3] = 0;
    }
    return k;
  };
  const sameKey = (a: number, b: number, kind: number): boolean => {
    if (kind !== L.KEY_DST) return same(portKeys[a]!, portKeys[b]!);
    const x = dstKeys[a]!;
    const y = dstKeys[b]!;
    return same(x[0], y[0]) && same(x[1], y[1]) && same(x[2], y[2]) && same(x[3], y[3]);
  };
  for (let runId = 0; runId < nruns; runId++) {
    const start = runs[3 * runId]!;
    const end = runs[3 * runId + 1]!;
    const kind = runs[3 * runId + 2]!;
    let mask = 3;
    while (mask + 1 < (end - start) * 2) mask = mask * 2 + 1;
    lastOf.fill(-1, 0, mask + 1);
    let nheads = 0;
    for (let r = start; r < end; r++) {
      keyOf(r, kind);
      const rec = rulesAt + r * L.RULE_WORDS;
      w.set(rec + L.R_RUN, runId + 1);
      w.set(rec + L.R_NEXT, end);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & mask;
      for (;;) {
        const prev = lastOf[s]!;
        if (prev < 0) {
          heads[nheads++] = r;
          break;
        }
        if (sameKey(prev, r, kind)) {
          w.set(rulesAt + prev * L.RULE_WORDS + L.R_NEXT, r);
          break;
        }
        s = (s + 1) & mask;
      }
      lastOf[s] = r;
    }
    let slots = 4;
    while (slots < nheads * 2) slots *= 2;
    const hashAt = w.alloc(slots * L.SLOT_WORDS);
    for (let s = 0; s < slots; s++) w.set(hashAt + s * L.SLOT_WORDS + 4, -1);
    for (let h = 0; h < nheads; h++) {
      const r = heads[h]!;
      keyOf(r, kind);
      let s = hashKey(k[0]!, k[1]!, k[2]!, k[3]!) & (slots - 1);
      while (w.get(hashAt + s * L.SLOT_WORDS + 4) !== -1) s = (s + 1) & (slots - 1);
      const at = hashAt + s * L.SLOT_WORDS;
      for (let q = 0; q < 4; q++) w.set(at + q, k[q]!);
      w.set(at + 4, r);
    }
    const t = tableAt + runId * L.RUN_WORDS;
    w.set(t + L.RU_START, start);
    w.set(t + L.RU_END, end);
    w.set(t + L.RU_HASH, hashAt);
    w.set(t + L.RU_MASK, slots - 1);
    w.set(t + L.RU_KIND, kind);
  }
  return nruns;
}
