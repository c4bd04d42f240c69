// A pool worker: holds loaded rulesets (each with its WASM engine instance) by id, and answers
// explain / trace / services for them. Everything the library throws is caught and returned as a
// WorkerFault record, so the only way a task rejects is the worker itself dying (crash, timeout).

import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { threadId } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import { loadRuleset, buildRuleset } from '../ruleset.js';
import type { RulesetBundle } from '../model/contracts.js';
import { readFileSync } from 'node:fs';
import { compileShared, fileTail, isCurrentShared, isWholeShared, openSharedRuleset, sharedSection } from '../shared-ruleset.js';
import { decodePackets, encodeResults } from '../engine/columns-wire.js';
import { toFault } from './errors.js';
import { collectIfExposed } from './gc.js';
import type { BatchAnswers, RulesetRef, Task, TaskResult, TaskTimings, WorkerConfig } from './protocol.js';
import type { WorkerFault } from './errors.js';

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
/**
 * The newest ruleset larger than the whole budget (lru-cache refuses those): kept until the next
 * one, or every request on a big node would open it again.
 */
let oversize: { id: string; rs: Answering } | undefined;

function remember(id: string, rs: Answering, bytes: number): void {
  if (bytes > config.cacheBytes) {
    oversize = { id, rs };
    return;
  }
  sizes.set(id, Math.max(1, bytes));
  cache.set(id, rs);
}

/** Dumps this worker has parsed since it started (the load path's proof: answering never parses). */
let parses = 0;

/**
 * Stored input → the bundle and how to read it (a lenient upload carries `lenient: true`: store.ts
 * encodeInput). The input is in memory, or in its `.ruleset` file after the header line.
 */
function parse(ref: RulesetRef): { bundle: RulesetBundle; lenient: boolean } {
  parses++;
  let bytes: Buffer;
  if (ref.input) {
    // Buffer.from over a SharedArrayBuffer is a view, not a copy; toString copies once into a string.
    bytes = Buffer.from(ref.input);
  } else if (ref.inputFile) {
    const file = readFileSync(ref.inputFile);
    bytes = file.subarray(file.indexOf(10) + 1);
  } else {
    throw new Error(`ruleset ${ref.id}: no input to parse`);
  }
  const bundle = JSON.parse(bytes.toString('utf8')) as RulesetBundle & { lenient?: boolean };
  return { bundle, lenient: bundle.lenient === true };
}

function open(ref: RulesetRef, timings: TaskTimings): Answering {
  if (ref.id) {
    const hit = cache.get(ref.id) ?? (oversize?.id === ref.id ? oversize.rs : undefined);
    if (hit) return hit;
  }
  const t0 = performance.now();
  let rs: Answering;
  let bytes: number;
  if (ref.shared && config.engine !== 'reference' && isCurrentShared(ref.shared)) {
    // The usual path: the compiled form, shared with every worker; the dump is parsed only for
    // a walk the wasm engine hands back (src/shared-ruleset.ts).
    // A resident part reads its words (and the services answer) from the whole form's file.
    const whole = isWholeShared(ref.shared);
    if (!whole && !ref.compiledFile) throw new Error(`ruleset ${ref.id}: a resident compiled form without its file`);
    rs = openSharedRuleset(ref.shared, {
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
      ...(whole ? {} : { tail: fileTail(ref.compiledFile!) }),
      parse: () => {
        const { bundle, lenient } = parse(ref);
        return buildRuleset(bundle, { lenient }).ruleset;
      },
    });
    // What this worker holds of its own: the words, copied into its wasm instance.
    bytes = sharedSection(ref.shared, 'words').length;
  } else {
    const { bundle, lenient } = parse(ref);
    const lib = loadRuleset(bundle, {
      lenient,
      ...(config.engine ? { engine: config.engine } : {}),
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
    });
    rs = { ...lib, servicesJson: () => JSON.stringify({ services: lib.services() }) };
    bytes = lib.stats.bytes * 25;
    timings.parseMs = lib.stats.parseMs;
    timings.compileMs = lib.stats.compileMs;
  }
  timings.loadMs = performance.now() - t0;
  if (ref.id) remember(ref.id, rs, bytes);
  collectIfExposed(); // the words read from a file were copied into the wasm instance
  return rs;
}


/** A JSON answer as UTF-8 in an ArrayBuffer of its own (not Node's shared pool: it is transferred). */
function utf8(json: string): Uint8Array {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
  bytes.write(json, 0, 'utf8');
  return bytes;
}

/** Each query's answer, or the fault that stopped it (the others still run). */
function explainBatch(rs: Answering, task: Task & { op: 'explainBatch' }): BatchAnswers {
  const answers: (Uint8Array | null)[] = [];
  const faults: (WorkerFault | null)[] = [];
  for (const q of task.queries) {
    try {
      answers.push(utf8(JSON.stringify(rs.explain(q))));
      faults.push(null);
    } catch (err) {
      answers.push(null);
      faults.push(toFault(err));
    }
  }
  return { answers, faults };
}

/** A result whose buffers piscina transfers to the main thread instead of copying them. */
function transferring(res: TaskResult, buffers: ArrayBuffer[]): TaskResult {
  if (buffers.length === 0) return res;
  return move({ [transferableSymbol]: buffers, [valueSymbol]: res } as never) as unknown as TaskResult;
}

export default function run(task: Task): TaskResult {
  const timings: TaskTimings = { runMs: 0, cached: cache.size, parses, thread: threadId };
  try {
    let json: string;
    let id: string | undefined;
    let shared: SharedArrayBuffer | undefined;
    let binary: Uint8Array | undefined;
    let answers: BatchAnswers | undefined;
    if (task.op === 'ping') {
      json = '{}';
    } else if (task.op === 'open') {
      const rs = open(task.ruleset, timings);
      // One explain warms this worker's code paths (the first one in a thread is several times slower).
      if (task.warm) {
        try {
          rs.explain(task.warm);
        } catch {
          // only a warm-up: whatever it hit, a real request reports
        }
      }
      const b = new Int32Array(task.barrier);
      Atomics.add(b, 0, 1);
      Atomics.notify(b, 0);
      const until = Date.now() + 2000;
      for (let n = Atomics.load(b, 0); n < task.workers && Date.now() < until; n = Atomics.load(b, 0)) Atomics.wait(b, 0, n, until - Date.now());
      json = '{}';
    } else if (task.op === 'load') {
      // The loader thread (src/service/pool.ts): parse and compile once, for every worker.
      const t0 = performance.now();
      const { bundle, lenient } = parse(task.ruleset);
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
          binary = utf8(JSON.stringify(rs.explain(task.query)));
          json = '';
          break;
        case 'explainBatch':
          answers = explainBatch(rs, task);
          json = '';
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
    if (answers !== undefined) res.answers = answers;
    // The answers' bytes were made for them alone (utf8(), encodeResults): they go over without a copy.
    const buffers = [binary, ...(answers?.answers ?? [])].flatMap((b) => (b ? [b.buffer as ArrayBuffer] : []));
    return transferring(res, buffers);
  } catch (err) {
    timings.cached = cache.size;
    timings.parses = parses;
    return { ok: false, fault: toFault(err), timings };
  }
}
