// A pool worker: holds loaded rulesets (each with its WASM engine instance) by id, and answers
// explain / trace / services for them. Everything the library throws is caught and returned as a
// WorkerFault record, so the only way a task rejects is the worker itself dying (crash, timeout).

import { workerData } from 'piscina';
import { loadRuleset } from '../index.js';
import { toFault } from './errors.js';
import type { RulesetRef, Task, TaskResult, TaskTimings, WorkerConfig } from './protocol.js';

type Loaded = ReturnType<typeof loadRuleset>;

const config: WorkerConfig = (workerData as WorkerConfig | undefined) ?? { cacheBytes: 512 * 1024 * 1024 };

/** LRU of loaded rulesets: Map iteration order is insertion order, re-inserted on every hit. */
const cache = new Map<string, { rs: Loaded; bytes: number }>();
let cachedBytes = 0;

function remember(id: string, rs: Loaded, bytes: number): void {
  if (cache.has(id)) return;
  cache.set(id, { rs, bytes });
  cachedBytes += bytes;
  // Keep at least the newest entry even when it alone is over budget: it is about to be used.
  for (const [oldId, entry] of cache) {
    if (cachedBytes <= config.cacheBytes || cache.size <= 1) break;
    cache.delete(oldId);
    cachedBytes -= entry.bytes;
  }
}

function decode(input: SharedArrayBuffer): Parameters<typeof loadRuleset>[0] {
  // Buffer.from over a SharedArrayBuffer is a view, not a copy; toString copies once into a string.
  return JSON.parse(Buffer.from(input).toString('utf8')) as Parameters<typeof loadRuleset>[0];
}

function load(ref: RulesetRef, timings: TaskTimings): Loaded {
  if (ref.id) {
    const hit = cache.get(ref.id);
    if (hit) {
      cache.delete(ref.id);
      cache.set(ref.id, hit);
      return hit.rs;
    }
  }
  const t0 = performance.now();
  const rs = loadRuleset(decode(ref.input), {
    ...(config.engine ? { engine: config.engine } : {}),
    ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
  });
  timings.loadMs = performance.now() - t0;
  const phases = phaseTimes(rs);
  if (phases.parseMs !== undefined) timings.parseMs = phases.parseMs;
  if (phases.compileMs !== undefined) timings.compileMs = phases.compileMs;
  remember(rs.id, rs, ref.input.byteLength);
  return rs;
}

/** Parse/compile times, if the library's stats carry them (parseMs/compileMs); else none. */
function phaseTimes(rs: Loaded): { parseMs?: number; compileMs?: number } {
  const s = (rs as { stats?: unknown }).stats as Record<string, unknown> | undefined;
  const pick = (k: string) => (typeof s?.[k] === 'number' ? (s[k] as number) : undefined);
  return { parseMs: pick('parseMs'), compileMs: pick('compileMs') };
}

export default function run(task: Task): TaskResult {
  const timings: TaskTimings = { runMs: 0, cached: cache.size };
  try {
    let json: string;
    let id: string | undefined;
    if (task.op === 'ping') {
      json = '{}';
    } else {
      const rs = load(task.ruleset, timings);
      const t0 = performance.now();
      switch (task.op) {
        case 'load':
          id = rs.id;
          json = JSON.stringify({ id: rs.id, stats: rs.stats, warnings: rs.warnings });
          break;
        case 'explain':
          json = JSON.stringify(rs.explain(task.query));
          break;
        case 'trace':
          json = JSON.stringify({ results: rs.trace(task.packets, task.seed === undefined ? {} : { seed: task.seed }) });
          break;
        case 'services':
          json = JSON.stringify({ services: rs.services() });
          break;
      }
      timings.runMs = performance.now() - t0;
    }
    timings.cached = cache.size;
    return id === undefined ? { ok: true, json, timings } : { ok: true, json, id, timings };
  } catch (err) {
    timings.cached = cache.size;
    return { ok: false, fault: toFault(err), timings };
  }
}
