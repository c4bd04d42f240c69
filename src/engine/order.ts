// Base chains at one hook and priority run in registration order, which no dump shows: the walk
// treats "A runs before B" as an unknown condition (SEMANTICS.md "Hooks and base chains"). This
// file names such a condition the same way for both engines and for explain.

import { IPVS_PRIORITY, natCorePriority } from '../model/hooks.js';
import type { Ruleset } from '../model/ruleset.js';

/** "ip nat chain PREROUTING", "inet kube-proxy chain nat-prerouting", or "IPVS". */
export function baseChainName(rs: Ruleset, cid: number): string {
  if (cid < 0) return 'IPVS';
  const c = rs.chains[cid];
  return `${c.family} ${c.table} chain ${c.chain.name}`;
}

/** The condition "a runs before b" as a sentence. */
export function orderCondition(rs: Ruleset, a: number, b: number): string {
  return `${baseChainName(rs, a)} runs before ${baseChainName(rs, b)}`;
}

/** Why it is unknown: both at one priority of one hook (nat chains run at the NAT core's). */
export function orderReason(rs: Ruleset, a: number, b: number): string {
  const ra = a >= 0 ? rs.registrations.find((x) => x.chain === a) : undefined;
  const rb = b >= 0 ? rs.registrations.find((x) => x.chain === b) : undefined;
  const r = ra ?? rb;
  let where = '';
  if (r) {
    // two nat chains tie on their own priority; a nat chain and another tie at the NAT core's
    const bothNat = ra?.type === 'nat' && rb?.type === 'nat';
    const at = !ra || !rb ? IPVS_PRIORITY[r.hook] : bothNat || r.type !== 'nat' ? r.priority : natCorePriority(r.hook);
    where = ` at priority ${at} on the ${r.hook} hook`;
  }
  return `${baseChainName(rs, a)} and ${baseChainName(rs, b)} run${where}: their order is the order they were registered in, which no dump shows`;
}

/** Where an uncertain walk condition sits in the dump: its rule, or for an order condition the first chain's declaration. */
export function conditionSite(rs: Ruleset, u: { rule: number; order?: [number, number] }): { line: number; table: string; chain: string; rule: string } {
  if (u.order) {
    const [a, b] = u.order;
    const c = rs.chains[a >= 0 ? a : b];
    return { line: c.chain.line, table: c.table, chain: c.chain.name, rule: orderCondition(rs, a, b) };
  }
  const r = rs.rules[u.rule];
  return { line: r.line, table: r.table, chain: r.chain, rule: r.text };
}
