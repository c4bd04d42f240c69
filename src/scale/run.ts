// The chain-scaling lab's job runner, shared by `landfall scale` and POST /v1/scale: for each
// point (service count × mode) measure the model in a fresh worker thread (point.ts), then,
// when asked, the real kernel (kernel.ts). Progress goes to a callback, cancellation comes
// through an AbortSignal, and a point that fails carries its `error` while the others go on.
//
// One worker per point: a 20,000-service point holds over a gigabyte, which a finished worker
// hands back to the OS; an out-of-memory or a hang kills one point, never the job; and cancelling
// is terminating a thread, which works even in the middle of a synchronous parse.

import { readFileSync } from 'node:fs';
import { LandfallError } from '../model/errors.js';
import { createRequire } from 'node:module';
import { loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { measureKernel } from './kernel.js';
import { normalizeScaleOptions, type NormalizedScale } from './options.js';
import { emptyPoint, measurePoint, type PointOutcome, type PointSpec } from './point.js';
import type { WorkerMessage } from './worker.js';
import type { PointPhase, ScaleMode, ScaleOptions, ScalePoint, ScaleProgress, ScaleResult } from './types.js';

export * from './types.js';
export { normalizeScaleOptions, parseMixSpec, resolveServiceMix, ScaleOptionsError } from './options.js';

export interface ScaleHooks {
  signal?: AbortSignal;
  /** The point measurer for `inline` runs (default measurePoint; tests make one point fail with it). */
  measure?: (spec: PointSpec, onPhase: PhaseCb) => PointOutcome;
  onProgress?: (p: ScaleProgress) => void;
  /** Each point as it finishes (failed ones included), in order. */
  onPoint?: (p: ScalePoint, index: number) => void;
}

/** runScale's shape (the HTTP job registry takes one, so tests can substitute a controllable runner). */
export type ScaleRunner = (options: ScaleOptions, hooks?: ScaleHooks) => Promise<ScaleResult>;

/** Thrown by runScale when its signal aborts; the points finished so far went to onPoint. */
export class ScaleCancelled extends LandfallError {
  override readonly name = 'AbortError';
  readonly code = 'cancelled';
  constructor() {
    super('scale run cancelled');
  }
}

/** The points a request stands for, in run order: service counts ascending, modes inside. */
export function planPoints(o: NormalizedScale): { mode: ScaleMode; services: number }[] {
  return o.services.flatMap((services) => o.modes.map((mode) => ({ mode, services })));
}

/**
 * What the Worker runs: dist/ has plain worker.js. From src/ (tsx, vitest) the entry is
 * TypeScript, and Node 20 ignores `--import tsx` in a worker's execArgv for the worker's own
 * entry, so a one-line bootstrap registers tsx's ESM hooks inside the worker and then imports it.
 */
function workerEntry(): { script: string | URL; eval: boolean } {
  // A prebuilt worker module instead (the test suite bundles ./worker.ts once per run): no tsx
  // start-up per point, which is most of a small point's time.
  const prebuilt = process.env.LANDFALL_SCALE_WORKER_FILE;
  if (prebuilt) return { script: pathToFileURL(resolve(prebuilt)), eval: false };
  if (!import.meta.url.endsWith('.ts')) return { script: new URL('./worker.js', import.meta.url), eval: false };
  const entry = new URL('./worker.ts', import.meta.url).href;
  // tsx's ESM API, located through its package exports from here (the working directory does not matter).
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api'].import.default)).href;
  const script = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return { script, eval: true };
}

/** Big points need more than V8's default old space; leave a quarter of the machine to the rest. */
function heapLimitMb(): number {
  return Math.max(2048, Math.min(16_384, Math.floor((totalmem() * 0.75) / 2 ** 20)));
}

type PhaseCb = (phase: PointPhase, fraction: number) => void;

/** Runs one point in its own worker; rejects with ScaleCancelled on abort, Error on failure or timeout. */
function pointInWorker(spec: PointSpec, timeoutMs: number, signal: AbortSignal | undefined, onPhase: PhaseCb): Promise<PointOutcome> {
  if (signal?.aborted) return Promise.reject(new ScaleCancelled());
  const entry = workerEntry();
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry.script, {
      eval: entry.eval,
      workerData: spec,
      resourceLimits: { maxOldGenerationSizeMb: heapLimitMb() },
      // The worker's output must never reach our stdout (`--json` keeps it clean).
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.on('data', (b: Buffer) => process.stderr.write(b));
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = (): void => finish(() => reject(new ScaleCancelled()));
    const timer = setTimeout(() => finish(() => reject(new Error(`point timed out after ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'phase') onPhase(m.phase, m.fraction);
      else if (m.type === 'done') finish(() => resolve(m.outcome));
      else finish(() => reject(new Error(m.message)));
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`point worker exited (code ${code}) before reporting`))));
  });
}

function failedPoint(mode: ScaleMode, services: number, endpoints: number, e: unknown): ScalePoint {
  const p = emptyPoint(mode, services, endpoints);
  const msg = e instanceof Error ? e.message : String(e);
  // V8 reports a worker out of memory as ERR_WORKER_OUT_OF_MEMORY; say it plainly.
  p.error = (e as { code?: string })?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `out of memory (heap limit ${heapLimitMb()} MB): ${msg}` : msg;
  return p;
}

/** Runs a scaling job. Throws ScaleOptionsError before starting on bad options, ScaleCancelled when aborted. */
export async function runScale(options: ScaleOptions, hooks: ScaleHooks = {}): Promise<ScaleResult> {
  const o = normalizeScaleOptions(options);
  const plan = planPoints(o);
  const { signal } = hooks;
  // Progress weights: a point costs roughly its rule count (services × endpoints) plus a constant.
  const weights = plan.map((p) => p.services * Math.max(1, o.endpoints) + 1_000);
  const total = weights.reduce((a, b) => a + b, 0);
  const modelShare = o.kernel ? 0.6 : 1;
  const points: ScalePoint[] = [];
  let base = 0;

  const progress = (i: number, phase: PointPhase, fraction: number): void => {
    const w = i < weights.length ? weights[i] : 0;
    const cur = plan[i];
    hooks.onProgress?.({
      percent: Math.min(100, (100 * (base + w * fraction)) / total),
      point: i,
      points: plan.length,
      mode: cur?.mode ?? null,
      services: cur?.services ?? null,
      phase,
    });
  };

  for (let i = 0; i < plan.length; i++) {
    if (signal?.aborted) throw new ScaleCancelled();
    const { mode, services } = plan[i];
    const spec: PointSpec = {
      mode,
      services,
      endpoints: o.endpoints,
      packets: o.packets,
      seed: o.seed,
      mix: o.mix,
      traffic: o.traffic,
      kernel: o.kernel,
      kernelConnects: o.kernelConnects,
    };
    const onPhase: PhaseCb = (phase, f) => progress(i, phase, f * modelShare);
    progress(i, 'generate', 0);
    let point: ScalePoint;
    let outcome: PointOutcome | null = null;
    try {
      outcome = o.inline ? (hooks.measure ?? measurePoint)(spec, onPhase) : await pointInWorker(spec, o.pointTimeoutMs, signal, onPhase);
      point = outcome.point;
    } catch (e) {
      if (e instanceof ScaleCancelled || signal?.aborted) throw new ScaleCancelled();
      point = failedPoint(mode, services, o.endpoints, e);
    }
    if (o.kernel && outcome?.kernel) {
      progress(i, 'kernel', modelShare);
      try {
        point.kernel = await measureKernel(outcome.kernel, {
          ...(signal ? { signal } : {}),
          onProgress: (f) => progress(i, 'kernel', modelShare + (1 - modelShare) * f),
        });
      } catch (e) {
        if (signal?.aborted) throw new ScaleCancelled();
        point.kernel = { restoreMs: null, empty: null, loaded: null, addedP50Us: null, error: e instanceof Error ? e.message : String(e) };
      }
    }
    point.loadAverage = Math.round(loadavg()[0] * 100) / 100;
    points.push(point);
    base += weights[i];
    hooks.onPoint?.(point, i);
  }
  progress(plan.length, 'done', 0);
  return { points };
}
