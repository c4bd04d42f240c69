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

interface Run {
  start: number;
  end: number;
  kind: number;
}

/** Maximal stretches [i, j) of rules in `first..end` that have a key, at least minRun long. */
function stretches(first: number, end: number, has: (r: number) => boolean, minRun: number, kind: number, out: Run[]): void {
  let i = first;
  while (i < end) {
    if (!has(i)) {
      i++;
      continue;
    }
    let j = i;
    while (j < end && has(j)) j++;
    if (j - i >= minRun) out.push({ start: i, end: j, kind });
    i = j;
  }
}

/**
 * Finds the runs (destination-address runs first; destination-port runs among the rules left),
 * writes the run table, hash tables and L.R_RUN/L.R_NEXT; returns the run count.
 */
export function buildRuns(w: Words, rs: Ruleset, dstKeys: (Key | null)[], portKeys: (number | null)[], rulesAt: number, minRun: number): number {
  const runs: Run[] = [];
  const inRun = new Uint8Array(rs.rules.length);
  // numberRules numbers a chain's rules consecutively, in chain order.
  let next = 0;
  for (const { chain } of rs.chains) {
    const first = next;
    next += chain.rules.length;
    if (chain.rules.length < minRun) continue;
    const end = first + chain.rules.length;
    const dstRuns: Run[] = [];
    stretches(first, end, (r) => dstKeys[r] !== null, minRun, L.KEY_DST, dstRuns);
    for (const r of dstRuns) inRun.fill(1, r.start, r.end);
    stretches(first, end, (r) => !inRun[r] && portKeys[r] !== null, minRun, L.KEY_DPORT, runs);
    runs.push(...dstRuns);
  }
  const keyOf = (r: number, kind: number): Key => (kind === L.KEY_DST ? dstKeys[r]! : [portKeys[r]!, 0, 0, 0]);
  const tableAt = w.alloc(runs.length * L.RUN_WORDS);
  w.set(L.H_NRUNS, runs.length);
  w.set(L.H_RUNS, tableAt);
  runs.forEach(({ start, end, kind }, runId) => {
    // Distinct keys in rule order: the first rule of each key heads its candidate list.
    const heads = new Map<string, number>();
    const last = new Map<string, number>();
    for (let r = start; r < end; r++) {
      const k = keyOf(r, kind);
      const ks = `${k[0]},${k[1]},${k[2]},${k[3]}`;
      const rec = rulesAt + r * L.RULE_WORDS;
      w.set(rec + L.R_RUN, runId + 1);
      w.set(rec + L.R_NEXT, end);
      const prev = last.get(ks);
      if (prev === undefined) heads.set(ks, r);
      else w.set(rulesAt + prev * L.RULE_WORDS + L.R_NEXT, r);
      last.set(ks, r);
    }
    let slots = 4;
    while (slots < heads.size * 2) slots *= 2;
    const hashAt = w.alloc(slots * L.SLOT_WORDS);
    for (let s = 0; s < slots; s++) w.set(hashAt + s * L.SLOT_WORDS + 4, -1);
    for (const r of heads.values()) {
      const k = keyOf(r, kind);
      let s = hashKey(k[0], k[1], k[2], k[3]) & (slots - 1);
      while (w.get(hashAt + s * L.SLOT_WORDS + 4) !== -1) s = (s + 1) & (slots - 1);
      const at = hashAt + s * L.SLOT_WORDS;
      for (let q = 0; q < 4; q++) w.set(at + q, k[q]);
      w.set(at + 4, r);
    }
    const t = tableAt + runId * L.RUN_WORDS;
    w.set(t + L.RU_START, start);
    w.set(t + L.RU_END, end);
    w.set(t + L.RU_HASH, hashAt);
    w.set(t + L.RU_MASK, slots - 1);
    w.set(t + L.RU_KIND, kind);
  });
  return runs.length;
}
