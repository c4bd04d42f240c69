// Turning probe records into what a test compares: outcomes grouped like landfall's explain
// outcomes (verdict, endpoint, masquerade) with counts, plus connection-setup latencies.
import type { ProbeRecord } from './protocol.js';

export type ObservedVerdict = 'accept' | 'reject' | 'drop' | 'error';

export interface ObservedOutcome {
  verdict: ObservedVerdict;
  /** Where it landed ("ip:port"); null unless accepted. */
  endpoint: string | null;
  /** The server saw another source than the client's own (SNAT/MASQUERADE, incl. port-only changes). */
  masquerade: boolean;
  /** Source addresses the server saw (without ports). */
  sources: string[];
  /**
   * Of the masqueraded ones: how many kept the client's address and changed only the port — SNAT to
   * the client's own address, or conntrack remapping a clashing tuple (see KernelLab.flushConntrack).
   */
  portOnly: number;
  count: number;
  /** Error codes seen (refused/blocked/error records). */
  codes: string[];
}

export interface ProbeSummary {
  total: number;
  outcomes: ObservedOutcome[];
  /** Connection setup of accepted connections, microseconds. */
  setupUs: { p50: number; p99: number; mean: number; max: number } | null;
  records: ProbeRecord[];
}

/** "ip:port" / "[ip6]:port" → ip. */
export function hostOf(addr: string): string {
  return addr.startsWith('[') ? addr.slice(1, addr.indexOf(']')) : addr.slice(0, addr.lastIndexOf(':'));
}

/** Timeout and EPERM both mean the packet was dropped (EPERM: by the node's own OUTPUT path). */
function verdictOf(r: ProbeRecord): ObservedVerdict {
  switch (r.kind) {
    case 'landed':
      return 'accept';
    case 'refused':
      return 'reject';
    case 'timeout':
    case 'blocked':
      return 'drop';
    default:
      return 'error';
  }
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(records: ProbeRecord[]): ProbeSummary {
  const groups = new Map<string, ObservedOutcome & { src: Set<string>; codeSet: Set<string> }>();
  const setup: number[] = [];
  for (const r of records) {
    const verdict = verdictOf(r);
    const endpoint = r.kind === 'landed' ? r.local : null;
    const masquerade = r.kind === 'landed' && r.peer !== r.client;
    const key = `${verdict} ${endpoint ?? ''} ${masquerade}`;
    let g = groups.get(key);
    if (!g) {
      g = { verdict, endpoint, masquerade, sources: [], portOnly: 0, count: 0, codes: [], src: new Set(), codeSet: new Set() };
      groups.set(key, g);
    }
    g.count++;
    if (r.kind === 'landed') {
      g.src.add(hostOf(r.peer));
      if (masquerade && hostOf(r.peer) === hostOf(r.client)) g.portOnly++;
      setup.push(r.us);
    } else if (r.kind !== 'timeout') g.codeSet.add(r.kind === 'error' ? `${r.code}: ${r.message}` : r.code);
  }
  setup.sort((a, b) => a - b);
  const outcomes = [...groups.values()]
    .map(({ src, codeSet, ...o }) => ({ ...o, sources: [...src].sort(), codes: [...codeSet].sort() }))
    .sort((a, b) => b.count - a.count);
  return {
    total: records.length,
    outcomes,
    setupUs: setup.length
      ? { p50: percentile(setup, 0.5), p99: percentile(setup, 0.99), mean: setup.reduce((a, b) => a + b, 0) / setup.length, max: setup[setup.length - 1] }
      : null,
    records,
  };
}
