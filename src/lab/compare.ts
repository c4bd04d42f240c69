// Kernel vs prediction: do the observed connections fit the predicted outcomes? Endpoint sets must
// match, frequencies must pass a chi-square test, masquerade and verdict must agree.
//
// Typed structurally (not importing landfall's result types) so the lab stays independent of the
// engine it is used to check; landfall's ExplainResult outcomes fit `PredictedOutcome` as they are.
import { chiSquare, type ChiSquare } from './stats.js';
import type { ProbeSummary } from './summary.js';

export interface PredictedOutcome {
  probability: number;
  verdict: 'accept' | 'drop' | 'reject';
  /** "ip:port" / "[ip6]:port" after DNAT. */
  endpoint: string;
  masquerade: boolean;
  /** Source address after SNAT/MASQUERADE (checked as CompareOptions.checkSource says). */
  source?: string;
}

export interface ComparisonRow {
  key: string;
  probability: number;
  expected: number;
  observed: number;
}

export interface Comparison {
  ok: boolean;
  /** Every disagreement, in words (empty when ok). */
  problems: string[];
  rows: ComparisonRow[];
  chiSquare: ChiSquare | null;
  /** A readable table of rows, for test failure messages and reports. */
  table: string;
}

export interface CompareOptions {
  /** Significance level of the chi-square test (default 0.001). */
  alpha?: number;
  /**
   * Which accepted outcomes must show the predicted source address at the server: 'unmasqueraded'
   * (default: the client's own address must arrive untouched), 'all' (also the address MASQUERADE
   * chose), or 'none'.
   */
  checkSource?: 'unmasqueraded' | 'all' | 'none';
}

/** Canonical "ip:port" (IPv6 compressed, lower case) so both sides spell addresses alike. */
export function canonicalEndpoint(ep: string): string {
  if (!ep.startsWith('[')) return ep;
  const end = ep.indexOf(']');
  try {
    return `${new URL(`http://${ep.slice(0, end + 1)}/`).hostname}${ep.slice(end + 1)}`;
  } catch {
    return ep;
  }
}

/** Canonical address (IPv6 compressed, lower case). */
export function canonicalHost(ip: string): string {
  return ip.includes(':') ? canonicalEndpoint(`[${ip}]:0`).slice(1, -3) : ip;
}

/** Outcomes that a connection can tell apart: accepted where (and masqueraded or not), dropped, rejected. */
export function outcomeKey(verdict: string, endpoint: string | null, masquerade: boolean): string {
  if (verdict !== 'accept') return verdict;
  return `accept ${canonicalEndpoint(endpoint ?? '?')}${masquerade ? ' masquerade' : ''}`;
}

export function compareOutcomes(predicted: readonly PredictedOutcome[], observed: ProbeSummary, opts: CompareOptions = {}): Comparison {
  const alpha = opts.alpha ?? 0.001;
  const problems: string[] = [];
  const checkSource = opts.checkSource ?? 'unmasqueraded';
  const prob = new Map<string, number>();
  const sources = new Map<string, Set<string>>();
  for (const o of predicted) {
    const k = outcomeKey(o.verdict, o.endpoint, o.masquerade);
    prob.set(k, (prob.get(k) ?? 0) + o.probability);
    if (o.verdict === 'accept' && o.source !== undefined && (checkSource === 'all' || (checkSource === 'unmasqueraded' && !o.masquerade))) {
      const set = sources.get(k) ?? new Set<string>();
      set.add(canonicalHost(o.source));
      sources.set(k, set);
    }
  }
  const count = new Map<string, number>();
  const portOnly = new Map<string, number>();
  for (const o of observed.outcomes) {
    if (o.verdict === 'error') {
      problems.push(`${o.count} probe(s) failed in the lab: ${o.codes.join('; ')}`);
      continue;
    }
    const k = outcomeKey(o.verdict, o.endpoint, o.masquerade);
    count.set(k, (count.get(k) ?? 0) + o.count);
    if (o.portOnly > 0) portOnly.set(k, (portOnly.get(k) ?? 0) + o.portOnly);
    const want = sources.get(k);
    const wrong = want ? o.sources.map(canonicalHost).filter((src) => !want.has(src)) : [];
    if (wrong.length > 0) {
      const shown = wrong.length > 4 ? `${wrong.slice(0, 4).join(', ')}, … (${wrong.length} in all)` : wrong.join(', ');
      problems.push(`${k}: kernel source ${shown}; predicted ${[...(want ?? [])].join(', ')}`);
    }
  }
  const n = [...count.values()].reduce((a, b) => a + b, 0);
  const keys = [...new Set([...prob.keys(), ...count.keys()])].sort();
  const rows: ComparisonRow[] = keys.map((key) => ({
    key,
    probability: prob.get(key) ?? 0,
    expected: n * (prob.get(key) ?? 0),
    observed: count.get(key) ?? 0,
  }));
  for (const r of rows) {
    if (r.probability === 0 && r.observed > 0) {
      const p = portOnly.get(r.key) ?? 0;
      const hint = p > 0 ? ` [${p}× only the source port changed: SNAT to the client's own address, or a conntrack tuple clash]` : '';
      problems.push(`kernel: ${r.key} (${r.observed}×); predicted: never${hint}`);
    }
    // With ≥ 20 expected hits, never seeing one happens by chance with probability < e^-20, so a
    // suite of hundreds of such checks does not flake; smaller gaps are the chi-square's business.
    if (r.probability > 0 && r.observed === 0 && r.expected >= 20) problems.push(`predicted: ${r.key} (p=${r.probability.toFixed(4)}, ${r.expected.toFixed(1)} expected); kernel: never`);
  }
  const fit = rows.filter((r) => r.probability > 0);
  let chi: ChiSquare | null = null;
  if (fit.length > 1 && n > 0) {
    chi = chiSquare(
      fit.map((r) => r.observed),
      fit.map((r) => r.probability),
    );
    if (chi.pValue < alpha) problems.push(`frequencies differ: chi-square ${chi.statistic.toFixed(2)} (df ${chi.df}), p = ${chi.pValue.toExponential(2)} < ${alpha}`);
  }
  const table = rows.map((r) => `  ${r.key.padEnd(44)} p=${r.probability.toFixed(4)}  expected ${r.expected.toFixed(1).padStart(6)}  observed ${String(r.observed).padStart(5)}`).join('\n');
  return { ok: problems.length === 0, problems, rows, chiSquare: chi, table };
}
