// A loaded node: both families' iptables tables, nft tables, ipsets, IPVS state and the node
// context, plus one flat numbering of rules and chains that both engines use to refer to them
// (path steps, uncertain conditions), so their answers can be compared id for id, and every base
// chain's registration on its hook (src/model/hooks.ts, which also has the nft builder API).

import type { Addr, Cidr, Family } from './addr.js';
import type { Chain, FamilyRules, ParseWarning, Rule } from './rule.js';
import { BUILTIN_CHAINS, TABLES } from './rule.js';
import type { NftTable, Registration, TableFamily } from './hooks.js';
import { hookOfBuiltin, IPTABLES_PRIORITY, IPTABLES_SRCNAT_PRIORITY, familiesOf } from './hooks.js';
import type { IpsetState } from './ipset.js';
import type { IpvsState } from './ipvs.js';
import type { Routing } from './routing.js';
import type { NftRuleset } from './nft.js';

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
  /** nft tables (src/model/hooks.ts), numbered after the iptables tables; absent: none. */
  nft?: NftTable[];
  /** The nft listing as parsed (src/model/nft.ts), for readers of nft tables as such (kube-proxy service discovery). */
  nftSyntax?: NftRuleset;
  ipsets: IpsetState;
  ipvs?: IpvsState;
  node: NodeContext;
  warnings: ParseWarning[];
  /**
   * All rules, numbered: rules[id]. Order: iptables family 4 then 6, tables in TABLES order, chains
   * in declaration order; then the nft tables in the order given, chains in listing order.
   */
  rules: Rule[];
  /** All chains, numbered the same way: chains[id]; each chain's table, family and table id alongside. */
  chains: ChainInfo[];
  /** Rule id → id of the chain it belongs to. */
  ruleChain: Int32Array;
  /** Lookup: chainKey(family, table, chain) → chain id. */
  chainIds: Map<string, number>;
  /** Rule object → id (built on first use: numbering and compiling never need it). */
  ruleIds: RuleIdLookup;
  /** Every base chain on every hook, per family (iptables built-in chains and nft base chains), in numbering order. */
  registrations: Registration[];
}

export interface ChainInfo {
  chain: Chain;
  /** iptables table name or nft table name. */
  table: string;
  /** ip / ip6 (iptables v4 / v6, nft ip / ip6) or inet. */
  family: TableFamily;
  source: 'iptables' | 'nft';
  /** Index of the chain's table in numbering order: jump and goto targets resolve within it. */
  tableId: number;
}

/** Rule object → its id. */
export interface RuleIdLookup {
  get(rule: Rule): number | undefined;
}

/** A Map of 300k object keys costs more than numbering itself: built only when someone asks. */
class LazyRuleIds implements RuleIdLookup {
  private map: Map<Rule, number> | undefined;
  constructor(private readonly rules: readonly Rule[]) {}
  get(rule: Rule): number | undefined {
    if (!this.map) {
      this.map = new Map();
      for (let i = 0; i < this.rules.length; i++) this.map.set(this.rules[i]!, i);
    }
    return this.map.get(rule);
  }
}

/**
 * chainKey → chain id, filled from the chain list on first use: only the reference walk resolves
 * jumps by name, so a load that compiles and packs never builds 100k+ key strings (the compiler
 * resolves targets within a table by name on its own). Behaves as a Map in every other respect.
 */
export class LazyChainIds extends Map<string, number> {
  private pending: readonly ChainInfo[] | null;
  constructor(chains: readonly ChainInfo[]) {
    super();
    this.pending = chains;
  }
  private fill(): void {
    const chains = this.pending;
    if (!chains) return;
    this.pending = null;
    for (let id = 0; id < chains.length; id++) {
      const c = chains[id]!;
      super.set(chainKey(keyFamily(c.source, c.family), c.table, c.chain.name), id);
    }
  }
  override get(key: string): number | undefined {
    this.fill();
    return super.get(key);
  }
  override has(key: string): boolean {
    this.fill();
    return super.has(key);
  }
  override set(key: string, id: number): this {
    this.fill();
    return super.set(key, id);
  }
  override delete(key: string): boolean {
    this.fill();
    return super.delete(key);
  }
  override clear(): void {
    this.pending = null;
    super.clear();
  }
  override get size(): number {
    this.fill();
    return super.size;
  }
  override forEach(fn: (id: number, key: string, map: Map<string, number>) => void, thisArg?: unknown): void {
    this.fill();
    super.forEach(fn, thisArg);
  }
  override entries(): MapIterator<[string, number]> {
    this.fill();
    return super.entries();
  }
  override keys(): MapIterator<string> {
    this.fill();
    return super.keys();
  }
  override values(): MapIterator<number> {
    this.fill();
    return super.values();
  }
  override [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }
}

/** The family a chain's table is keyed by in chainKey: iptables tables by 4 / 6, nft tables by their family name. */
export function keyFamily(source: ChainInfo['source'], family: TableFamily): Family | TableFamily {
  return source === 'nft' ? family : family === 'ip' ? 4 : 6;
}

/** iptables tables are keyed by family 4 / 6, nft tables by their family name (ip, ip6, inet). */
export function chainKey(family: Family | TableFamily, table: string, chain: string): string {
  return `${family}:${table}:${chain}`;
}

/** Builds the flat numbering and the base-chain registrations over already-parsed tables. */
export function numberRules(
  v4: FamilyRules | undefined,
  v6: FamilyRules | undefined,
  nft: readonly NftTable[] = [],
): Pick<Ruleset, 'rules' | 'chains' | 'ruleChain' | 'chainIds' | 'ruleIds' | 'registrations'> {
  // Count first: the rule list and its owners are allocated once, at their size.
  let nrules = 0;
  for (const fam of [v4, v6]) for (const t of fam?.tables.values() ?? []) for (const c of t.chains.values()) nrules += c.rules.length;
  for (const t of nft) for (const c of t.chains.values()) nrules += c.rules.length;
  const rules: Rule[] = new Array(nrules);
  const owner = new Int32Array(nrules);
  const chains: ChainInfo[] = [];
  const registrations: Registration[] = [];
  let tableId = 0;
  let at = 0;
  const add = (chain: Chain, info: Omit<ChainInfo, 'chain'>): number => {
    const cid = chains.length;
    chains.push({ chain, table: info.table, family: info.family, source: info.source, tableId: info.tableId });
    const rs = chain.rules;
    for (let i = 0; i < rs.length; i++) rules[at + i] = rs[i]!;
    owner.fill(cid, at, at + rs.length);
    at += rs.length;
    return cid;
  };
  for (const fam of [v4, v6]) {
    if (!fam) continue;
    for (const t of TABLES) {
      const table = fam.tables.get(t);
      if (!table) continue;
      for (const chain of table.chains.values()) {
        const cid = add(chain, { table: t, family: fam.family === 4 ? 'ip' : 'ip6', source: 'iptables', tableId });
        const hook = BUILTIN_CHAINS[t].includes(chain.name) ? hookOfBuiltin(chain.name) : undefined;
        if (!hook) continue;
        const nat = t === 'nat';
        const priority = nat && (hook === 'input' || hook === 'postrouting') ? IPTABLES_SRCNAT_PRIORITY : IPTABLES_PRIORITY[t];
        const type = nat ? 'nat' : t === 'mangle' && hook === 'output' ? 'route' : 'filter';
        registrations.push({ family: fam.family, hook, priority, type, chain: cid, source: 'iptables' });
      }
      tableId++;
    }
  }
  for (const table of nft) {
    for (const chain of table.chains.values()) {
      const cid = add(chain, { table: table.name, family: table.family, source: 'nft', tableId });
      const b = chain.base;
      if (!b) continue;
      for (const family of familiesOf(table.family)) {
        registrations.push({ family, hook: b.hook, priority: b.priority, type: b.type, chain: cid, source: 'nft' });
      }
    }
    tableId++;
  }
  return { rules, chains, ruleChain: owner, chainIds: new LazyChainIds(chains), ruleIds: new LazyRuleIds(rules), registrations };
}

/** Chain id of `name` in the table of chain `from` (jump/goto resolution), -1 when the table lacks it. */
export function chainInTable(rs: Pick<Ruleset, 'chains' | 'chainIds'>, from: number, name: string): number {
  const c = rs.chains[from];
  return rs.chainIds.get(chainKey(keyFamily(c.source, c.family), c.table, name)) ?? -1;
}
