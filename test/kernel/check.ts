// One kernel observation against explain's answer, in every loaded variant (dump text × engine).
import { compareOutcomes, type ProbeSummary } from '../../src/lab/index.js';
import { afterAll, beforeEach } from 'vitest';
import type { KernelLab } from '../../src/lab/index.js';
import type { Query } from '../../src/model/contracts.js';
import type { ExplainingRuleset } from './library.js';

/** Only explain is compared against the kernel. */
export type Variant = { name: string; rs: Pick<ExplainingRuleset, 'explain'> };

/**
 * Significance level of each chi-square test. The kernel suites make fewer than 200 distribution
 * comparisons per run; at 0.001 each, one run in seven would fail somewhere by chance alone.
 * Bonferroni: 0.001 / 200 keeps a false alarm under one run in a thousand, and still catches a
 * 1/3 → 1/4 probability error at 1200 connections (chi-square ≈ 37, p ≈ 1e-8).
 */
export const KERNEL_ALPHA = 0.001 / 200;

/** Everything that disagrees, as readable text (empty when kernel and explain agree). */
export function disagreements(
  variants: readonly Variant[],
  query: Query,
  observed: ProbeSummary,
  label: string,
  opts: {
    /** Accept (and print) `uncertain` rules: for dumps whose unmodelled bits cannot change the outcome. */
    allowUncertain?: boolean;
    /** Passed to compareOutcomes ('none' when the observation merges many clients). */
    checkSource?: 'unmasqueraded' | 'all' | 'none';
  } = {},
): string[] {
  if (variants.length === 0) return [`${label}: nothing to compare with (no ruleset loaded)`];
  const problems: string[] = [];
  for (const v of variants) {
    let result;
    try {
      result = v.rs.explain(query);
    } catch (e) {
      problems.push(`${label} — ${v.name}: explain threw: ${(e as Error).message}`);
      continue;
    }
    const c = compareOutcomes(result.outcomes, observed, { checkSource: opts.checkSource, alpha: KERNEL_ALPHA });
    const bad = [...c.problems];
    // kube-proxy dumps use only modelled matches: an uncertain answer would be a weaker claim.
    if (result.uncertain.length > 0) {
      const text = `explain is uncertain about: ${result.uncertain.map((u) => `line ${u.line} (${u.reason})`).join('; ')}`;
      if (opts.allowUncertain) noteOnce(`${v.name}: ${text}`);
      else bad.push(text);
    }
    if (bad.length > 0) problems.push(`${label} — ${v.name}:\n    ${bad.join('\n    ')}\n${c.table}`);
  }
  return problems;
}

const noted = new Set<string>();
function noteOnce(text: string): void {
  if (noted.has(text)) return;
  noted.add(text);
  console.info(`[kernel] note: ${text}`);
}

/** Per-scenario wall times, printed after a suite for the record. */
export class Timings {
  private readonly rows: Array<{ name: string; ms: number; connections: number }> = [];
  private started = performance.now();

  /** Starts the suite clock (call first thing in beforeAll: describe bodies run at collection). */
  begin(): void {
    this.started = performance.now();
  }

  add(name: string, ms: number, connections: number): void {
    this.rows.push({ name, ms, connections });
  }

  report(suite: string): string {
    const total = performance.now() - this.started;
    const conns = this.rows.reduce((a, t) => a + t.connections, 0);
    return (
      `[kernel] ${suite}: ${this.rows.length} scenarios, ${conns} connections, ${(total / 1000).toFixed(1)} s with lab setup\n` +
      this.rows.map((t) => `  ${(t.ms / 1000).toFixed(2).padStart(6)} s  ${String(t.connections).padStart(4)}×  ${t.name}`).join('\n')
    );
  }
}

/**
 * The hooks every kernel suite needs around its lab. Conntrack entries outlive their connections
 * (TCP TIME_WAIT: 120 s): a later connection whose reply tuple clashes with one (same endpoint,
 * same client address and port, e.g. an earlier scenario's) gets its source port remapped by the
 * kernel, which would look like masquerade — so each scenario starts with an empty table. After
 * the suite the lab is closed (namespaces removed) and the timings printed.
 */
export function labLifecycle(lab: () => KernelLab | undefined, timings: Timings, suite: () => string): void {
  beforeEach(async () => {
    await lab()?.flushConntrack();
  });
  afterAll(async () => {
    await lab()?.close();
    console.info(timings.report(suite()));
  });
}
