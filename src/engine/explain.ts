// The engine-independent drivers. explain enumerates every walk of a packet by replaying the
// engine's decision points depth-first (branch 0 first), weights each walk by the product of the
// branches it took, and merges walks that end the same way; trace samples one walk per packet.
// Both engines share this file, so enumeration order, merging and the JSON are identical.
//
// Unknown conditions (assume.ts) are variables, not coins: their decisions weigh [1, 1], so a
// walk's probability is the product of its real branches (statistic, NAT ranges, IPVS) given the
// values it assumed. A walk's case is the set of values it assumed; outcomes merge only within a
// case, and the outcomes that apply in any one assignment of the unknowns (those whose assumptions
// agree with it) sum to 1.

import { formatAddr, formatEndpoint, type Addr } from '../model/addr.js';
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
import type { Engine, StepRef, WalkAssumption, WalkRecord } from './types.js';
import { LOCALITY_WARNING } from './assume.js';
import { A_LOCAL } from '../compile/layout.js';
import { conditionSite } from './order.js';
import { rememberOwnJson } from './explain-json.js';

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
    // A rule's family is its table's (4 / 6 / inet ↔ ip / ip6 / inet): no chain record to read.
    const family = r.family === 4 ? 'ip' : r.family === 6 ? 'ip6' : 'inet';
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

/**
 * Path steps made once per rule and shared (frozen) by every answer that shows them: an answer's
 * representative paths repeat the same few rules, and making a step reads the rule's text, line
 * and chain (through the buffer, for a shared compiled form). Direct-mapped by rule id, so the
 * memory kept is bounded whatever the rule set's size; IPVS steps are made per answer.
 *
 * A rule's step enters the cache only when an earlier answer showed the rule too (`seen` holds
 * rule ids, no objects): on a large rule set queried at random most rules are shown once, and a
 * cache that kept each of them would carry them through every young-generation collection into
 * the old generation (the collector's time then grows with the rule set). The steps one answer
 * makes are shared within it through a map of that answer (`local`), garbage when it is dropped.
 *
 * Slots (steps and seen marks alike): the rule count rounded up to a power of two, at most
 * MAX_SLOTS. A kube-proxy rule set shows most of its rules (every service's chains), so slots
 * fewer than its rules collide and a rule shown again is made again (at 10k services, 184k rules,
 * 2^16 slots cost ~8 µs an explain and more young garbage than 2^18; the cache then holds ~13 MB more).
 */
const MAX_SLOTS = 1 << 18;
interface StepCache {
  /** Slots − 1 (a power of two − 1). */
  mask: number;
  /** 1 + the rule id a slot holds (0 empty). */
  ids: Int32Array;
  steps: (PathStep | null)[];
  /** 1 + a rule id some earlier answer showed (direct-mapped like ids). */
  seen: Int32Array;
  policies: Map<number, PathStep>;
}
const stepCaches = new WeakMap<Ruleset, StepCache>();

function slotsFor(rs: Ruleset): number {
  let slots = 1 << 10;
  while (slots < rs.rules.length && slots < MAX_SLOTS) slots <<= 1;
  return slots;
}

function stepCacheOf(rs: Ruleset): StepCache {
  let c = stepCaches.get(rs);
  if (!c) {
    const slots = slotsFor(rs);
    c = { mask: slots - 1, ids: new Int32Array(slots), steps: new Array<PathStep | null>(slots).fill(null), seen: new Int32Array(slots), policies: new Map() };
    stepCaches.set(rs, c);
  }
  return c;
}

/**
 * Makes a rule set's step cache ahead of its first answer, `pause` awaited between pieces: a thread
 * that opens a set while answering others (the service's workers) would otherwise make it in one
 * stretch inside the set's first explain (up to 256k slots, mostly first touches of fresh memory),
 * and the other sets' requests would wait behind it. The same cache as stepCacheOf's.
 */
export async function prepareExplain(rs: Ruleset, pause: () => Promise<void>, pieceSlots = 1 << 15): Promise<void> {
  if (stepCaches.has(rs)) return;
  const slots = slotsFor(rs);
  const steps: (PathStep | null)[] = [];
  // Pushed, not allocated at full length: an array made with `new Array(n)` for n this large has
  // dictionary elements; pushes keep it a packed array like stepCacheOf's.
  for (let at = 0; at < slots; at += pieceSlots) {
    if (at > 0) await pause();
    for (let i = at, end = Math.min(slots, at + pieceSlots); i < end; i++) steps.push(null);
  }
  await pause();
  const ids = new Int32Array(slots);
  const seen = new Int32Array(slots);
  if (!stepCaches.has(rs)) stepCaches.set(rs, { mask: slots - 1, ids, steps, seen, policies: new Map() });
}

/** Path steps of one answer: the shared cache, then the steps this answer made. */
class AnswerSteps {
  private local: Map<number, PathStep> | null = null;
  constructor(
    private readonly rs: Ruleset,
    private readonly c: StepCache,
  ) {}

  step(ref: StepRef): PathStep {
    const c = this.c;
    if (ref.kind === 'rule') {
      const id = ref.rule;
      const slot = id & c.mask;
      if (c.ids[slot] === id + 1) return c.steps[slot]!;
      const mine = this.local?.get(id);
      if (mine !== undefined) return mine;
      const step = Object.freeze(pathStep(this.rs, ref));
      if (c.seen[slot] === id + 1) {
        c.ids[slot] = id + 1;
        // Shared from now on: its JSON is written once (explain-json.ts).
        c.steps[slot] = rememberOwnJson(step);
      } else {
        c.seen[slot] = id + 1;
        (this.local ??= new Map()).set(id, step);
      }
      return step;
    }
    if (ref.kind === 'policy') {
      let step = c.policies.get(ref.chain);
      if (!step) c.policies.set(ref.chain, (step = rememberOwnJson(Object.freeze(pathStep(this.rs, ref)))));
      return step;
    }
    return pathStep(this.rs, ref);
  }
}

/**
 * Where an unknown condition sits: its rule; for a base-chain order condition the first chain's
 * declaration (order.ts); for the routing decision line 0.
 */
function siteOf(rs: Ruleset, u: WalkAssumption): { line: number; table: string; chain: string; rule: string } {
  if (u.order || u.rule >= 0) return conditionSite(rs, u);
  return { line: 0, table: 'routing', chain: 'routing decision', rule: '' };
}

function uncertainRule(rs: Ruleset, u: WalkAssumption): UncertainRule {
  return { ...siteOf(rs, u), reason: u.reason };
}

/** An outcome's view of an assumption (named by `line`: explain's line for the variable, else its site's). */
export function assumptionOf(rs: Ruleset, a: WalkAssumption, line = siteOf(rs, a).line): Assumption {
  return { line, condition: a.condition, holds: a.holds };
}

/** A walk's case: the values it assumed, as one key (order-independent). */
function caseKey(rec: WalkRecord): string {
  const parts: string[] = [];
  for (const a of rec.assumptions) if (a.how === 'decided') parts.push(`${a.key}=${a.holds ? 1 : 0}`);
  return parts.sort().join('\n');
}

function hasPorts(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.sctp;
}

function probabilityOf(rec: WalkRecord): number {
  let p = 1;
  for (const d of rec.decisions) p *= d.probs[d.taken];
  return p;
}

/**
 * IPv4 endpoint texts, direct-mapped by (address, port): the walks of one packet and the answers
 * for one service repeat the same few endpoints, and a string made once also keeps its hash for
 * the merge map.
 */
const EP_SLOTS = 1 << 12;
const epKeys = new Float64Array(EP_SLOTS).fill(-1);
const epTexts = new Array<string>(EP_SLOTS).fill('');

function endpointText(a: Addr, port: number | undefined): string {
  if (a.family !== 4) return formatEndpoint(a, port);
  const v = a.w[0];
  // port 65536 stands for "no port" (ICMP)
  const key = v * 131072 + (port ?? 65536);
  const slot = (Math.imul(v, 0x9e3779b1) ^ (port ?? 65536)) & (EP_SLOTS - 1);
  if (epKeys[slot] === key) return epTexts[slot];
  const t = formatEndpoint(a, port);
  epKeys[slot] = key;
  epTexts[slot] = t;
  return t;
}

interface Merged {
  outcome: Outcome;
  best: number;
  order: number;
  /** Enumeration order of the outcome's case. */
  caseOrder: number;
  /** The next outcome with the same endpoint text (the merge map is keyed by endpoint). */
  next: Merged | null;
}

/** explain() on an already resolved packet (the worker path). */
export function explainPacket(rs: Ruleset, engine: Engine, rp: ResolvedPacket, opts: ExplainOptions = {}): ExplainResult {
  const cap = opts.maxPaths ?? DEFAULT_MAX_PATHS;
  const { pkt } = rp;
  const ported = hasPorts(pkt.proto);
  // Outcomes merge on (case, verdict, endpoint, masquerade, source, rejectWith): looked up by
  // endpoint, then compared field by field (no key string is built per walk).
  const byEndpoint = new Map<string, Merged>();
  const merged: Merged[] = [];
  const topUncertain = new Map<string, UncertainRule>();
  // One line per variable in the whole answer: a fact asked at different rules on different paths
  // ("is X a node address?" at the routing decision on one, at an addrtype rule on another) is one
  // variable (one value per walk), so every outcome names it by the site where it was first met;
  // otherwise two outcomes would name one condition by two lines, and a reader would take it for two.
  const lineOfVariable = new Map<string, number>();
  const cases = new Map<string, number>();
  const warnings = [...rp.warnings];
  let localityMet = false;
  const forced: number[] = [];
  const steps = new AnswerSteps(rs, stepCacheOf(rs));
  // The walks of one packet mostly keep its source: formatted once, not once per walk (the words
  // are copied: an engine may reuse its address objects).
  let lastSrc: number[] = [0];
  let lastSource = '';
  let walks = 0;

  for (;;) {
    if (++walks > cap) throw new PathExplosionError(cap);
    const rec = engine.walk(pkt, forced);
    const p = probabilityOf(rec);
    if (p > 0) {
      const endpoint = endpointText(rec.dst, ported ? rec.dport : undefined);
      const a = rec.src;
      if (!(a.family === lastSrc[0] && a.w[0] === lastSrc[1] && a.w[1] === lastSrc[2] && a.w[2] === lastSrc[3] && a.w[3] === lastSrc[4])) {
        lastSrc = [a.family, a.w[0], a.w[1], a.w[2], a.w[3]];
        lastSource = formatAddr(a);
      }
      const source = lastSource;
      const ck = rec.assumptions.length === 0 ? '' : caseKey(rec);
      let caseOrder = cases.get(ck);
      if (caseOrder === undefined) cases.set(ck, (caseOrder = cases.size));
      const first = byEndpoint.get(endpoint);
      let m: Merged | null | undefined = first;
      while (
        m !== undefined &&
        m !== null &&
        !(m.caseOrder === caseOrder && m.outcome.verdict === rec.verdict && m.outcome.masquerade === rec.masquerade && m.outcome.source === source && (m.outcome.rejectWith ?? '') === (rec.rejectWith ?? ''))
      )
        m = m.next;
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
        m = { outcome, best: -1, order: merged.length, caseOrder, next: first ?? null };
        merged.push(m);
        byEndpoint.set(endpoint, m);
        // The case's values, in the order the walk met them.
        for (const a of rec.assumptions) {
          if (a.how !== 'decided') continue;
          let line = lineOfVariable.get(a.key);
          if (line === undefined) lineOfVariable.set(a.key, (line = siteOf(rs, a).line));
          outcome.assumes.push(assumptionOf(rs, a, line));
        }
      }
      const o = m.outcome;
      o.probability += p;
      if (p > m.best) {
        // The representative walk: the most likely one, first enumerated among equals.
        m.best = p;
        const refs = rec.path;
        const path = new Array<PathStep>(refs.length);
        for (let i = 0; i < refs.length; i++) path[i] = steps.step(refs[i]);
        o.path = path;
        o.rulesEvaluated = rec.rulesEvaluated;
        if (rec.outIface !== undefined) o.outInterface = rec.outIface;
        else if (o.outInterface !== undefined) delete o.outInterface; // (delete is a runtime call: only when set)
        if (rec.notes.length > 0) o.notes = [...rec.notes];
        else if (o.notes !== undefined) delete o.notes;
      }
      // Assumptions without a decision (a target taken to continue) are not variables: they are
      // listed in the top-level uncertain only.
      for (const u of rec.assumptions) {
        if (u.kind === A_LOCAL) localityMet = true;
        const tk = `${siteOf(rs, u).line}|${u.reason}`;
        if (!topUncertain.has(tk)) topUncertain.set(tk, uncertainRule(rs, u));
      }
      for (const n of rec.notes) if (!warnings.includes(n)) warnings.push(n);
    }
    if (!advance(rec, forced)) break;
  }

  // Cases in the order first met; within one, by probability, ties by first enumeration.
  const outcomes = merged
    .sort((a, b) =>
      a.caseOrder !== b.caseOrder
        ? a.caseOrder - b.caseOrder
        : Math.abs(a.outcome.probability - b.outcome.probability) > 1e-12
          ? b.outcome.probability - a.outcome.probability
          : a.order - b.order,
    )
    .map((m) => m.outcome);
  const uncertain = [...topUncertain.values()].sort((a, b) => a.line - b.line);
  if (localityMet && !warnings.includes(LOCALITY_WARNING)) warnings.push(LOCALITY_WARNING);
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
  return recs.map((r, i) => {
    const t: TraceResult = {
      verdict: r.verdict,
      endpoint: formatEndpoint(r.dst, hasPorts(pkts[i].proto) ? r.dport : undefined),
      masquerade: r.masquerade,
      source: formatAddr(r.src),
      rulesEvaluated: r.rulesEvaluated,
    };
    if (r.assumptions.length > 0) t.assumes = r.assumptions.map((a) => assumptionOf(rs, a));
    return t;
  });
}
