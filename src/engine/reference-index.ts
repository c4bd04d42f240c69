// Per-ruleset lookups the reference walk needs on its hot path, built once per engine: the chain
// id behind each (family, hook table, built-in chain), each rule's jump/goto target chain id, the
// contiguous rule-id range of each chain and each rule's matches in kernel evaluation order.

import type { Match, TableName } from '../model/rule.js';
import type { Ruleset } from '../model/ruleset.js';
import { chainKey } from '../model/ruleset.js';
import { kernelOrder } from './matches.js';

/** The (table, built-in chain) pairs the walk enters, in the order of the H constants below. */
export const HOOKS: readonly (readonly [TableName, string])[] = [
  ['raw', 'PREROUTING'],
  ['mangle', 'PREROUTING'],
  ['nat', 'PREROUTING'],
  ['mangle', 'INPUT'],
  ['filter', 'INPUT'],
  ['security', 'INPUT'],
  ['nat', 'INPUT'],
  ['mangle', 'FORWARD'],
  ['filter', 'FORWARD'],
  ['security', 'FORWARD'],
  ['raw', 'OUTPUT'],
  ['mangle', 'OUTPUT'],
  ['nat', 'OUTPUT'],
  ['filter', 'OUTPUT'],
  ['security', 'OUTPUT'],
  ['mangle', 'POSTROUTING'],
  ['nat', 'POSTROUTING'],
];

export const H = {
  rawPre: 0,
  manglePre: 1,
  natPre: 2,
  mangleIn: 3,
  filterIn: 4,
  securityIn: 5,
  natIn: 6,
  mangleFwd: 7,
  filterFwd: 8,
  securityFwd: 9,
  rawOut: 10,
  mangleOut: 11,
  natOut: 12,
  filterOut: 13,
  securityOut: 14,
  manglePost: 15,
  natPost: 16,
} as const;

export interface RuleIndex {
  rs: Ruleset;
  /** hookChain[family === 4 ? 0 : 1][hook] → chain id, or -1 when the dump lacks it. */
  hookChain: [Int32Array, Int32Array];
  /** Rule id → chain id of its -j/-g target, -1 when none or unknown. */
  target: Int32Array;
  /** Chain id → id of its first rule, and its rule count (numberRules keeps a chain's rules contiguous). */
  chainFirst: Int32Array;
  chainLen: Int32Array;
  /** Rule id → its matches in the order the kernel evaluates them. */
  matches: Match[][];
}

export function createRuleIndex(rs: Ruleset): RuleIndex {
  const hookChain: [Int32Array, Int32Array] = [new Int32Array(HOOKS.length).fill(-1), new Int32Array(HOOKS.length).fill(-1)];
  for (const fam of [4, 6] as const) {
    HOOKS.forEach(([t, c], h) => {
      hookChain[fam === 4 ? 0 : 1][h] = rs.chainIds.get(chainKey(fam, t, c)) ?? -1;
    });
  }
  const chainFirst = new Int32Array(rs.chains.length).fill(-1);
  const chainLen = new Int32Array(rs.chains.length);
  for (let id = 0; id < rs.rules.length; id++) {
    const c = rs.ruleChain[id];
    if (chainFirst[c] < 0) chainFirst[c] = id;
    chainLen[c]++;
  }
  rs.chains.forEach((c, id) => {
    if (chainFirst[id] < 0) chainFirst[id] = 0;
    if (chainLen[id] !== c.chain.rules.length) throw new Error(`chain ${c.chain.name}: rule numbering is not contiguous`);
  });
  const target = new Int32Array(rs.rules.length).fill(-1);
  const matches: Match[][] = [];
  rs.rules.forEach((r, id) => {
    matches.push(kernelOrder(r.matches));
    const t = r.target;
    if (t && (t.kind === 'jump' || t.kind === 'goto')) target[id] = rs.chainIds.get(chainKey(r.family, r.table, t.chain)) ?? -1;
  });
  return { rs, hookChain, target, chainFirst, chainLen, matches };
}
