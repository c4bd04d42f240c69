// The engine-independent drivers. explain enumerates every walk of a packet by replaying the
// engine's decision points depth-first (branch 0 first), weights each walk by the product of the
// branches it took, and merges walks that end the same way; trace samples one walk per packet.
// Both engines share this file, so enumeration order, merging and the JSON are identical.

import { formatAddr, formatEndpoint } from '../model/addr.js';
import type {
  Assumption,
  ExplainResult,
  Outcome,
  PathStep,
  Query,
  TraceResult,
  UncertainRule,
} from '../model/contracts.js';
import { LandfallError, type ErrorDetails } from '../model/errors.js';
import { PROTO } from '../model/rule.js';
import type { Ruleset } from '../model/ruleset.js';
import { QueryError, resolveQuery, type ResolvedPacket } from './packet.js';
import type { Engine, StepRef, WalkRecord, WalkUncertain } from './types.js';
import { conditionSite } from './order.js';

export const DEFAULT_MAX_PATHS = 10_000;

/** More walks than the cap allows (HTTP 422). */
export class PathExplosionError extends LandfallError {
  override readonly name = 'PathExplosionError';
  readonly code = 'path-explosion';
  constructor(readonly cap: number) {
    super(`the packet has more than ${cap} possible paths; narrow the query or raise the path cap`);
  }
  override report(): { detail: string; details: ErrorDetails } {
    return { detail: this.message, details: { maxPaths: this.cap } };
  }
}

export interface ExplainOptions {
  /** Walks enumerated before giving up (default 10,000). */
  maxPaths?: number;
}

/** A rule / policy / IPVS step as the JSON answer shows it. */
export function pathStep(rs: Ruleset, ref: StepRef): PathStep {
  if (ref.kind === 'rule') {
    const r = rs.rules[ref.rule];
    const family = rs.chains[rs.ruleChain[ref.rule]].family;
    const step: PathStep = { family, table: r.table, chain: r.chain, index: r.index, line: r.line, rule: r.text };
    if (r.handle !== undefined) step.handle = r.handle;
    return step;
  }
  if (ref.kind === 'policy') {
    const { chain, table, family } = rs.chains[ref.chain];
    const policy = chain.policy ?? 'ACCEPT';
    return { family, table, chain: chain.name, line: chain.line, rule: chain.policyText ?? `:${chain.name} ${policy}`, policy };
  }
  const vs = rs.ipvs!.services[ref.service];
  const real = ref.real >= 0 ? vs.reals[ref.real] : undefined;
  return {
    family: vs.family === 6 ? 'ip6' : 'ip',
    table: 'ipvs',
    chain: vs.text,
    line: real ? real.line : vs.line,
    rule: real ? real.text : vs.text,
    ipvs: real ? formatEndpoint(real.addr, real.port || undefined) : 'no real server',
  };
}

/** An unknown condition as an outcome's `assumes` names it: the reason and the rule (or chains) it concerns. */
function conditionText(u: WalkUncertain, site: { rule: string }): string {
  return `${u.reason}: ${site.rule}`;
}

function hasPorts(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.sctp;
}

function probabilityOf(rec: WalkRecord): number {
  let p = 1;
  for (const d of rec.decisions) p *= d.probs[d.taken];
  return p;
}

interface Merged {
  outcome: Outcome;
  best: number;
  order: number;
  seen: Set<string>;
}

/** explain() on an already resolved packet (the worker path). */
export function explainPacket(rs: Ruleset, engine: Engine, rp: ResolvedPacket, opts: ExplainOptions = {}): ExplainResult {
  const cap = opts.maxPaths ?? DEFAULT_MAX_PATHS;
  const { pkt } = rp;
  const ported = hasPorts(pkt.proto);
  const merged = new Map<string, Merged>();
  const topUncertain = new Map<string, UncertainRule>();
  const warnings = [...rp.warnings];
  const forced: number[] = [];
  let walks = 0;

  for (;;) {
    if (++walks > cap) throw new PathExplosionError(cap);
    const rec = engine.walk(pkt, forced);
    const p = probabilityOf(rec);
    if (p > 0) {
      const endpoint = formatEndpoint(rec.dst, ported ? rec.dport : undefined);
      const source = formatAddr(rec.src);
      const key = `${rec.verdict}|${endpoint}|${rec.masquerade}|${source}|${rec.rejectWith ?? ''}`;
      let m = merged.get(key);
      if (!m) {
        const outcome: Outcome = {
          probability: 0,
          verdict: rec.verdict,
          endpoint,
          masquerade: rec.masquerade,
          source,
          path: [],
          assumes: [],
          rulesEvaluated: 0,
        };
        if (rec.rejectWith !== undefined) outcome.rejectWith = rec.rejectWith;
        m = { outcome, best: -1, order: merged.size, seen: new Set() };
        merged.set(key, m);
      }
      const o = m.outcome;
      o.probability += p;
      if (p > m.best) {
        // The representative walk: the most likely one, first enumerated among equals.
        m.best = p;
        o.path = rec.path.map((s) => pathStep(rs, s));
        o.rulesEvaluated = rec.rulesEvaluated;
        if (rec.outIface !== undefined) o.outInterface = rec.outIface;
        else delete o.outInterface;
        if (rec.notes.length > 0) o.notes = [...rec.notes];
        else delete o.notes;
      }
      for (const u of rec.uncertain) {
        const site = conditionSite(rs, u);
        const k = `${u.rule}|${u.order ?? ''}|${u.assumed}|${u.reason}`;
        if (!m.seen.has(k)) {
          m.seen.add(k);
          const a: Assumption = { line: site.line, condition: conditionText(u, site), holds: u.assumed === 'match' };
          o.assumes.push(a);
        }
        const tk = u.order ? `${site.line}|${site.rule}` : `${site.line}`;
        if (!topUncertain.has(tk)) topUncertain.set(tk, { ...site, reason: u.reason });
      }
      for (const n of rec.notes) if (!warnings.includes(n)) warnings.push(n);
    }
    if (!advance(rec, forced)) break;
  }

  const outcomes = [...merged.values()]
    .sort((a, b) => (Math.abs(a.outcome.probability - b.outcome.probability) > 1e-12 ? b.outcome.probability - a.outcome.probability : a.order - b.order))
    .map((m) => {
      m.outcome.assumes.sort((x, y) => x.line - y.line || Number(y.holds) - Number(x.holds));
      return m.outcome;
    });
  const uncertain = [...topUncertain.values()].sort((a, b) => a.line - b.line);
  return { query: rp.query, outcomes, uncertain, warnings };
}

/**
 * Sets `forced` to the next walk in depth-first order: the deepest decision with an untried
 * branch of nonzero probability moves to that branch, everything after it restarts at branch 0.
 */
function advance(rec: WalkRecord, forced: number[]): boolean {
  const ds = rec.decisions;
  for (let i = ds.length - 1; i >= 0; i--) {
    const d = ds[i];
    let nb = d.taken + 1;
    while (nb < d.probs.length && !(d.probs[nb] > 0)) nb++;
    if (nb < d.probs.length) {
      forced.length = 0;
      for (let j = 0; j < i; j++) forced.push(ds[j].taken);
      forced.push(nb);
      return true;
    }
  }
  return false;
}

/** Where a query's packet lands: every outcome with its probability, path and uncertainties. */
export function explain(rs: Ruleset, engine: Engine, query: Query, opts: ExplainOptions = {}): ExplainResult {
  return explainPacket(rs, engine, resolveQuery(query, rs.node), opts);
}

/** One sampled outcome per query, all packets sharing one seeded PRNG stream (in order). */
export function traceAll(rs: Ruleset, engine: Engine, queries: Query[], seed: number): TraceResult[] {
  const pkts = queries.map((q, i) => {
    try {
      return resolveQuery(q, rs.node).pkt;
    } catch (e) {
      if (e instanceof QueryError) throw new QueryError(`packets[${i}].${e.field}`, e.detail);
      throw e;
    }
  });
  const recs = engine.trace(pkts, seed >>> 0);
  return recs.map((r, i) => ({
    verdict: r.verdict,
    endpoint: formatEndpoint(r.dst, hasPorts(pkts[i].proto) ? r.dport : undefined),
    masquerade: r.masquerade,
    source: formatAddr(r.src),
    rulesEvaluated: r.rulesEvaluated,
  }));
}
