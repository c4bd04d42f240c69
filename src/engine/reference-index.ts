// Per-ruleset lookups the reference walk needs on its hot path, built once per engine: each
// (family, hook)'s walk plan over the base chains (src/model/hooks.ts hookPlan), each rule's
// jump/goto target chain id, the contiguous rule-id range of each chain and each rule's matches in
// kernel evaluation order.

import type { Match } from '../model/rule.js';
import type { Ruleset } from '../model/ruleset.js';
import { chainInTable } from '../model/ruleset.js';
import { HOOK_NAMES, hookPlan, type PlanEntry } from '../model/hooks.js';
import { kernelOrder } from '../compile/ops.js';

export interface RuleIndex {
  rs: Ruleset;
  /** plans[family === 4 ? 0 : 1][hook] (HOOK_NAMES index): the base chains in walk order. */
  plans: [PlanEntry[][], PlanEntry[][]];
  /** Rule id → chain id of its -j/-g target, -1 when none or unknown. */
  target: Int32Array;
  /** Chain id → id of its first rule, and its rule count (numberRules keeps a chain's rules contiguous). */
  chainFirst: Int32Array;
  chainLen: Int32Array;
  /** Rule id → its matches in the order the kernel evaluates them. */
  matches: Match[][];
}

export function createRuleIndex(rs: Ruleset): RuleIndex {
  const ipvs = (rs.ipvs?.services.length ?? 0) > 0;
  const plans: [PlanEntry[][], PlanEntry[][]] = [
    HOOK_NAMES.map((h) => hookPlan(rs.registrations, rs.chains, 4, h, ipvs)),
    HOOK_NAMES.map((h) => hookPlan(rs.registrations, rs.chains, 6, h, ipvs)),
  ];
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
    if (t && (t.kind === 'jump' || t.kind === 'goto')) target[id] = chainInTable(rs, rs.ruleChain[id], t.chain);
  });
  return { rs, plans, target, chainFirst, chainLen, matches };
}
