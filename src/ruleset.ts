// The library entry point: a node's dumps → a loaded, queryable ruleset (DESIGN.md "Library").
// Parses every input, numbers rules and chains once, resolves the node context, picks the engine,
// and answers explain / trace / services with the same JSON the HTTP API returns.

import { createHash } from 'node:crypto';
import type { IpsetState } from './model/ipset.js';
import type { IpvsState } from './model/ipvs.js';
import type { ExplainResult, Query, RulesetBundle, RulesetStats, Service, TableStats, TraceResult } from './model/contracts.js';
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

export interface LoadOptions {
  /** Walk engine (default 'wasm'). */
  engine?: 'wasm' | 'reference';
  /** Turn skippable parse problems into warnings instead of errors. */
  lenient?: boolean;
  /** Explain's cap on enumerated walks (default 10,000). */
  maxPaths?: number;
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
export function rulesetId(bundle: RulesetBundle): string {
  return createHash('sha256').update(canonicalBundle(bundle)).digest('hex');
}

/**
 * The canonical JSON rulesetId hashes. The service stores and ships exactly these bytes, so the
 * id of an upload is the SHA-256 of what it stores: one hash per upload.
 */
export function canonicalBundle(bundle: RulesetBundle): string {
  const norm: Record<string, unknown> = {};
  for (const k of ['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets', 'node', 'snapshot'] as const) {
    if (bundle[k] !== undefined) norm[k] = bundle[k];
  }
  return canonicalJson(norm);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function formatWarning(source: string, w: ParseWarning): string {
  return `${source}:${w.line}:${w.column}: ${w.message}`;
}

/** Parses and numbers everything; throws ParseError (dumps) or QueryError (node context). */
export function buildRuleset(bundle: RulesetBundle, opts: { lenient?: boolean } = {}): { ruleset: Ruleset; warnings: string[] } {
  if (typeof bundle?.iptables !== 'string') throw new ParseError('iptables dump is required', 1, 1, 'iptables');
  const warnings: string[] = [];
  const parseWarnings: ParseWarning[] = [];
  const main = parseIptablesSave(bundle.iptables, { lenient: opts.lenient, source: 'iptables' });
  main.warnings.forEach((w) => warnings.push(formatWarning('iptables', w)));
  parseWarnings.push(...main.warnings);
  let v4: FamilyRules | undefined = main.v4;
  let v6: FamilyRules | undefined = main.v6;
  if (bundle.ip6tables !== undefined) {
    const six = parseIptablesSave(bundle.ip6tables, { family: 6, lenient: opts.lenient, source: 'ip6tables' });
    six.warnings.forEach((w) => warnings.push(formatWarning('ip6tables', w)));
    parseWarnings.push(...six.warnings);
    if (six.v4 && v4) throw new ParseError('IPv4 rules in both the iptables and the ip6tables input', 1, 1, 'ip6tables');
    if (six.v6 && v6) throw new ParseError('IPv6 rules in both the iptables and the ip6tables input', 1, 1, 'ip6tables');
    v4 = v4 ?? six.v4;
    v6 = v6 ?? six.v6;
  }
  const ipvs: IpvsState | undefined = bundle.ipvs !== undefined ? parseIpvs(bundle.ipvs) : undefined;
  const ipsets: IpsetState = bundle.ipsets !== undefined ? parseIpsets(bundle.ipsets) : { sets: new Map(), supplied: false };
  const node = resolveNode(bundle.node, ipvs);
  const ruleset: Ruleset = { v4, v6, ipsets, ipvs, node, warnings: parseWarnings, ...numberRules(v4, v6) };
  return { ruleset, warnings };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export function statsOf(bundle: RulesetBundle, rs: Ruleset): RulesetStats {
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
  let bytes = 0;
  for (const s of [bundle.iptables, bundle.ip6tables, bundle.ipvs, bundle.ipsets]) if (s !== undefined) bytes += Buffer.byteLength(s, 'utf8');
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
export function loadRuleset(bundle: RulesetBundle, opts: LoadOptions = {}): LoadedRuleset {
  const t0 = performance.now();
  const { ruleset, warnings } = buildRuleset(bundle, opts);
  const t1 = performance.now();
  const engine = createEngine(ruleset, opts.engine ?? 'wasm');
  const t2 = performance.now();
  const maxPaths = opts.maxPaths ?? DEFAULT_MAX_PATHS;
  let services: Service[] | undefined;
  return {
    id: rulesetId(bundle),
    ruleset,
    engine,
    stats: { ...statsOf(bundle, ruleset), parseMs: round(t1 - t0), compileMs: round(t2 - t1) },
    warnings,
    explain: (query, o) => explain(ruleset, engine, query, { maxPaths: o?.maxPaths ?? maxPaths }),
    trace: (queries, o) => traceAll(ruleset, engine, queries, o?.seed ?? 0),
    traceColumns: (cols, o) => traceColumns(ruleset.node, engine, cols, o?.seed ?? 0, o?.out),
    services: () => (services ??= discoverServices(ruleset)),
  };
}
