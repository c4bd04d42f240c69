// The library entry point: a node's dumps → a loaded, queryable ruleset (DESIGN.md "Library").
// Parses every input, numbers rules and chains once, resolves the node context, picks the engine,
// and answers explain / trace / services with the same JSON the HTTP API returns.

import { createHash } from 'node:crypto';
import { canonicalJson, writeCanonicalJson } from './model/canonical-json.js';
import type { IpsetState } from './model/ipset.js';
import type { IpvsState } from './model/ipvs.js';
import type { ExplainResult, NodeInput, NodeSnapshot, Query, RulesetBundle, RulesetStats, Service, TableStats, TraceResult } from './model/contracts.js';
import type { FamilyRules, ParseWarning, TableName } from './model/rule.js';
import { TABLES } from './model/rule.js';
import type { Ruleset } from './model/ruleset.js';
import { numberRules } from './model/ruleset.js';
import { DEFAULT_MAX_PATHS, explain, traceAll } from './engine/explain.js';
import { traceColumns, type PacketColumns, type ResultColumns } from './engine/columns.js';
import { resolveNode } from './engine/packet.js';
import { createReferenceEngine } from './engine/reference.js';
import { createWasmEngine } from './engine/wasm.js';
import type { Engine } from './engine/types.js';
import { discoverServices } from './kube/services.js';
import { ParseError } from './parse/errors.js';
import { parseIpsets } from './parse/ipset.js';
import { parseIptablesSave } from './parse/iptables.js';
import { parseIpvs } from './parse/ipvs.js';
import { parseSnapshotJson, snapshotInputs, validateSnapshot } from './parse/snapshot.js';
import { loadNft } from './parse/nft.js';
import type { NftTable } from './model/hooks.js';
import type { NftRuleset } from './model/nft.js';

/**
 * loadRuleset's input: the bundle of DESIGN.md, whose `snapshot` may also be given as the JSON
 * text `landfall collect` wrote.
 */
export type LoadInput = Omit<RulesetBundle, 'snapshot'> & { snapshot?: NodeSnapshot | string };

export interface LoadOptions {
  /** Walk engine (default 'wasm'). */
  engine?: 'wasm' | 'reference';
  /** Turn skippable parse problems into warnings instead of errors. */
  lenient?: boolean;
  /** Explain's cap on enumerated walks (default 10,000). */
  maxPaths?: number;
  /** The table of iptables rules pasted without a `*table` header (`iptables -t nat -S` output). */
  table?: TableName;
}

/** RulesetStats plus the time spent parsing and numbering the inputs, and creating the engine (compiling, for wasm). */
export type LoadStats = RulesetStats & { parseMs: number; compileMs: number };

export interface LoadedRuleset {
  /** SHA-256 (hex) of the normalized input. */
  readonly id: string;
  readonly ruleset: Ruleset;
  readonly engine: Engine;
  readonly stats: LoadStats;
  /** Parse warnings as "input:line:column: message". */
  readonly warnings: string[];
  explain(query: Query, opts?: { maxPaths?: number }): ExplainResult;
  /** One sampled outcome per packet; `seed` defaults to 0 so equal calls give equal answers. */
  trace(queries: Query[], opts?: { seed?: number }): TraceResult[];
  /** trace() for packets in typed arrays, results in typed arrays (src/engine/columns.ts). */
  traceColumns(packets: PacketColumns, opts?: { seed?: number; out?: ResultColumns }): ResultColumns;
  services(): Service[];
}

/**
 * The ruleset id: SHA-256 of the JSON of the inputs with absent fields omitted and object keys
 * sorted at every level, so the same node state always gets the same id.
 */
export function rulesetId(bundle: LoadInput): string {
  // canonicalBundle's bytes, hashed piece by piece: no JSON of the whole bundle, and each long
  // dump is escaped and encoded a cache-sized slice at a time (one 36 MB string JSON-escaped and
  // then converted to UTF-8 as a whole cost 5x more, and left two copies for the collector).
  const h = new PieceHash();
  let sep = '{';
  for (const k of BUNDLE_KEYS_SORTED) {
    const v = bundle[k];
    if (v === undefined) continue;
    h.add(`${sep}${JSON.stringify(k)}:`);
    writeCanonicalJson(v, (text) => h.add(text), (str) => (str.length > HASH_SLICE ? h.addLongString(str) : h.add(JSON.stringify(str))));
    sep = ',';
  }
  h.add(sep === '{' ? '{}' : '}');
  return h.digest();
}

/** Strings up to this many UTF-16 units are escaped whole; longer ones a slice of about this size at a time. */
const HASH_SLICE = 64 * 1024;

/** SHA-256 over text pieces, short ones gathered into one update. */
class PieceHash {
  private readonly h = createHash('sha256');
  private pending = '';
  add(s: string): void {
    this.pending += s;
    if (this.pending.length >= HASH_SLICE) this.flush();
  }
  flush(): void {
    if (this.pending === '') return;
    this.h.update(this.pending, 'utf8');
    this.pending = '';
  }
  digest(): string {
    this.flush();
    return this.h.digest('hex');
  }
  /**
   * JSON.stringify(s)'s UTF-8, a slice at a time. JSON.stringify escapes each UTF-16 unit on its
   * own except a surrogate pair, which stays whole when valid: a slice never ends between the two
   * halves of a pair, so the slices' escapes join to exactly the whole string's.
   */
  addLongString(s: string): void {
    this.add('"');
    this.flush();
    for (let a = 0; a < s.length; ) {
      let b = Math.min(s.length, a + HASH_SLICE);
      const last = s.charCodeAt(b - 1);
      if (b < s.length && last >= 0xd800 && last <= 0xdbff) b++;
      const j = JSON.stringify(s.slice(a, b));
      this.h.update(j.slice(1, j.length - 1), 'utf8');
      a = b;
    }
    this.add('"');
  }
}

const BUNDLE_KEYS = ['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets', 'node', 'snapshot'] as const;
/** The bundle's keys in canonicalJson's order (sorted). */
const BUNDLE_KEYS_SORTED = [...BUNDLE_KEYS].sort();

/**
 * The canonical JSON rulesetId hashes. The service stores and ships exactly these bytes, so the
 * id of an upload is the SHA-256 of what it stores: one hash per upload.
 */
export function canonicalBundle(bundle: LoadInput): string {
  const norm: Record<string, unknown> = {};
  for (const k of BUNDLE_KEYS) {
    if (bundle[k] !== undefined) norm[k] = bundle[k];
  }
  return canonicalJson(norm);
}

function formatWarning(source: string, w: ParseWarning): string {
  return `${source}:${w.line}:${w.column}: ${w.message}`;
}

type Source = 'iptables' | 'ip6tables' | 'nftables' | 'ipvs' | 'ipsets';

/** The bundle's own fields, with a snapshot's filling the rest; `sources` names where each came from. */
export interface ResolvedInputs {
  iptables?: string;
  ip6tables?: string;
  nftables?: string;
  ipvs?: string;
  ipsets?: string;
  node?: NodeInput;
  sources: Record<Source, string>;
  warnings: string[];
}

/** Merges a bundle's snapshot into its fields (a field given both ways is an error naming it). */
export function resolveInputs(bundle: LoadInput): ResolvedInputs {
  if (bundle === null || typeof bundle !== 'object') throw new ParseError('a ruleset is an object of dumps', 1, 1, 'body');
  const sources: Record<Source, string> = { iptables: 'iptables', ip6tables: 'ip6tables', nftables: 'nftables', ipvs: 'ipvs', ipsets: 'ipsets' };
  const out: ResolvedInputs = { sources, warnings: [] };
  for (const k of Object.keys(sources) as Source[]) if (bundle[k] !== undefined) out[k] = bundle[k];
  if (bundle.node !== undefined) out.node = bundle.node;
  if (bundle.snapshot === undefined) return out;
  const raw = typeof bundle.snapshot === 'string' ? parseSnapshotJson(bundle.snapshot) : bundle.snapshot;
  const snap = snapshotInputs(validateSnapshot(raw));
  for (const k of Object.keys(sources) as Source[]) {
    const v = snap[k];
    if (v === undefined) continue;
    if (out[k] !== undefined) throw new ParseError(`${k} given both in the bundle and in its snapshot: give it once`, 1, 1, `snapshot.${k}`);
    out[k] = v;
    sources[k] = `snapshot.${k}`;
  }
  out.node = { ...snap.node, ...out.node };
  out.warnings.push(...snap.warnings);
  return out;
}

/** Parses and numbers everything; throws ParseError (dumps) or QueryError (node context). */
export function buildRuleset(bundle: LoadInput, opts: { lenient?: boolean; table?: TableName } = {}): { ruleset: Ruleset; warnings: string[]; inputs: ResolvedInputs } {
  const inp = resolveInputs(bundle);
  const src = inp.sources;
  if (inp.iptables === undefined && inp.ip6tables === undefined && inp.nftables === undefined && inp.ipvs === undefined) {
    throw new ParseError('no rules given: an iptables, ip6tables, nftables or ipvs dump (or a node snapshot holding one) is required', 1, 1, 'iptables');
  }
  const warnings: string[] = [...inp.warnings];
  const parseWarnings: ParseWarning[] = [];
  let v4: FamilyRules | undefined;
  let v6: FamilyRules | undefined;
  if (inp.iptables !== undefined) {
    const main = parseIptablesSave(inp.iptables, { lenient: opts.lenient, source: src.iptables, table: opts.table });
    main.warnings.forEach((w) => warnings.push(formatWarning(src.iptables, w)));
    parseWarnings.push(...main.warnings);
    // A lone IPv6 dump in the IPv4 field is a mix-up (both, from concatenated dumps, is fine).
    if (main.v6 && !main.v4) {
      const first = Math.min(...[...main.v6.tables.values()].map((t) => t.line));
      throw new ParseError(`the ${src.iptables} input is an IPv6 dump (ip6tables-save): give it as ip6tables`, first, 1, src.iptables);
    }
    v4 = main.v4;
    v6 = main.v6;
  }
  if (inp.ip6tables !== undefined) {
    const six = parseIptablesSave(inp.ip6tables, { family: 6, lenient: opts.lenient, source: src.ip6tables, table: opts.table });
    six.warnings.forEach((w) => warnings.push(formatWarning(src.ip6tables, w)));
    parseWarnings.push(...six.warnings);
    if (six.v6 && v6) throw new ParseError(`IPv6 rules in both the ${src.iptables} and the ${src.ip6tables} input`, 1, 1, src.ip6tables);
    v6 = v6 ?? six.v6;
  }
  const ipvs: IpvsState | undefined = inp.ipvs !== undefined ? parseIpvs(inp.ipvs) : undefined;
  const ipsets: IpsetState = inp.ipsets !== undefined ? parseIpsets(inp.ipsets) : { sets: new Map(), supplied: false };
  if (ipvs && ipvs.services.length > 0 && inp.ipsets === undefined) {
    warnings.push(
      `${src.ipvs}: no ipsets given (ipset save): which virtual servers are cluster IPs and which are NodePorts is inferred (an address whose virtual servers all use ports 30000-32767 is taken as a node address), external and load-balancer IPs read as cluster IPs, and IPVS records no service names`,
    );
  }
  // nft tables (text or JSON, told apart by content); iptables-nft tables the iptables-save dumps
  // already hold come from those, never twice.
  let nft: NftTable[] | undefined;
  let nftSyntax: NftRuleset | undefined;
  if (inp.nftables !== undefined) {
    const loaded = loadNft(inp.nftables, {
      lenient: opts.lenient,
      source: src.nftables,
      iptablesTables: { 4: new Set(v4?.tables.keys()), 6: new Set(v6?.tables.keys()) },
    });
    loaded.warnings.forEach((w) => warnings.push(formatWarning(src.nftables, w)));
    parseWarnings.push(...loaded.warnings);
    for (const set of loaded.sets) ipsets.sets.set(set.name, set);
    nft = loaded.tables;
    nftSyntax = loaded.ruleset;
  }
  const node = resolveNode(inp.node, ipvs, warnings);
  const ruleset: Ruleset = { v4, v6, nft, nftSyntax, ipsets, ipvs, node, warnings: parseWarnings, ...numberRules(v4, v6, nft) };
  return { ruleset, warnings, inputs: inp };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** `inputs`: buildRuleset's, so a snapshot is not read and validated a second time. */
export function statsOf(bundle: LoadInput, rs: Ruleset, inputs?: ResolvedInputs): RulesetStats {
  const tables: Record<string, TableStats> = {};
  for (const fam of [rs.v4, rs.v6]) {
    if (!fam) continue;
    for (const t of TABLES as readonly TableName[]) {
      const table = fam.tables.get(t);
      if (!table) continue;
      let rules = 0;
      for (const c of table.chains.values()) rules += c.rules.length;
      tables[`v${fam.family}/${t}`] = { chains: table.chains.size, rules };
    }
  }
  for (const t of rs.nft ?? []) {
    let rules = 0;
    for (const c of t.chains.values()) rules += c.rules.length;
    tables[`nft/${t.family} ${t.name}`] = { chains: t.chains.size, rules };
  }
  let bytes = 0;
  const inp = inputs ?? resolveInputs(bundle);
  for (const s of [inp.iptables, inp.ip6tables, inp.nftables, inp.ipvs, inp.ipsets]) if (s !== undefined) bytes += Buffer.byteLength(s, 'utf8');
  let ipsetEntries = 0;
  for (const s of rs.ipsets.sets.values()) ipsetEntries += s.entries.length;
  return {
    rules: rs.rules.length,
    chains: rs.chains.length,
    tables,
    ipvsServices: rs.ipvs?.services.length ?? 0,
    ipvsRealServers: rs.ipvs?.services.reduce((n, s) => n + s.reals.length, 0) ?? 0,
    ipsets: rs.ipsets.sets.size,
    ipsetEntries,
    bytes,
  };
}

function createEngine(rs: Ruleset, kind: 'wasm' | 'reference'): Engine {
  return kind === 'reference' ? createReferenceEngine(rs) : createWasmEngine(rs);
}

/** Loads a node's dumps. Throws ParseError on a malformed dump, QueryError on a malformed node context. */
export function loadRuleset(bundle: LoadInput, opts: LoadOptions = {}): LoadedRuleset {
  const t0 = performance.now();
  const { ruleset, warnings, inputs } = buildRuleset(bundle, opts);
  const t1 = performance.now();
  const engine = createEngine(ruleset, opts.engine ?? 'wasm');
  const t2 = performance.now();
  const maxPaths = opts.maxPaths ?? DEFAULT_MAX_PATHS;
  let services: Service[] | undefined;
  return {
    id: rulesetId(bundle),
    ruleset,
    engine,
    stats: { ...statsOf(bundle, ruleset, inputs), parseMs: round(t1 - t0), compileMs: round(t2 - t1) },
    warnings,
    explain: (query, o) => explain(ruleset, engine, query, { maxPaths: o?.maxPaths ?? maxPaths }),
    trace: (queries, o) => traceAll(ruleset, engine, queries, o?.seed ?? 0),
    traceColumns: (cols, o) => traceColumns(ruleset.node, engine, cols, o?.seed ?? 0, o?.out),
    services: () => (services ??= discoverServices(ruleset)),
  };
}
