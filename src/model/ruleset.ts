// A loaded node: both families' tables, ipsets, IPVS state and the node context, plus one flat
// numbering of rules and chains that both engines use to refer to them (path steps, uncertain
// conditions), so their answers can be compared id for id.

import type { Addr, Cidr, Family } from './addr.js';
import type { Chain, FamilyRules, ParseWarning, Rule, TableName } from './rule.js';
import { TABLES } from './rule.js';
import type { IpsetState } from './ipset.js';
import type { IpvsState } from './ipvs.js';
import type { Routing } from './routing.js';

/** An interface name as the walk sees it; `prefix` when only a `+` pattern is known (e.g. `eni+`). */
export interface Iface {
  name: string;
  prefix: boolean;
}

/** Resolved node context (DESIGN.md "Node context"). */
export interface NodeContext {
  /** Node-local addresses given by the user plus the IPVS virtual addresses (not the implicit loopback). */
  addresses: Addr[];
  podCIDRs: Cidr[];
  uplink: Iface;
  pods: Iface;
  /**
   * The node's own addresses are known (given, or read from its `ip addr` / local routes): an
   * address not among them is not local. When false, locality is an unknown condition except for
   * what the input itself proves (loopback, IPVS virtual addresses).
   */
  addressesKnown: boolean;
  /** Local routes wider than one address (table local, e.g. `local 10.0.0.0/8 dev lo`): node-local too. */
  localRanges: Cidr[];
  /** The node's interfaces, routes and policy rules, when given (src/parse/iproute.ts). */
  routing?: Routing;
}

export interface Ruleset {
  /** Per family (absent when no dump of that family was given). */
  v4?: FamilyRules;
  v6?: FamilyRules;
  ipsets: IpsetState;
  ipvs?: IpvsState;
  node: NodeContext;
  warnings: ParseWarning[];
  /** All rules, numbered: rules[id]. Order: family 4 then 6, tables in TABLES order, chains in declaration order. */
  rules: Rule[];
  /** All chains, numbered the same way: chains[id]; each chain's table and family alongside. */
  chains: { chain: Chain; table: TableName; family: Family }[];
  /** Rule id → id of the chain it belongs to. */
  ruleChain: Int32Array;
  /** Lookup: `${family}:${table}:${chain}` → chain id. */
  chainIds: Map<string, number>;
  /** Rule object → id. */
  ruleIds: Map<Rule, number>;
}

export function chainKey(family: Family, table: TableName, chain: string): string {
  return `${family}:${table}:${chain}`;
}

/** Builds the flat numbering over already-parsed tables. */
export function numberRules(
  v4: FamilyRules | undefined,
  v6: FamilyRules | undefined,
): Pick<Ruleset, 'rules' | 'chains' | 'ruleChain' | 'chainIds' | 'ruleIds'> {
  const rules: Rule[] = [];
  const chains: Ruleset['chains'] = [];
  const chainIds = new Map<string, number>();
  const ruleIds = new Map<Rule, number>();
  const owner: number[] = [];
  for (const fam of [v4, v6]) {
    if (!fam) continue;
    for (const t of TABLES) {
      const table = fam.tables.get(t);
      if (!table) continue;
      for (const chain of table.chains.values()) {
        const cid = chains.length;
        chains.push({ chain, table: t, family: fam.family });
        chainIds.set(chainKey(fam.family, t, chain.name), cid);
        for (const r of chain.rules) {
          ruleIds.set(r, rules.length);
          rules.push(r);
          owner.push(cid);
        }
      }
    }
  }
  return { rules, chains, ruleChain: Int32Array.from(owner), chainIds, ruleIds };
}
