// NftRuleset (src/model/nft.ts) → the Chain/Rule model both engines walk, plus ipset-like sets.
//
// API (stable):
//   lowerNft(ruleset, { iptablesTables?, lenient?, source? }) → NftLowered
//     .tables   lowered tables {family: 'ip'|'ip6'|'inet', name, line, chains} (base chains carry
//               `base: {hook, type, priority}` and their policy); rules keep line, text, handle
//     .sets     IpSet records for IpsetState (named and anonymous nft sets), keyed by their `name`
//     .warnings what was skipped or approximated; .skipped iptables-nft tables taken from iptables-save
//
// One nft rule becomes one or more model rules, all with the nft rule's line, text and handle;
// every model rule after the first carries evalCost 0 (the kernel evaluates one rule):
//   - verdict maps (`vmap`), data maps (`dnat to … map`, `meta mark set … map`): one rule per
//     element, the element's key as plain matches (dst, proto, dport, …); a miss falls through;
//   - `numgen random mod N`: a statistic-random cascade whose thresholds give each value 1/N;
//     `numgen inc`: an nth cascade; jhash/symhash: an unknown condition per bucket;
//   - a map with `jump`/`continue` elements runs in a helper chain `<chain>/map#<rule position>` (entered by
//     jump, elements by goto) so a return resumes after the nft rule, never at the next element;
//   - statements with side effects before the verdict (log, mark set, notrack) become a rule of
//     their own followed by the rest (pure conditions repeated);
//   - set lookups: static sets → `set` matches on IpSets; dynamic sets (updated by `update`/`add`,
//     or with timeouts) → `recent` (rcheck / set), OR-ed with the listed elements (a live node's
//     elements with `expires` pin their source);
//   - `fib … type` → addrtype; ct state/status → ctstate bits; `meta mark set` with | & ^ → MARK;
//     `ct mark set` → CONNMARK; reject types → REJECT --reject-with; xt → unknown (uncertain).
// Anything else lowers to an `unknown` match or `unknownTarget`: reported as uncertain, never
// silently matched or skipped.

import type { Addr, Cidr, Family } from '../model/addr.js';
import { parseAddr, parseCidr } from '../model/addr.js';
import type { EntryPart, IpSet, SetDim, SetEntry } from '../model/ipset.js';
import type { NftChain, NftExpr, NftFamily, NftJson, NftRule, NftRuleset, NftSet, NftTable } from '../model/nft.js';
import { recordOf, tagOf } from '../model/nft.js';
import type { ChainType, HookName, NftTable as ModelNftTable, TableFamily } from '../model/hooks.js';
import type { Chain, Match, MarkOp, NatRange, ParseWarning, PortRange, Rule, TableName, Target } from '../model/rule.js';
import { ADDRTYPE, CT, PROTO } from '../model/rule.js';
import { IP_PROTOCOLS } from '../model/protocols.js';
import { ParseError, quote } from './errors.js';
import { renderExpr, renderStatement } from './nft-render.js';

export type LoweredFamily = TableFamily;

/** A lowered rule / chain / table: the model's own (src/model/hooks.ts builds the same shapes). */
export type LoweredRule = Rule;
export type LoweredChain = Chain;
export type LoweredTable = ModelNftTable;

export interface NftLowered {
  tables: LoweredTable[];
  sets: IpSet[];
  warnings: ParseWarning[];
  /** `family table` of iptables-nft tables left out because the iptables-save dump has them. */
  skipped: string[];
}

export interface NftLowerOptions {
  /** iptables tables the iptables-save dumps of this node hold, per family: those come from there. */
  iptablesTables?: { 4?: ReadonlySet<string>; 6?: ReadonlySet<string> };
  lenient?: boolean;
  source?: string;
}

const TWO31 = 0x80000000;
const HOOKS = new Set(['prerouting', 'input', 'forward', 'output', 'postrouting']);
const IPTABLES_TABLES = new Set(['raw', 'mangle', 'nat', 'filter', 'security']);
/** Cap on the model rules one nft rule may expand into through set literals (not maps). */
const MAX_ALTERNATIVES = 4096;

/** The protocol names nft rules here use (numbers from the one map). */
const PROTO_NAMES: Record<string, number> = Object.fromEntries(
  (['icmp', 'igmp', 'tcp', 'udp', 'dccp', 'gre', 'esp', 'ah', 'icmpv6', 'ipv6-icmp', 'sctp', 'udplite'] as const).map((n) => [n, IP_PROTOCOLS[n]]),
);
const ICMP_TYPES: Record<string, number> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8, 'router-advertisement': 9,
  'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12, 'timestamp-request': 13, 'timestamp-reply': 14,
  'info-request': 15, 'info-reply': 16, 'address-mask-request': 17, 'address-mask-reply': 18,
};
const ICMPV6_TYPES: Record<string, number> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4, 'echo-request': 128, 'echo-reply': 129,
  'mld-listener-query': 130, 'mld-listener-report': 131, 'mld-listener-done': 132, 'mld-listener-reduction': 132, 'nd-router-solicit': 133,
  'nd-router-advert': 134, 'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138,
  'ind-neighbor-solicit': 141, 'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
};
const CT_STATES: Record<string, number> = { invalid: CT.INVALID, new: CT.NEW, established: CT.ESTABLISHED, related: CT.RELATED, untracked: CT.UNTRACKED };
const CT_STATUS: Record<string, number> = { snat: CT.SNAT, dnat: CT.DNAT };
const FIB_TYPES: Record<string, number> = {
  unspec: ADDRTYPE.UNSPEC, unicast: ADDRTYPE.UNICAST, local: ADDRTYPE.LOCAL, broadcast: ADDRTYPE.BROADCAST, anycast: ADDRTYPE.ANYCAST,
  multicast: ADDRTYPE.MULTICAST, blackhole: ADDRTYPE.BLACKHOLE, unreachable: ADDRTYPE.UNREACHABLE, prohibit: ADDRTYPE.PROHIBIT,
  throw: ADDRTYPE.THROW, nat: ADDRTYPE.NAT, xresolve: ADDRTYPE.XRESOLVE,
};
/** Protocols `th` (any transport header with ports) can mean in a set key. */
const TH_PROTOS = [PROTO.tcp, PROTO.udp, PROTO.sctp, 136, 33];

/** Thrown for a construct that cannot be lowered exactly: the caller keeps it as unknown. */
class Unsupported extends Error {}

/** One field of a (possibly concatenated) key, as the model can test it. */
type Comp =
  | { k: 'addr'; side: 'src' | 'dst'; fam: Family }
  | { k: 'proto' }
  | { k: 'port'; side: 'src' | 'dst'; proto?: number }
  | { k: 'iface'; side: 'in' | 'out' }
  | { k: 'mark' }
  | { k: 'ctmark' }
  | { k: 'ctstate'; bits: Record<string, number> }
  | { k: 'icmp'; v6: boolean }
  | { k: 'fib'; side: 'src' | 'dst'; limitIn: boolean }
  | { k: 'nfproto' }
  | { k: 'ctdir' }
  | { k: 'random' }
  | { k: 'numgen'; mode: string; mod: number; offset: number }
  | { k: 'hash'; text: string; mod: number; offset: number };

/** Conditions of one alternative (AND); a statement may give several alternatives (OR). */
type Alt = Match[];

interface Emit {
  matches: Match[];
  target: Target | null;
}

function v4zero(): Cidr {
  return { family: 4, w: [0, 0, 0, 0], prefix: 0 };
}
function v6zero(): Cidr {
  return { family: 6, w: [0, 0, 0, 0], prefix: 0 };
}
/** "The packet is IPv4/IPv6": an inet table's implicit nfproto dependency. */
function familyGuard(f: Family): Match {
  return { kind: 'src', invert: false, cidr: f === 4 ? v4zero() : v6zero() };
}

function cross(a: Alt[], b: Alt[]): Alt[] {
  const out: Alt[] = [];
  for (const x of a) for (const y of b) out.push([...x, ...y]);
  return out;
}

/** Addresses lo..hi as the fewest CIDRs. */
export function rangeToCidrs(lo: Addr, hi: Addr): Cidr[] {
  const bits = lo.family === 4 ? 32 : 128;
  const toBig = (a: Addr) => (lo.family === 4 ? BigInt(a.w[0]) : a.w.reduce((acc, x) => (acc << 32n) | BigInt(x), 0n));
  let cur = toBig(lo);
  const end = toBig(hi);
  const out: Cidr[] = [];
  while (cur <= end && out.length < 4096) {
    let size = 0;
    while (size < bits && (cur & ((1n << BigInt(size + 1)) - 1n)) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= end) size++;
    const w: [number, number, number, number] = [0, 0, 0, 0];
    if (lo.family === 4) w[0] = Number(cur);
    else for (let k = 0; k < 4; k++) w[k] = Number((cur >> BigInt(96 - 32 * k)) & 0xffffffffn);
    out.push({ family: lo.family, w, prefix: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}

class Lowerer {
  private readonly warnings: ParseWarning[] = [];
  private readonly sets: IpSet[] = [];
  private readonly cidrs = new Map<string, Cidr>();
  /** Shared jump/goto targets per table (immutable, like every target). */
  private jumps = new Map<string, Target>();
  private gotos = new Map<string, Target>();
  private readonly source: string;
  private readonly lenient: boolean;
  // Per table:
  private table!: NftTable;
  private lt!: LoweredTable;
  private fam: Family = 4;
  private inet = false;
  private setByName = new Map<string, NftSet>();
  private dynamic = new Set<string>();
  private ipsetOf = new Map<string, IpSet>();
  private anon = 0;
  // Per rule:
  private rule!: NftRule;
  private chainName = '';
  /** 1-based position of the nft rule in its chain (names helper chains the same for text and JSON). */
  private rulePos = 0;
  /** Helper chains made for the current nft rule. */
  private helpers = 0;
  /** The rest of the current rule runs in a helper chain: return/goto there would resume in the wrong place. */
  private helperVerdicts = false;
  private emitted = 0;

  constructor(private readonly opts: NftLowerOptions) {
    this.source = opts.source ?? 'nftables';
    this.lenient = !!opts.lenient;
  }

  private warn(line: number, message: string): void {
    if (this.warnings.length < 1000) this.warnings.push({ line, column: 1, message });
  }
  private soft(line: number, message: string, text?: string): void {
    if (!this.lenient) throw new ParseError(message, line, 1, this.source, text);
    this.warn(line, message);
  }

  run(rs: NftRuleset): NftLowered {
    const tables: LoweredTable[] = [];
    const skipped: string[] = [];
    for (const t of rs.tables) {
      if (t.family !== 'ip' && t.family !== 'ip6' && t.family !== 'inet') {
        const hooked = t.chains.some((c) => c.base);
        if (hooked) this.warn(t.line, `table ${t.family} ${t.name}: ${t.family} tables are not walked (routed packets only); its base chains are ignored`);
        continue;
      }
      const f: Family = t.family === 'ip6' ? 6 : 4;
      if (t.family !== 'inet' && IPTABLES_TABLES.has(t.name) && this.opts.iptablesTables?.[f]?.has(t.name)) {
        skipped.push(`${t.family} ${t.name}`);
        this.warn(t.line, `table ${t.family} ${t.name} is iptables-nft's: taken from the iptables-save dump, not from the nft listing`);
        continue;
      }
      tables.push(this.lowerTable(t));
    }
    return { tables, sets: this.sets, warnings: this.warnings, skipped };
  }

  private lowerTable(t: NftTable): LoweredTable {
    this.table = t;
    this.fam = t.family === 'ip6' ? 6 : 4;
    this.inet = t.family === 'inet';
    this.setByName = new Map(t.sets.map((s) => [s.name, s]));
    this.jumps = new Map();
    this.gotos = new Map();
    this.ipsetOf = new Map();
    this.anon = 0;
    // Sets updated from the packet path are dynamic: their contents at listing time are a snapshot.
    this.dynamic = new Set();
    for (const s of t.sets) if (s.flags.includes('dynamic') || s.flags.includes('timeout') || s.timeout !== undefined) this.dynamic.add(s.name);
    for (const c of t.chains) {
      for (const r of c.rules) {
        for (const st of r.expr) {
          const b = recordOf(recordOf(st)?.set);
          if (b && typeof b.set === 'string' && b.set.startsWith('@')) this.dynamic.add(b.set.slice(1));
        }
      }
    }
    const lt: LoweredTable = { family: t.family as LoweredFamily, name: t.name, line: t.line, chains: new Map() };
    this.lt = lt;
    for (const c of t.chains) {
      if (lt.chains.has(c.name)) {
        this.soft(c.line, `chain ${quote(c.name)} listed twice in table ${t.family} ${t.name}`);
        continue;
      }
      const chain: LoweredChain = { name: c.name, builtin: false, line: c.line, rules: [] };
      if (c.base) {
        if (!HOOKS.has(c.base.hook)) {
          this.warn(c.line, `chain ${c.name}: hook ${c.base.hook} is not walked; its rules are ignored`);
        } else {
          const type = c.base.type;
          if (type !== 'filter' && type !== 'nat' && type !== 'route') this.soft(c.line, `chain ${c.name}: unknown chain type ${quote(type)}`);
          chain.builtin = true;
          chain.policy = c.base.policy === 'drop' ? 'DROP' : 'ACCEPT';
          chain.policyText = `policy ${c.base.policy};`;
          chain.base = { hook: c.base.hook as HookName, type: (type === 'nat' || type === 'route' ? type : 'filter') as ChainType, priority: c.base.prio };
        }
      }
      lt.chains.set(c.name, chain);
    }
    for (const c of t.chains) {
      const chain = lt.chains.get(c.name)!;
      c.rules.forEach((r, i) => {
        this.rulePos = i + 1;
        this.lowerRule(c, chain, r);
      });
    }
    return lt;
  }

  // ---- rules -----------------------------------------------------------------------------------

  private push(chain: LoweredChain, e: Emit): void {
    const r: LoweredRule = {
      line: this.rule.line,
      text: this.rule.text,
      table: this.table.name,
      chain: chain.name,
      // The nft rule's position in its listed chain (every model rule lowered from it shares it).
      index: this.rulePos,
      matches: this.inet ? dedupe(e.matches) : e.matches,
      target: e.target,
      family: this.inet ? 'inet' : this.fam,
    };
    if (this.rule.handle !== undefined) r.handle = this.rule.handle;
    if (this.emitted > 0) r.evalCost = 0;
    this.emitted++;
    chain.rules.push(r);
  }

  private lowerRule(c: NftChain, chain0: LoweredChain, r: NftRule): void {
    this.rule = r;
    this.chainName = c.name;
    this.emitted = 0;
    this.helpers = 0;
    this.helperVerdicts = false;
    let alts: Alt[] = [[]];
    let chain = chain0;
    const stmts = r.expr;
    for (let i = 0; i < stmts.length; i++) {
      const st = stmts[i];
      const tag = tagOf(st) ?? '';
      const body = recordOf(st)?.[tag] ?? null;
      const last = i === stmts.length - 1;
      switch (tag) {
        case 'match':
          alts = this.and(alts, this.condition(recordOf(body) ?? {}));
          continue;
        case 'counter':
          continue;
        case 'limit':
        case 'quota':
        case 'meter':
          alts = this.and(alts, [[{ kind: 'limit', module: tag, text: renderStatement({ [tag]: body }) }]]);
          continue;
        case 'set': {
          alts = this.and(alts, [this.setUpdate(recordOf(body) ?? {})]);
          continue;
        }
        case 'xt': {
          const b = recordOf(body);
          if (b?.type === 'target') {
            [chain, alts] = this.sideEffect(chain, alts, { kind: 'unknownTarget', name: `xt ${String(b.name)}`, text: `xt target ${String(b.name)}` }, last);
            if (!last) continue;
            return;
          }
          alts = this.and(alts, [[{ kind: 'unknown', module: `xt ${String(b?.name)}`, text: `xt match ${String(b?.name)}`, reason: `iptables-nft match "${String(b?.name)}" (xt) is opaque in nft listings; give the node's iptables-save dump to decide it` }]]);
          continue;
        }
        case 'unknown':
          alts = this.and(alts, [[this.unknownMatch(String(body))]]);
          continue;
        case 'accept': case 'drop': case 'return': case 'continue': case 'jump': case 'goto':
          if (this.helperVerdicts && (tag === 'return' || tag === 'goto')) {
            this.warn(this.rule.line, `${tag} after a mark or conntrack change in the same rule is walked from a helper chain: it resumes after this rule instead of leaving the chain`);
          }
          for (const a of alts) this.push(chain, { matches: a, target: this.verdict(st) });
          this.rest(stmts, i);
          return;
        case 'reject':
          for (const a of alts) this.push(chain, { matches: a, target: this.reject(recordOf(body)) });
          this.rest(stmts, i);
          return;
        case 'dnat': case 'snat': case 'masquerade': case 'redirect':
          this.nat(chain, alts, tag, recordOf(body) ?? {});
          this.rest(stmts, i);
          return;
        case 'vmap': {
          const b = recordOf(body) ?? {};
          this.map(chain, alts, b.key ?? null, b.data ?? null, (data) => this.verdict(data), true);
          this.rest(stmts, i);
          return;
        }
        case 'mangle': {
          const b = recordOf(body) ?? {};
          const value = b.value ?? null;
          const m = recordOf(recordOf(value)?.map);
          if (m) {
            // `meta mark set tcp dport map @marks`: one rule per element; a miss ends the rule.
            const key = b.key ?? null;
            const next = this.map(chain, alts, m.key ?? null, m.data ?? null, (data) => this.mangleTarget(key, data), false);
            if (last) return;
            alts = next;
            continue;
          }
          [chain, alts] = this.sideEffect(chain, alts, this.mangleTarget(b.key ?? null, value), last);
          if (last) return;
          continue;
        }
        case 'log':
          [chain, alts] = this.sideEffect(chain, alts, { kind: 'noop', name: 'LOG' }, last);
          if (last) return;
          continue;
        case 'notrack':
          [chain, alts] = this.sideEffect(chain, alts, { kind: 'CT', notrack: true }, last);
          if (last) return;
          continue;
        case 'flow':
          [chain, alts] = this.sideEffect(chain, alts, { kind: 'noop', name: 'flow offload' }, last);
          if (last) return;
          continue;
        default: {
          // queue, dup, fwd, tproxy, synproxy, ct helper/timeout set, …
          [chain, alts] = this.sideEffect(chain, alts, { kind: 'unknownTarget', name: tag || 'statement', text: renderStatement(st) }, last);
          if (last) return;
        }
      }
    }
    // No verdict: the rule matches and evaluation continues with the next rule.
    for (const a of alts) this.push(chain, { matches: a, target: null });
  }

  /** Statements after a terminal verdict never run; say so once. */
  private rest(stmts: NftExpr[], i: number): void {
    const left = stmts.slice(i + 1).filter((s) => tagOf(s) !== 'counter');
    if (left.length) this.warn(this.rule.line, `statements after the verdict never run: ${left.map((s) => renderStatement(s)).join(' ')}`);
  }

  /** A non-terminal statement: its own rule(s) now, conditions carried on for what follows. */
  private sideEffect(chain: LoweredChain, alts: Alt[], t: Target, last: boolean): [LoweredChain, Alt[]] {
    // What follows re-tests the conditions so far; that is exact unless the side effect changes
    // what they read (a mark test before `meta mark set`) or they draw (statistic): then the rest
    // of the rule runs in a helper chain entered once.
    const reads = t.kind === 'MARK' || (t.kind === 'CONNMARK' && t.mode === 'restore') ? 'mark' : t.kind === 'CONNMARK' ? 'connmark' : t.kind === 'CT' ? 'ctstate' : null;
    const risky = !last && alts.some((a) => a.some((m) => m.kind === reads || m.kind === 'random' || m.kind === 'nth' || m.kind === 'recent'));
    if (!risky) {
      for (const a of alts) this.push(chain, { matches: a, target: t });
      return [chain, alts];
    }
    const name = `${this.chainName}/rule#${this.rulePos}${this.helpers ? `.${this.helpers}` : ''}`;
    this.helpers++;
    const helper: LoweredChain = { name, builtin: false, line: this.rule.line, rules: [] };
    this.lt.chains.set(name, helper);
    for (const a of alts) this.push(chain, { matches: a, target: { kind: 'jump', chain: name } });
    this.push(helper, { matches: [], target: t });
    this.helperVerdicts = true;
    return [helper, [[]]];
  }

  private and(alts: Alt[], more: Alt[]): Alt[] {
    if (more.length === 1) return alts.map((a) => [...a, ...more[0]]);
    const out = cross(alts, more);
    if (out.length > MAX_ALTERNATIVES) {
      this.warn(this.rule.line, `rule expands into more than ${MAX_ALTERNATIVES} alternatives; kept as uncertain`);
      return alts.map((a) => [...a, this.unknownMatch(this.rule.text)]);
    }
    return out;
  }

  private unknownMatch(text: string, reason?: string): Match {
    return { kind: 'unknown', module: 'nft', text, reason: reason ?? `nft expression ${quote(text)} is not modelled` };
  }

  /** The family dependency an ip/ip6 expression carries in an inet table (once per rule). */
  private guard(f: Family): Match[] {
    return this.inet ? [familyGuard(f)] : [];
  }

  // ---- expressions → components ------------------------------------------------------------------

  /** The components of a key expression; throws Unsupported. */
  private comps(e: NftExpr): Comp[] {
    const c = recordOf(e)?.concat;
    const items = Array.isArray(c) ? c : [e];
    return items.map((x) => this.comp(x));
  }

  private comp(e: NftExpr): Comp {
    const tag = tagOf(e);
    const b = recordOf(recordOf(e)?.[tag ?? ''] ?? null);
    if (tag === 'payload' && b) {
      const p = String(b.protocol);
      const f = String(b.field);
      if ((p === 'ip' || p === 'ip6') && (f === 'saddr' || f === 'daddr')) return { k: 'addr', side: f === 'saddr' ? 'src' : 'dst', fam: p === 'ip' ? 4 : 6 };
      if ((p === 'ip' && f === 'protocol') || (p === 'ip6' && f === 'nexthdr')) return { k: 'proto' };
      if ((f === 'sport' || f === 'dport') && p in PROTO_NAMES) return { k: 'port', side: f === 'sport' ? 'src' : 'dst', proto: PROTO_NAMES[p] };
      if ((f === 'sport' || f === 'dport') && p === 'th') return { k: 'port', side: f === 'sport' ? 'src' : 'dst' };
      if ((p === 'icmp' || p === 'icmpv6') && f === 'type') return { k: 'icmp', v6: p === 'icmpv6' };
    }
    if (tag === 'meta' && b) {
      switch (b.key) {
        case 'l4proto':
          return { k: 'proto' };
        case 'iifname': case 'iif':
          return { k: 'iface', side: 'in' };
        case 'oifname': case 'oif':
          return { k: 'iface', side: 'out' };
        case 'mark':
          return { k: 'mark' };
        case 'nfproto':
          return { k: 'nfproto' };
        case 'random':
          return { k: 'random' };
      }
    }
    if (tag === 'ct' && b && b.dir === undefined) {
      if (b.key === 'state') return { k: 'ctstate', bits: CT_STATES };
      if (b.key === 'status') return { k: 'ctstate', bits: CT_STATUS };
      if (b.key === 'mark') return { k: 'ctmark' };
      if (b.key === 'direction') return { k: 'ctdir' };
    }
    if (tag === 'fib' && b && b.result === 'type') {
      const flags = (Array.isArray(b.flags) ? b.flags : [b.flags]).map(String);
      const side = flags.includes('saddr') ? 'src' : flags.includes('daddr') ? 'dst' : null;
      if (side && flags.every((x) => x === 'saddr' || x === 'daddr' || x === 'iif' || x === 'oif') && flags.length <= 2) {
        return { k: 'fib', side, limitIn: flags.includes('iif') || flags.includes('oif') };
      }
    }
    if (tag === 'numgen' && b) return { k: 'numgen', mode: String(b.mode), mod: Number(b.mod), offset: Number(b.offset ?? 0) };
    if ((tag === 'jhash' || tag === 'symhash') && b) return { k: 'hash', text: renderExpr(e), mod: Number(b.mod), offset: Number(b.offset ?? 0) };
    throw new Unsupported(renderExpr(e));
  }

  // ---- relations ---------------------------------------------------------------------------------

  /** `{"match": {op, left, right}}` → alternatives. */
  private condition(m: Record<string, NftJson>): Alt[] {
    const op = String(m.op ?? '==');
    const left = m.left ?? null;
    const right = m.right ?? null;
    const text = () => renderStatement({ match: m } as NftExpr);
    try {
      // `meta mark & 0x4000 == 0`, `tcp flags & (syn|ack) == syn`, `meta random & 2147483647 < N`
      const and = recordOf(left)?.['&'];
      if (Array.isArray(and) && and.length === 2) return [this.masked(and[0] ?? null, and[1] ?? null, op, right)];
      const tag = tagOf(right);
      if (typeof right === 'string' && right.startsWith('@')) return this.lookup(left, right.slice(1), op === '!=');
      const comps = this.comps(left);
      if (tag === 'set') {
        const items = recordOf(right)!.set;
        return this.literalSet(comps, left, Array.isArray(items) ? items : [items ?? null], op === '!=');
      }
      if (comps.length > 1) {
        const vals = recordOf(right)?.concat;
        if (!Array.isArray(vals) || vals.length !== comps.length || op !== '==') throw new Unsupported('concatenation');
        return [this.elementMatches(comps, vals)];
      }
      return [this.compare(comps[0], op, right)];
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      return [[this.unknownMatch(text())]];
    }
  }

  /** `X & mask OP value`. */
  private masked(x: NftJson, mask: NftJson, op: string, right: NftJson): Match[] {
    const tf = recordOf(recordOf(x)?.payload);
    if (tf && tf.protocol === 'tcp' && tf.field === 'flags' && (op === '==' || op === '!=')) {
      return [{ kind: 'proto', invert: false, proto: PROTO.tcp }, { kind: 'tcpFlags', invert: op === '!=', mask: tcpFlagBits(mask), comp: tcpFlagBits(right) }];
    }
    const c = this.comp(x);
    if (c.k === 'mark' || c.k === 'ctmark') {
      if (typeof mask !== 'number' || typeof right !== 'number' || (op !== '==' && op !== '!=')) throw new Unsupported('mark');
      return [{ kind: c.k === 'mark' ? 'mark' : 'connmark', invert: op === '!=', value: (right & mask) >>> 0, mask: mask >>> 0 }];
    }
    if (c.k === 'random' && mask === 0x7fffffff && typeof right === 'number') {
      // iptables-nft's statistic translation: `meta random & 2147483647 < N` (the kernel's test).
      if (op === '<') return [{ kind: 'random', invert: false, threshold: right }];
      if (op === '>=') return [{ kind: 'random', invert: true, threshold: right }];
    }
    if (c.k === 'ctstate') {
      const bits = this.bits(c.bits, mask);
      const want = typeof right === 'number' && right === 0 ? 0 : this.bits(c.bits, right);
      if (want === 0 && (op === '==' || op === '!=')) return [{ kind: 'ctstate', invert: op === '==', states: bits }];
      if (want === bits && bits !== 0 && (op === '==' || op === '!=') && popcount(bits) === 1) return [{ kind: 'ctstate', invert: op === '!=', states: bits }];
    }
    throw new Unsupported('masked');
  }

  private bits(table: Record<string, number>, v: NftJson): number {
    const list = Array.isArray(v) ? v : [v];
    let out = 0;
    for (const x of list) {
      if (typeof x !== 'string' || !Object.hasOwn(table, x)) throw new Unsupported(String(x));
      out |= table[x];
    }
    return out;
  }

  /** One component against one value (or range/prefix) with a relational operator. */
  private compare(c: Comp, op: string, v: NftJson): Match[] {
    const inv = op === '!=';
    const eq = op === '==' || op === '!=' || op === 'in';
    switch (c.k) {
      case 'addr': {
        if (!eq) throw new Unsupported('address order');
        const g = this.guard(c.fam);
        const r = recordOf(v)?.range;
        if (Array.isArray(r)) {
          const lo = parseAddr(String(r[0]));
          const hi = parseAddr(String(r[1]));
          if (!lo || !hi || lo.family !== c.fam || hi.family !== c.fam) throw new Unsupported('range');
          return [...g, { kind: 'iprange', invert: inv, dir: c.side, lo, hi }];
        }
        const cidr = this.cidr(v, c.fam);
        return [...g, { kind: c.side, invert: inv, cidr }];
      }
      case 'proto': {
        if (!eq) throw new Unsupported('proto order');
        return [{ kind: 'proto', invert: inv, proto: this.proto(v) }];
      }
      case 'port': {
        const pre: Match[] = c.proto !== undefined ? [{ kind: 'proto', invert: false, proto: c.proto }] : [];
        const kind = c.side === 'src' ? 'sport' : 'dport';
        const r = recordOf(v)?.range;
        if (Array.isArray(r)) {
          if (!eq) throw new Unsupported('range order');
          return [...pre, { kind, invert: inv, range: { lo: this.port(r[0] ?? null), hi: this.port(r[1] ?? null) } }];
        }
        const p = this.port(v);
        const range: PortRange =
          op === '<' ? { lo: 0, hi: p - 1 } : op === '<=' ? { lo: 0, hi: p } : op === '>' ? { lo: p + 1, hi: 65535 } : op === '>=' ? { lo: p, hi: 65535 } : { lo: p, hi: p };
        if (range.lo > range.hi) return [...pre, { kind, invert: true, range: { lo: 0, hi: 65535 } }];
        return [...pre, { kind, invert: inv, range }];
      }
      case 'iface': {
        if (!eq || typeof v !== 'string') throw new Unsupported('iface');
        const prefix = v.endsWith('*');
        return [{ kind: c.side === 'in' ? 'inIface' : 'outIface', invert: inv, name: prefix ? v.slice(0, -1) : v, prefix }];
      }
      case 'mark':
      case 'ctmark': {
        if (!eq || typeof v !== 'number') throw new Unsupported('mark');
        return [{ kind: c.k === 'mark' ? 'mark' : 'connmark', invert: inv, value: v >>> 0, mask: 0xffffffff }];
      }
      case 'ctstate': {
        const states = this.bits(c.bits, v);
        if (op === 'in' || (op === '==' && (Array.isArray(v) || popcount(states) === 1))) return [{ kind: 'ctstate', invert: false, states }];
        if (op === '!=' && popcount(states) === 1) return [{ kind: 'ctstate', invert: true, states }];
        throw new Unsupported('ct');
      }
      case 'icmp': {
        if (!eq) throw new Unsupported('icmp');
        const names = c.v6 ? ICMPV6_TYPES : ICMP_TYPES;
        const type = typeof v === 'number' ? v : typeof v === 'string' && Object.hasOwn(names, v) ? names[v] : -2;
        if (type < 0) throw new Unsupported('icmp type');
        return [{ kind: 'icmpType', invert: inv, v6: c.v6, type, code: -1 }];
      }
      case 'fib': {
        if (!eq) throw new Unsupported('fib');
        const types = this.bits(FIB_TYPES, v);
        const side = { invert: inv, types };
        return [{ kind: 'addrtype', ...(c.side === 'src' ? { src: side } : { dst: side }), limitIfaceIn: c.limitIn, limitIfaceOut: false }];
      }
      case 'nfproto': {
        if (!eq) throw new Unsupported('nfproto');
        const f = v === 'ipv4' || v === 2 ? 4 : v === 'ipv6' || v === 10 ? 6 : 0;
        if (!f) throw new Unsupported('nfproto');
        const want: Family = inv ? (f === 4 ? 6 : 4) : f;
        return [familyGuard(want)];
      }
      case 'ctdir': {
        if (op !== '==' && op !== '!=') throw new Unsupported('ct direction');
        if (v !== 'original' && v !== 'reply') throw new Unsupported('ct direction');
        return [{ kind: 'ctdir', invert: inv, reply: v === 'reply' }];
      }
      case 'numgen': {
        if (c.mode !== 'random' || !eq) throw new Unsupported('numgen');
        const mass = this.mass(v, c.mod, c.offset);
        return [{ kind: 'random', invert: inv, threshold: Math.round((mass / c.mod) * TWO31) }];
      }
      default:
        throw new Unsupported(c.k);
    }
  }

  private cidr(v: NftJson, fam: Family): Cidr {
    const pre = recordOf(recordOf(v)?.prefix);
    const s = pre ? `${String(pre.addr)}/${String(pre.len)}` : String(v);
    // Model objects are immutable: an address written thousands of times is parsed and held once.
    let c = this.cidrs.get(s);
    if (c === undefined) {
      c = parseCidr(s) ?? undefined;
      if (c && this.cidrs.size < 200_000) this.cidrs.set(s, c);
    }
    if (!c || c.family !== fam) throw new Unsupported(s);
    return c;
  }

  private proto(v: NftJson): number {
    if (typeof v === 'number' && v >= 0 && v <= 255) return v;
    if (typeof v === 'string' && Object.hasOwn(PROTO_NAMES, v)) return PROTO_NAMES[v];
    throw new Unsupported(`protocol ${String(v)}`);
  }

  private port(v: NftJson): number {
    if (typeof v === 'number' && v >= 0 && v <= 65535) return v;
    throw new Unsupported(`port ${String(v)}`);
  }

  /** How many of the values `offset … offset+mod-1` a key (number or range) covers. */
  private mass(v: NftJson, mod: number, offset: number): number {
    const r = recordOf(v)?.range;
    const [lo, hi] = Array.isArray(r) ? [Number(r[0]), Number(r[1])] : [Number(v), Number(v)];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Unsupported('numgen key');
    const a = Math.max(lo, offset);
    const b = Math.min(hi, offset + mod - 1);
    return b >= a ? b - a + 1 : 0;
  }

  /** A concatenated key's element values → the plain matches of that one element. */
  private elementMatches(comps: Comp[], vals: NftJson[]): Match[] {
    const out: Match[] = [];
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i];
      // `meta l4proto . th dport`: the port's protocol is the element's.
      if (c.k === 'port' && c.proto === undefined && i > 0 && comps[i - 1].k === 'proto') {
        out.push(...this.compare(c, '==', vals[i] ?? null));
        continue;
      }
      out.push(...this.compare(c, '==', vals[i] ?? null));
    }
    return out;
  }

  /** `left == { a, b }` (OR) or `left != { a, b }` (AND of negations). */
  private literalSet(comps: Comp[], left: NftJson, items: NftJson[], invert: boolean): Alt[] {
    const keys = items.map((x) => {
      const el = recordOf(recordOf(x)?.elem);
      return el ? (el.val ?? null) : x;
    });
    if (keys.length === 1) return this.literalOne(comps, keys[0], invert);
    const c = comps[0];
    if (comps.length === 1) {
      if (c.k === 'port' && keys.every((k) => typeof k === 'number' || Array.isArray(recordOf(k)?.range))) {
        const ports = keys.map((k) => {
          const r = recordOf(k)?.range;
          return Array.isArray(r) ? { lo: this.port(r[0] ?? null), hi: this.port(r[1] ?? null) } : { lo: this.port(k), hi: this.port(k) };
        });
        const pre: Match[] = c.proto !== undefined ? [{ kind: 'proto', invert: false, proto: c.proto }] : [];
        return [[...pre, { kind: 'multiport', invert, dir: c.side, ports }]];
      }
      if (c.k === 'ctstate' || c.k === 'fib') return [this.compare(c, invert ? '!=' : 'in', keys)];
      if (c.k === 'addr' && keys.length > 4) return [this.setMatch(left, comps, keys.map((k) => ({ key: k })), `{…} line ${this.rule.line}`, invert)];
    }
    if (comps.length > 1 && comps.some((x) => x.k === 'addr') && keys.length > 4) {
      return [this.setMatch(left, comps, keys.map((k) => ({ key: k })), `{…} line ${this.rule.line}`, invert)];
    }
    if (invert) {
      if (comps.length > 1) return [this.setMatch(left, comps, keys.map((k) => ({ key: k })), `{…} line ${this.rule.line}`, true)];
      const out: Match[] = [];
      for (const k of keys) out.push(...this.compare(c, '!=', k));
      return [dedupe(out)];
    }
    return keys.map((k) => this.literalOneAlt(comps, k));
  }

  private literalOne(comps: Comp[], key: NftJson, invert: boolean): Alt[] {
    if (comps.length === 1) return [this.compare(comps[0], invert ? '!=' : '==', key)];
    if (invert) throw new Unsupported('!= concatenation');
    return [this.literalOneAlt(comps, key)];
  }

  private literalOneAlt(comps: Comp[], key: NftJson): Match[] {
    if (comps.length === 1) return this.compare(comps[0], '==', key);
    const vals = recordOf(key)?.concat;
    if (!Array.isArray(vals) || vals.length !== comps.length) throw new Unsupported('element');
    return this.elementMatches(comps, vals);
  }

  // ---- named sets ----------------------------------------------------------------------------------

  /** `left @set` / `left != @set`. */
  private lookup(left: NftJson, name: string, invert: boolean): Alt[] {
    const s = this.setByName.get(name);
    if (!s) {
      this.soft(this.rule.line, `set @${name} is not defined in table ${this.table.family} ${this.table.name}`, this.rule.text);
      return [[this.unknownMatch(`@${name}`, `set @${name} is not in the listing`)]];
    }
    const comps = this.comps(left);
    if (this.dynamic.has(name)) return this.dynamicLookup(left, comps, s, invert);
    return [this.setMatch(left, comps, s.elems, s.name, invert, s.line)];
  }

  /**
   * A dynamic set (session affinity): `recent --rcheck` on a list named after the set, OR-ed with
   * the elements the listing shows (a live node's `expires` elements pin their source).
   */
  private dynamicLookup(left: NftJson, comps: Comp[], s: NftSet, invert: boolean): Alt[] {
    if (comps.length !== 1 || comps[0].k !== 'addr') throw new Unsupported(`dynamic set @${s.name} keyed on ${renderExpr(left)}`);
    const c = comps[0];
    const recent: Match = {
      kind: 'recent', invert, name: s.name, op: 'rcheck', reap: false, rttl: false, side: c.side,
      ...(s.timeout !== undefined ? { seconds: s.timeout } : {}),
    };
    const g = this.guard(c.fam);
    if (s.elems.length === 0) return [[...g, recent]];
    const listed = this.setMatch(left, comps, s.elems, s.name, invert, s.line);
    return invert ? [[...g, recent, ...listed]] : [[...g, ...listed], [...g, recent]];
  }

  /** `update @s { ip saddr }` / `add` / `delete` → recent set / remove. */
  private setUpdate(b: Record<string, NftJson>): Match[] {
    const name = String(b.set ?? '').replace(/^@/, '');
    let elem = b.elem ?? null;
    const wrapped = recordOf(recordOf(elem)?.elem);
    if (wrapped) elem = wrapped.val ?? null;
    try {
      const comps = this.comps(elem);
      if (comps.length !== 1 || comps[0].k !== 'addr') throw new Unsupported('key');
      const s = this.setByName.get(name);
      const op = b.op === 'delete' ? 'remove' : 'set';
      return [...this.guard(comps[0].fam), {
        kind: 'recent', invert: false, name, op, reap: false, rttl: false, side: comps[0].side,
        ...(s?.timeout !== undefined ? { seconds: s.timeout } : {}),
      }];
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      return [this.unknownMatch(renderStatement({ set: b } as NftExpr), `set update ${quote(renderStatement({ set: b } as NftExpr))} is not modelled`)];
    }
  }

  /** A set match on an IpSet built from the elements (cached per named set and key). */
  private setMatch(left: NftJson, comps: Comp[], elems: { key: NftJson; line?: number }[], label: string, invert: boolean, line = this.rule.line): Match[] {
    const dims: SetDim[] = [];
    const dirs: ('src' | 'dst')[] = [];
    // Which component feeds which dimension (proto + port fold into one port dimension).
    const plan: { comp: number; proto?: number }[] = [];
    let fam: Family = this.fam;
    let hasAddr = false;
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i];
      if (c.k === 'addr') {
        dims.push('net');
        dirs.push(c.side);
        plan.push({ comp: i });
        fam = c.fam;
        hasAddr = true;
      } else if (c.k === 'proto') {
        const n = comps[i + 1];
        if (!n || n.k !== 'port' || n.proto !== undefined) throw new Unsupported('protocol without a port in a set key');
      } else if (c.k === 'port') {
        dims.push('port');
        dirs.push(c.side);
        plan.push({ comp: i, proto: c.proto });
      } else if (c.k === 'iface') {
        dims.push('iface');
        dirs.push(c.side === 'in' ? 'src' : 'dst');
        plan.push({ comp: i });
      } else if (c.k === 'mark') {
        dims.push('mark');
        dirs.push('src');
        plan.push({ comp: i });
      } else throw new Unsupported(`set key ${c.k}`);
    }
    if (dims.length > 4) throw new Unsupported('more than 4 set dimensions');
    const key = `${this.table.family} ${this.table.name} @${label} ${renderExpr(left)}`;
    let set = this.ipsetOf.get(key);
    if (!set) {
      const entries: SetEntry[] = [];
      for (const el of elems) {
        const raw = recordOf(recordOf(el.key)?.elem)?.val ?? el.key;
        const vals = comps.length > 1 ? recordOf(raw)?.concat : [raw];
        if (!Array.isArray(vals) || vals.length !== comps.length) throw new Unsupported('element shape');
        let partsList: EntryPart[][] = [[]];
        for (const p of plan) {
          const c = comps[p.comp];
          const v = vals[p.comp] ?? null;
          let frags: EntryPart[];
          if (c.k === 'addr') frags = this.addrParts(v, c.fam);
          else if (c.k === 'port') {
            const protos = c.proto !== undefined ? [c.proto] : comps[p.comp - 1]?.k === 'proto' ? [this.proto(vals[p.comp - 1] ?? null)] : TH_PROTOS;
            const r = recordOf(v)?.range;
            const [lo, hi] = Array.isArray(r) ? [this.port(r[0] ?? null), this.port(r[1] ?? null)] : [this.port(v), this.port(v)];
            frags = protos.map((proto) => ({ kind: 'port', proto, lo, hi }));
          } else if (c.k === 'iface') {
            if (typeof v !== 'string') throw new Unsupported('iface');
            const wild = v.endsWith('*');
            frags = [{ kind: 'iface', name: wild ? v.slice(0, -1) : v, physdev: false, ...(wild ? { wildcard: true } : {}) }];
          } else if (c.k === 'mark') {
            if (typeof v !== 'number') throw new Unsupported('mark');
            frags = [{ kind: 'mark', value: v >>> 0 }];
          } else throw new Unsupported('dim');
          const next: EntryPart[][] = [];
          for (const ps of partsList) for (const f of frags) next.push([...ps, f]);
          partsList = next;
        }
        for (const parts of partsList) entries.push({ parts, nomatch: false, line: el.line ?? line });
      }
      set = {
        name: `nft:${key}`,
        type: `hash:${dims.join(',')}`,
        dims,
        family: fam,
        entries,
        options: hasAddr ? {} : { nft: 'no address dimension' },
        line,
      };
      this.ipsetOf.set(key, set);
      this.sets.push(set);
    }
    const guard = hasAddr ? this.guard(fam) : [];
    const pre: Match[] = comps.filter((c): c is Extract<Comp, { k: 'port' }> => c.k === 'port' && c.proto !== undefined).map((c) => ({ kind: 'proto', invert: false, proto: c.proto! }));
    return [...guard, ...dedupe(pre), { kind: 'set', invert, name: set.name, dirs, returnNomatch: false }];
  }

  private addrParts(v: NftJson, fam: Family): EntryPart[] {
    const r = recordOf(v)?.range;
    if (Array.isArray(r)) {
      const lo = parseAddr(String(r[0]));
      const hi = parseAddr(String(r[1]));
      if (!lo || !hi || lo.family !== fam || hi.family !== fam) throw new Unsupported('range');
      return rangeToCidrs(lo, hi).map((cidr) => ({ kind: 'addr', cidr }));
    }
    return [{ kind: 'addr', cidr: this.cidr(v, fam) }];
  }

  // ---- maps -------------------------------------------------------------------------------------

  /**
   * `key vmap {…}` / `key map {…}` as rules, one per element (a cascade for numgen). `target`
   * turns an element's data into the rule's target. Returns the conditions (per element) for
   * what follows a non-terminal map statement.
   */
  private map(chain: LoweredChain, alts: Alt[], key: NftJson, data: NftJson, target: (d: NftJson) => Target | null, isVmap: boolean): Alt[] {
    const elems = this.mapElems(data);
    if (elems === null) {
      for (const a of alts) this.push(chain, { matches: [...a, this.unknownMatch(renderExpr(data), `map ${quote(renderExpr(data))} is not modelled`)], target: null });
      return alts;
    }
    let comps: Comp[];
    try {
      comps = this.comps(key);
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      const u = this.unknownMatch(renderExpr(key), `map key ${quote(renderExpr(key))} is not modelled`);
      for (const a of alts) for (const el of elems) this.push(chain, { matches: [...a, u], target: target(el.data) });
      return alts.map((a) => [...a, u]);
    }
    // Conditions per element.
    const conds: Match[][] = this.elementConds(comps, elems.map((e) => e.key));
    const targets = elems.map((e) => target(e.data));
    // jump/continue elements come back to this rule: run the elements in a helper chain.
    const kinds = elems.map((e) => tagOf(e.data));
    const needsHelper = isVmap && kinds.some((k) => k === 'jump' || k === 'continue');
    if (needsHelper) {
      if (kinds.some((k) => k === 'goto' || k === 'return')) {
        this.warn(this.rule.line, 'a verdict map mixing jump/continue with goto/return: goto/return elements are walked as if from a helper chain (they resume after this rule)');
      }
      const hname = `${this.chainName}/map#${this.rulePos}`;
      const helper: LoweredChain = { name: hname, builtin: false, line: this.rule.line, rules: [] };
      this.lt.chains.set(hname, helper);
      for (const a of alts) this.push(chain, { matches: a, target: { kind: 'jump', chain: hname } });
      conds.forEach((c, i) => {
        let t = targets[i];
        if (t?.kind === 'jump') t = { kind: 'goto', chain: t.chain };
        else if (t === null) t = { kind: 'RETURN' };
        this.push(helper, { matches: c, target: t });
      });
      return [];
    }
    const out: Alt[] = [];
    for (const a of alts) {
      conds.forEach((c, i) => {
        this.push(chain, { matches: [...a, ...c], target: targets[i] });
        out.push([...a, ...c]);
      });
    }
    return out;
  }

  private mapElems(data: NftJson): { key: NftJson; data: NftJson }[] | null {
    if (typeof data === 'string' && data.startsWith('@')) {
      const s = this.setByName.get(data.slice(1));
      if (!s) {
        this.soft(this.rule.line, `map ${data} is not defined in table ${this.table.family} ${this.table.name}`, this.rule.text);
        return null;
      }
      return s.elems.map((e) => ({ key: e.key, data: e.data ?? null }));
    }
    const items = recordOf(data)?.set;
    const list = Array.isArray(items) ? items : items !== undefined ? [items] : null;
    if (!list) return null;
    const out: { key: NftJson; data: NftJson }[] = [];
    for (const it of list) {
      if (!Array.isArray(it) || it.length !== 2) return null;
      const k = recordOf(recordOf(it[0])?.elem)?.val ?? it[0] ?? null;
      out.push({ key: k, data: it[1] ?? null });
    }
    return out;
  }

  /** Each element's key as matches; numgen keys become a cascade whose thresholds give each value 1/N. */
  private elementConds(comps: Comp[], keys: NftJson[]): Match[][] {
    const c0 = comps[0];
    if (comps.length === 1 && c0.k === 'numgen') {
      const masses = keys.map((k) => this.mass(k, c0.mod, c0.offset));
      if (c0.mode === 'inc' && masses.every((m) => m === 1) && new Set(keys.map(String)).size === keys.length && keys.length === c0.mod) {
        // A round-robin counter: the iptables `nth` cascade (every N, N-1, …, 1, packet 0).
        const order = keys.map((k, i) => ({ k: Number(k), i })).sort((a, b) => a.k - b.k);
        const out: Match[][] = new Array(keys.length);
        order.forEach(({ i }, j) => {
          out[i] = [{ kind: 'nth', invert: false, every: c0.mod - j, packet: 0 }];
        });
        // Rules run in element order, so put the nth cascade in value order.
        return out;
      }
      if (c0.mode === 'inc') this.warn(this.rule.line, 'numgen inc with missing or repeated values is walked as uniform random');
      return this.cascade(masses.map((m) => m / c0.mod));
    }
    if (comps.length === 1 && c0.k === 'hash') {
      return keys.map((k) => [this.unknownMatch(`${c0.text} == ${renderExpr(k)}`, `${c0.text}: the bucket depends on a hash seed the listing does not show`)]);
    }
    return keys.map((k) => {
      try {
        return this.literalOneAlt(comps, k);
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        return [this.unknownMatch(`${renderExpr(k)}`, `map element ${quote(renderExpr(k))} is not modelled`)];
      }
    });
  }

  /**
   * Statistic-random thresholds so that element i is taken with probability p[i] overall: each
   * rule takes p[i] of what the earlier rules left, rounded to the kernel's 2^-31 steps, the
   * rounding carried forward so the products land on p[i] as closely as 2^-31 allows.
   */
  private cascade(p: number[]): Match[][] {
    let left = 1;
    // When the elements cover every value, the last one takes whatever the rounding left over.
    const total = p.reduce((a, b) => a + b, 0);
    let lastPositive = -1;
    p.forEach((pi, i) => {
      if (pi > 0) lastPositive = i;
    });
    return p.map((pi, i) => {
      if (pi <= 0) return [{ kind: 'random', invert: false, threshold: 0 }];
      const all = i === lastPositive && total > 1 - 1e-9;
      const t = all || left <= 0 ? TWO31 : Math.min(TWO31, Math.max(0, Math.round((pi / left) * TWO31)));
      left *= 1 - t / TWO31;
      return [{ kind: 'random', invert: false, threshold: t }];
    });
  }

  // ---- targets ------------------------------------------------------------------------------------

  private verdict(v: NftJson): Target | null {
    const tag = tagOf(v);
    switch (tag) {
      case 'accept':
        return { kind: 'ACCEPT' };
      case 'drop':
        return { kind: 'DROP' };
      case 'return':
        return { kind: 'RETURN' };
      case 'continue':
        return null;
      case 'jump':
      case 'goto': {
        const target = String(recordOf(recordOf(v)![tag])?.target);
        const hit = (tag === 'jump' ? this.jumps : this.gotos).get(target);
        if (hit) return hit;
        if (!this.lt.chains.has(target)) {
          this.soft(this.rule.line, `${tag} to missing chain ${quote(target)}`, this.rule.text);
          return { kind: 'unknownTarget', name: target, text: `${tag} ${target}` };
        }
        const cache = tag === 'jump' ? this.jumps : this.gotos;
        const known = cache.get(target);
        if (known) return known;
        const t: Target = { kind: tag, chain: target };
        cache.set(target, t);
        return t;
      }
      default:
        return { kind: 'unknownTarget', name: tag ?? 'verdict', text: renderExpr(v) };
    }
  }

  private reject(b: Record<string, NftJson> | undefined): Target {
    const type = b?.type;
    const code = String(b?.expr ?? 'port-unreachable');
    if (type === 'tcp reset') return { kind: 'REJECT', with: 'tcp-reset' };
    if (type === 'icmpv6' || (type === undefined && this.fam === 6 && !this.inet)) return { kind: 'REJECT', with: `icmp6-${code === 'admin-prohibited' ? 'adm-prohibited' : code}` };
    if (type === 'icmpx') return { kind: 'REJECT', with: `icmpx-${code}` };
    return { kind: 'REJECT', with: `icmp-${code}` };
  }

  /** dnat/snat/masquerade/redirect, including an address (or address . port) taken from a map. */
  private nat(chain: LoweredChain, alts: Alt[], kind: string, b: Record<string, NftJson>): void {
    const flags = (Array.isArray(b.flags) ? b.flags : b.flags !== undefined ? [b.flags] : []).map(String);
    const random = flags.includes('random');
    const randomFully = flags.includes('fully-random');
    const persistent = flags.includes('persistent');
    const fam: Family = b.family === 'ip6' ? 6 : b.family === 'ip' ? 4 : this.fam;
    const guard = this.inet && b.family !== undefined ? [familyGuard(fam)] : [];
    const build = (addr: NftJson | undefined, port: NftJson | undefined): Target => {
      const range: NatRange = {};
      if (addr !== undefined && addr !== null) {
        const r = recordOf(addr)?.range;
        const [lo, hi] = Array.isArray(r) ? [String(r[0]), String(r[1])] : [String(addr), String(addr)];
        const a = parseAddr(lo);
        const z = parseAddr(hi);
        if (!a || !z) throw new Unsupported(`nat address ${renderExpr(addr)}`);
        range.lo = a;
        range.hi = z;
      }
      if (port !== undefined && port !== null) {
        const r = recordOf(port)?.range;
        range.ports = Array.isArray(r) ? { lo: this.port(r[0] ?? null), hi: this.port(r[1] ?? null) } : { lo: this.port(port), hi: this.port(port) };
      }
      switch (kind) {
        case 'dnat':
          return { kind: 'DNAT', ranges: [range], random, persistent };
        case 'snat':
          return { kind: 'SNAT', ranges: [range], random, randomFully, persistent };
        case 'masquerade':
          return { kind: 'MASQUERADE', ...(range.ports ? { ports: range.ports } : {}), random, randomFully };
        default:
          return { kind: 'REDIRECT', ...(range.ports ? { ports: range.ports } : {}), random };
      }
    };
    try {
      const addrMap = recordOf(recordOf(b.addr ?? null)?.map);
      const portMap = recordOf(recordOf(b.port ?? null)?.map);
      if (addrMap) {
        this.map(chain, alts.map((a) => [...a, ...guard]), addrMap.key ?? null, addrMap.data ?? null, (d) => {
          const cat = recordOf(d)?.concat;
          if (Array.isArray(cat) && cat.length === 2) return build(cat[0] ?? null, cat[1] ?? null);
          return build(d, b.port);
        }, false);
        return;
      }
      if (portMap) {
        this.map(chain, alts.map((a) => [...a, ...guard]), portMap.key ?? null, portMap.data ?? null, (d) => build(b.addr, d), false);
        return;
      }
      const t = build(b.addr, b.port);
      for (const a of alts) this.push(chain, { matches: [...a, ...guard], target: t });
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      for (const a of alts) this.push(chain, { matches: a, target: { kind: 'unknownTarget', name: kind, text: renderStatement({ [kind]: b }) } });
    }
  }

  /** `meta mark set …` / `ct mark set …` → MARK / CONNMARK; other mangles are unknown targets. */
  private mangleTarget(key: NftJson, value: NftJson): Target {
    const kc = recordOf(recordOf(key)?.meta) ?? recordOf(recordOf(key)?.ct);
    const isCt = recordOf(key)?.ct !== undefined;
    if (kc?.key === 'mark' && kc.dir === undefined) {
      // ct mark set meta mark / meta mark set ct mark
      const vk = recordOf(recordOf(value)?.meta) ?? recordOf(recordOf(value)?.ct);
      const vIsCt = recordOf(value)?.ct !== undefined;
      if (vk?.key === 'mark' && vIsCt !== isCt) {
        return { kind: 'CONNMARK', mode: isCt ? 'save' : 'restore', nfmask: 0xffffffff, ctmask: 0xffffffff };
      }
      const op = markOp(value, isCt ? 'ct' : 'meta');
      if (op) return isCt ? { kind: 'CONNMARK', mode: 'set', op } : { kind: 'MARK', op };
    }
    if (kc?.key === 'nftrace') return { kind: 'noop', name: 'TRACE' };
    const text = `${renderExpr(key)} set ${renderExpr(value)}`;
    return { kind: 'unknownTarget', name: 'mangle', text };
  }
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}

const TCP_FLAG_BITS: Record<string, number> = { fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128 };
function tcpFlagBits(v: NftJson): number {
  if (typeof v === 'number') return v & 255;
  const list = Array.isArray(v) ? v : [v];
  let out = 0;
  for (const x of list) {
    if (typeof x !== 'string' || !Object.hasOwn(TCP_FLAG_BITS, x)) throw new Unsupported(`tcp flag ${String(x)}`);
    out |= TCP_FLAG_BITS[x];
  }
  return out;
}

/**
 * A mark value expression as xt_MARK's (mask, value): new = (old & ~mask) ^ value. Handles a
 * constant and `mark | x`, `mark & x`, `mark ^ x` nested in any order; null otherwise.
 */
export function markOp(v: NftJson, self: 'meta' | 'ct'): MarkOp | null {
  if (typeof v === 'number') return { value: v >>> 0, mask: 0xffffffff };
  const rec = recordOf(v);
  if (!rec) return null;
  const tag = tagOf(v);
  if (tag === self) return recordOf(rec[self])?.key === 'mark' ? { value: 0, mask: 0 } : null;
  if (tag !== '&' && tag !== '|' && tag !== '^') return null;
  const args = rec[tag];
  if (!Array.isArray(args) || args.length !== 2 || typeof args[1] !== 'number') return null;
  const inner = markOp(args[0] ?? null, self);
  if (!inner) return null;
  const x = args[1] >>> 0;
  const { mask: m, value: val } = inner;
  if (tag === '&') return { mask: (m | ~x) >>> 0, value: (val & x) >>> 0 };
  if (tag === '|') return { mask: (m | x) >>> 0, value: ((val & ~x) | x) >>> 0 };
  return { mask: m >>> 0, value: (val ^ x) >>> 0 };
}

function dedupe(ms: Match[]): Match[] {
  const seen = new Set<string>();
  return ms.filter((m) => {
    const k = JSON.stringify(m);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Lowers a parsed nft rule set (text or JSON) into the model. Throws ParseError on dangling references unless lenient. */
export function lowerNft(rs: NftRuleset, opts: NftLowerOptions = {}): NftLowered {
  return new Lowerer(opts).run(rs);
}

/** For callers that hold iptables tables as TableName sets. */
export type IptablesTableSet = ReadonlySet<TableName>;
