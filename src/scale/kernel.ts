// The kernel beside the model: load a scaling point's dump into a throwaway namespace (the kernel
// lab, src/lab) and time real TCP connection setup from a pod to random services' cluster IPs,
// next to the same connections made straight to the endpoints before any rule is loaded. The
// difference is what walking the rules costs the kernel on a first packet.
//
// Connections are sequential (one in flight) so each time is one connection's setup, not a queue;
// every connection has a fresh source port, so each one is NEW and walks the nat rules.

import { KernelLab, labAvailability, scanDnatTargets, scanNftDnatTargets, type LabProbe } from '../lab/index.js';
import type { ProbeRecord } from '../lab/protocol.js';
import type { KernelInput, KernelTarget } from './point.js';
import { nearestRank } from './stats.js';
import type { KernelFigures, LatencyStats } from './types.js';

export interface KernelMeasureOptions {
  signal?: AbortSignal;
  /** Fraction of the kernel measurement done, 0..1. */
  onProgress?: (fraction: number) => void;
  /** Per connection: longer without an answer counts as unanswered (default 1000 ms). */
  connectTimeoutMs?: number;
  /** Wall-clock budget for each series of connections (default 120 s); the series stops there. */
  seriesBudgetMs?: number;
}

/** Why `--kernel` cannot run here, or null when it can (cached by the lab). */
export async function kernelUnavailable(): Promise<string | null> {
  const a = await labAvailability();
  return a.ok ? null : a.reason;
}

export function latencyOf(records: readonly ProbeRecord[], attempted: number): LatencyStats {
  const us = records.filter((r): r is Extract<ProbeRecord, { kind: 'landed' }> => r.kind === 'landed').map((r) => r.us);
  us.sort((a, b) => a - b);
  return {
    attempted,
    answered: us.length,
    p50Us: us.length > 0 ? nearestRank(us, 0.5) : null,
    p99Us: us.length > 0 ? nearestRank(us, 0.99) : null,
  };
}

function abortError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

/** One connection per target, in order, until the targets or the budget run out. */
async function series(
  lab: KernelLab,
  targets: readonly { destination: string; port: number }[],
  o: Required<Pick<KernelMeasureOptions, 'connectTimeoutMs' | 'seriesBudgetMs'>> & KernelMeasureOptions,
  progress: (done: number) => void,
): Promise<LatencyStats> {
  const records: ProbeRecord[] = [];
  const deadline = performance.now() + o.seriesBudgetMs;
  let attempted = 0;
  for (const t of targets) {
    if (o.signal?.aborted) throw abortError();
    if (performance.now() > deadline) break;
    const probe: LabProbe = { origin: 'pod', proto: 'tcp', destination: t.destination, port: t.port, count: 1, concurrency: 1, timeoutMs: o.connectTimeoutMs };
    const s = await lab.probe(probe);
    attempted++;
    records.push(...s.records);
    progress(attempted);
  }
  return latencyOf(records, attempted);
}

/** Restore timing and connection latency for one point; never throws except on abort (failures land in `error`). */
export async function measureKernel(input: KernelInput, opts: KernelMeasureOptions = {}): Promise<KernelFigures> {
  const o = { connectTimeoutMs: 1_000, seriesBudgetMs: 120_000, ...opts };
  const report = (f: number): void => opts.onProgress?.(Math.min(1, f));
  const figures: KernelFigures = { restoreMs: null, empty: null, loaded: null, addedP50Us: null, error: null };
  const why = await kernelUnavailable();
  if (why) return { ...figures, error: why };
  if (o.signal?.aborted) throw abortError();

  let lab: KernelLab | null = null;
  // One close, shared: the abort handler's and the finally's must both wait for the namespaces to go.
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= lab ? lab.close() : Promise.resolve());
  const onAbort = (): void => void close();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    lab = await KernelLab.create({ v6: null });
    if (o.signal?.aborted) throw abortError();
    report(0.05);
    const targets: KernelTarget[] = input.targets;
    const n = Math.max(1, targets.length);
    if ((input.mode === 'iptables' || input.mode === 'nftables') && targets.length > 0) {
      // Every DNAT target listens before anything is loaded, all in one request: the lab's agent
      // listens on TCP ports by wildcard, and a second request for the same port would collide
      // with the first (EADDRINUSE), so load() must find nothing left to listen on.
      await lab.listenAt(input.nftables !== undefined ? scanNftDnatTargets(input.nftables).targets : scanDnatTargets(input.iptables).targets);
      // The floor: the same pods reached directly, through an empty rule set.
      figures.empty = await series(lab, targets.map((t) => ({ destination: t.endpoint, port: t.endpointPort })), o, (d) => report(0.05 + (0.25 * d) / n));
    }
    if (o.signal?.aborted) throw abortError();
    report(0.3);
    const loaded = await lab.load({
      iptables: input.iptables,
      ...(input.ipsets !== undefined ? { ipsets: input.ipsets } : {}),
      ...(input.nftables !== undefined ? { nftables: input.nftables } : {}),
    });
    figures.restoreMs = loaded.restoreMs;
    report(0.6);
    if (input.mode === 'ipvs') {
      // The lab loads iptables and ipsets only; IPVS virtual servers need the ip_vs module and
      // ipvsadm, so in this mode only the restore is measured.
      figures.error = 'IPVS mode: the kernel lab loads no IPVS virtual servers (ip_vs/ipvsadm), so only iptables-restore was timed';
    } else if (targets.length === 0) {
      figures.error = 'no TCP service with endpoints to connect to';
    } else {
      figures.loaded = await series(lab, targets, o, (d) => report(0.6 + (0.4 * d) / n));
      if (figures.loaded.p50Us !== null && figures.empty?.p50Us != null) figures.addedP50Us = figures.loaded.p50Us - figures.empty.p50Us;
    }
    report(1);
    return figures;
  } catch (e) {
    if (o.signal?.aborted) throw abortError();
    return { ...figures, error: e instanceof Error ? e.message : String(e) };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await close();
  }
}
