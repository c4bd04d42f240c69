// One netfilter: hooks, base chains and their priorities, for iptables tables and nft tables alike
// (DESIGN.md "The packet walk", src/engine/SEMANTICS.md "Hooks and base chains").
//
// ---- API for the nft lowering (src/parse/nft-lower.ts) ----------------------------------------
// An nft table is lowered into the same Chain/Rule model the iptables parser produces:
//
//   const t = nftTable('inet', 'kube-proxy', line);                 // family ip | ip6 | inet
//   const c = addNftChain(t, { name: 'nat-prerouting', line,        // a base chain …
//     base: { hook: 'prerouting', type: 'nat', priority: -100, policy: 'ACCEPT' } });
//   const s = addNftChain(t, { name: 'services', line });          // … or a regular chain
//   addNftRule(t, c, { line, text, handle, matches, target: { kind: 'jump', chain: 'services' } });
//   addNftRule(t, c, { line, text, handle, matches, target, evalCost: 0 }); // 2nd rule lowered from one nft rule
//   const nums = numberRules(v4, v6, [t, …]);                        // src/model/ruleset.ts
//
// numberRules numbers the nft tables' chains and rules after the iptables ones (in the order the
// tables are given) and derives every base-chain registration: iptables built-in chains at their
// fixed priorities (IPTABLES_PRIORITY), nft base chains at theirs; an inet table's base chain is
// registered for both families (one chain id, two registrations). Jump/goto targets resolve
// within the rule's own table. Rule.table is the nft table name, Rule.family 4 / 6 / 'inet'.
// In an inet table, put `{kind: 'nfproto', family}` before a rule's ip / ip6 matches (nft's
// implicit dependency): an address match of the other family is false, so `ip saddr != X` alone
// would hold for every IPv6 packet.
// A base chain's end (or `return` at its top) is its policy; `accept` ends only that base chain.

import type { Family } from './addr.js';
import { HOOK_NAMES, type BaseChainSpec, type Chain, type ChainType, type HookName, type Rule, type TableName } from './rule.js';

// What a base chain is belongs to the chain model (rule.ts); re-exported for the hook users.
export { HOOK_NAMES, type BaseChainSpec, type ChainType, type HookName };
/** A table's family as path steps show it: iptables v4 → ip, v6 → ip6; nft tables their own. */
export type TableFamily = 'ip' | 'ip6' | 'inet';

/** One base chain on one hook for one family (COMMON.md "Model"). */
export interface Registration {
  family: Family;
  hook: HookName;
  priority: number;
  type: ChainType;
  /** Flat chain id (Ruleset.chains). */
  chain: number;
  source: 'iptables' | 'nft';
}

/** The priorities iptables (legacy or nft) registers its tables at. */
export const IPTABLES_PRIORITY: Record<TableName, number> = { raw: -300, mangle: -150, nat: -100, filter: 0, security: 50 };
/** iptables nat is srcnat (100) on input and postrouting. */
export const IPTABLES_SRCNAT_PRIORITY = 100;

/**
 * Where the kernel runs nat base chains: all nat chains of a hook run as one group from the NAT
 * core's own hook (nf_nat_inet_fn at NF_IP_PRI_NAT_DST −100 on prerouting/output, NF_IP_PRI_NAT_SRC
 * 100 on input/postrouting), ordered among themselves by their own priorities. Checked in a
 * namespace: a nat output chain at −150 runs after a filter chain at −120, one at −50 before −90.
 */
export function natCorePriority(hook: HookName): number {
  return hook === 'prerouting' || hook === 'output' ? -100 : 100;
}

/** IPVS's own hooks (ip_vs_remote_request at LOCAL_IN NF_IP_PRI_NAT_SRC − 1, ip_vs_local_request at LOCAL_OUT NF_IP_PRI_NAT_DST + 2). */
export const IPVS_PRIORITY: Partial<Record<HookName, number>> = { input: 99, output: -98 };

export function hookOfBuiltin(chain: string): HookName | undefined {
  const h = chain.toLowerCase();
  return (HOOK_NAMES as readonly string[]).includes(h) ? (h as HookName) : undefined;
}

/** An nft table lowered into the model. */
export interface NftTable {
  family: TableFamily;
  name: string;
  /** Line of `table … {` (text) or the index of the table object (JSON). */
  line: number;
  /** Chains by name, in listing order. */
  chains: Map<string, Chain>;
}

export function nftTable(family: TableFamily, name: string, line: number): NftTable {
  return { family, name, line, chains: new Map() };
}

/**
 * Adds a chain to an nft table; `base` makes it a base chain (builtin, with its policy, default
 * ACCEPT). Throws when the table already has a chain of that name.
 */
export function addNftChain(
  t: NftTable,
  c: { name: string; line: number; base?: BaseChainSpec & { policy?: 'ACCEPT' | 'DROP' }; policyText?: string },
): Chain {
  if (t.chains.has(c.name)) throw new Error(`table ${t.family} ${t.name}: chain ${c.name} defined twice`);
  const chain: Chain = { name: c.name, builtin: c.base !== undefined, line: c.line, rules: [] };
  if (c.base) {
    chain.policy = c.base.policy ?? 'ACCEPT';
    chain.base = { hook: c.base.hook, type: c.base.type, priority: c.base.priority };
  }
  if (c.policyText !== undefined) chain.policyText = c.policyText;
  t.chains.set(c.name, chain);
  return chain;
}

/** Appends a rule to a chain of an nft table; fills table, chain, index and family. */
export function addNftRule(t: NftTable, c: Chain, r: Omit<Rule, 'table' | 'chain' | 'index' | 'family'>): Rule {
  const rule: Rule = {
    ...r,
    table: t.name,
    chain: c.name,
    index: c.rules.length + 1,
    family: t.family === 'ip' ? 4 : t.family === 'ip6' ? 6 : 'inet',
  };
  c.rules.push(rule);
  return rule;
}

/** The families a table's base chains register for. */
export function familiesOf(f: TableFamily): Family[] {
  return f === 'ip' ? [4] : f === 'ip6' ? [6] : [4, 6];
}

/** One entry of a hook's walk plan (see hookPlan). chain −1 is the IPVS stage. */
export interface PlanEntry {
  chain: number;
  kind: 'chain' | 'nat' | 'ipvs';
  /** The chain's own priority. */
  priority: number;
  /** Where it runs: its priority, or the NAT core's for nat chains. */
  at: number;
}

/**
 * The order both engines walk one (family, hook) in: every registration by where it runs (nat
 * chains as one group at natCorePriority, ordered inside by their own priority), the IPVS stage
 * where the ruleset has virtual services, ties in registration-listing order (the walk decides
 * ties: SEMANTICS.md). A base chain without rules and with policy ACCEPT changes nothing and is
 * left out (so it never makes a tie).
 */
export function hookPlan(regs: readonly Registration[], chains: readonly { chain: Chain }[], family: Family, hook: HookName, ipvs: boolean): PlanEntry[] {
  const out: (PlanEntry & { seq: number })[] = [];
  regs.forEach((r, seq) => {
    if (r.family !== family || r.hook !== hook) return;
    const c = chains[r.chain].chain;
    if (c.rules.length === 0 && c.policy !== 'DROP') return;
    const nat = r.type === 'nat';
    out.push({ chain: r.chain, kind: nat ? 'nat' : 'chain', priority: r.priority, at: nat ? natCorePriority(hook) : r.priority, seq });
  });
  const ipvsAt = IPVS_PRIORITY[hook];
  if (ipvs && ipvsAt !== undefined) out.push({ chain: -1, kind: 'ipvs', priority: ipvsAt, at: ipvsAt, seq: regs.length });
  // nat chains last among equals (one slot), then by own priority, then listing order
  out.sort((a, b) => a.at - b.at || (a.kind === 'nat' ? 1 : 0) - (b.kind === 'nat' ? 1 : 0) || a.priority - b.priority || a.seq - b.seq);
  return out.map(({ chain, kind, priority, at }) => ({ chain, kind, priority, at }));
}
