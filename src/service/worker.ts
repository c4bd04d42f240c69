// A pool worker: holds loaded rulesets (each with its WASM engine instance) by id, and answers
// explain / trace / services for them. Everything the library throws is caught and returned as a
// WorkerFault record, so the only way a task rejects is the worker itself dying (crash, timeout).

import { workerData } from 'piscina';
import { threadId } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import { loadRuleset, buildRuleset } from '../ruleset.js';
import type { RulesetBundle } from '../model/contracts.js';
import { compileShared, isCurrentShared, openSharedRuleset } from '../shared-ruleset.js';
import { decodePackets, encodeResults } from '../engine/columns-wire.js';
import { toFault } from './errors.js';
import type { RulesetRef, Task, TaskResult, TaskTimings, WorkerConfig } from './protocol.js';

/** What a worker answers from: a shared compiled form opened here, or (reference engine) a parsed ruleset. */
interface Answering {
  id: string;
  stats: unknown;
  warnings: string[];
  explain: ReturnType<typeof loadRuleset>['explain'];
  trace: ReturnType<typeof loadRuleset>['trace'];
  traceColumns: ReturnType<typeof loadRuleset>['traceColumns'];
  servicesJson(): string;
}

const config: WorkerConfig = (workerData as WorkerConfig | undefined) ?? { cacheBytes: 512 * 1024 * 1024 };

/** Loaded rulesets by id, least recently used dropped first, bounded by the memory each holds. */
const cache = new LRUCache<string, Answering>({ maxSize: Math.max(1, config.cacheBytes), sizeCalculation: (_v, k) => sizes.get(k) ?? 1, dispose: (_v, k) => sizes.delete(k) });
const sizes = new Map<string, number>();

/** Dumps this worker has parsed since it started (the load path's proof: answering never parses). */
let parses = 0;

/** Stored input → the bundle and how to read it (a lenient upload carries `lenient: true`: store.ts encodeInput). */
function parse(input: SharedArrayBuffer): { bundle: RulesetBundle; lenient: boolean } {
  parses++;
  // Buffer.from over a SharedArrayBuffer is a view, not a copy; toString copies once into a string.
  const bundle = JSON.parse(Buffer.from(input).toString('utf8')) as RulesetBundle & { lenient?: boolean };
  return { bundle, lenient: bundle.lenient === true };
}

function open(ref: RulesetRef, timings: TaskTimings): Answering {
  if (ref.id) {
    const hit = cache.get(ref.id);
    if (hit) return hit;
  }
  const t0 = performance.now();
  let rs: Answering;
  let bytes: number;
  if (ref.shared && config.engine !== 'reference' && isCurrentShared(ref.shared)) {
    // The usual path: the compiled form, shared with every worker; the dump is parsed only for
    // a walk the wasm engine hands back (src/shared-ruleset.ts).
    const input = ref.input;
    rs = openSharedRuleset(ref.shared, {
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
      parse: () => {
        const { bundle, lenient } = parse(input);
        return buildRuleset(bundle, { lenient }).ruleset;
      },
    });
    bytes = ref.shared.byteLength;
  } else {
    const { bundle, lenient } = parse(ref.input);
    const lib = loadRuleset(bundle, {
      lenient,
      ...(config.engine ? { engine: config.engine } : {}),
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
    });
    rs = { ...lib, servicesJson: () => JSON.stringify({ services: lib.services() }) };
    bytes = ref.input.byteLength * 25;
    timings.parseMs = lib.stats.parseMs;
    timings.compileMs = lib.stats.compileMs;
  }
  timings.loadMs = performance.now() - t0;
  if (ref.id) {
    sizes.set(ref.id, Math.max(1, bytes));
    cache.set(ref.id, rs);
  }
  return rs;
}


export default function run(task: Task): TaskResult {
  const timings: TaskTimings = { runMs: 0, cached: cache.size, parses, thread: threadId };
  try {
    let json: string;
    let id: string | undefined;
    let shared: SharedArrayBuffer | undefined;
    let binary: Uint8Array | undefined;
    if (task.op === 'ping') {
      json = '{}';
    } else if (task.op === 'load') {
      // The loader thread (src/service/pool.ts): parse and compile once, for every worker.
      const t0 = performance.now();
      const { bundle, lenient } = parse(task.ruleset.input);
      const packed = compileShared(bundle, { lenient, ...(task.ruleset.id ? { id: task.ruleset.id } : {}) });
      timings.loadMs = performance.now() - t0;
      timings.parseMs = packed.stats.parseMs;
      timings.compileMs = packed.stats.compileMs;
      id = packed.id;
      shared = packed.shared;
      json = JSON.stringify({ id: packed.id, stats: packed.stats, warnings: packed.warnings });
    } else {
      const rs = open(task.ruleset, timings);
      const t0 = performance.now();
      switch (task.op) {
        case 'explain':
          json = JSON.stringify(rs.explain(task.query));
          break;
        case 'trace':
          json = JSON.stringify({ results: rs.trace(task.packets, task.seed === undefined ? {} : { seed: task.seed }) });
          break;
        case 'services':
          json = rs.servicesJson();
          break;
        case 'traceColumns': {
          const { cols, seed } = decodePackets(task.packets);
          binary = encodeResults(rs.traceColumns(cols, { seed }));
          json = '';
          break;
        }
      }
      timings.runMs = performance.now() - t0;
    }
    timings.cached = cache.size;
    timings.parses = parses;
    const res: TaskResult = { ok: true, json, timings };
    if (id !== undefined) res.id = id;
    if (shared !== undefined) res.shared = shared;
    if (binary !== undefined) res.binary = binary;
    return res;
  } catch (err) {
    timings.cached = cache.size;
    timings.parses = parses;
    return { ok: false, fault: toFault(err), timings };
  }
}
