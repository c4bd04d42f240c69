// The messages between the pool (main thread) and its workers. Kept in its own module so the
// worker does not import the pool and the pool does not import the library.

import type { WorkerFault } from './errors.js';
import type { Query } from '../model/contracts.js';

/**
 * Every task that needs a ruleset carries its id AND its input (the bundle as UTF-8 JSON in a
 * SharedArrayBuffer — free to send). A worker that has the id cached ignores the input; one that
 * does not (a fresh or replaced worker) parses it once and caches it. Piscina cannot address a
 * single worker, so this is how "a ruleset reaches each worker once" without a broadcast.
 */
export interface RulesetRef {
  /** Unknown (null) only for the first load of an upload: the worker computes it. */
  id: string | null;
  input: SharedArrayBuffer;
}

/** The reference a task carries for a stored ruleset. */
export function refOf(entry: { id: string; input: SharedArrayBuffer }): RulesetRef {
  return { id: entry.id, input: entry.input };
}

export type Task =
  | { op: 'load'; ruleset: RulesetRef }
  | { op: 'explain'; ruleset: RulesetRef; query: Query }
  | { op: 'trace'; ruleset: RulesetRef; packets: Query[]; seed?: number }
  | { op: 'services'; ruleset: RulesetRef }
  | { op: 'ping' };

/** What the worker did besides answering, for /metrics. */
export interface TaskTimings {
  /** Set when this task had to load (parse + compile) the ruleset. */
  loadMs?: number;
  /** Phase times the library reported for that load, when it reports them. */
  parseMs?: number;
  compileMs?: number;
  /** Time spent in the library call proper (explain/trace/services). */
  runMs: number;
  /** Rulesets this worker holds after the task. */
  cached: number;
}

export type TaskResult =
  | {
      ok: true;
      /** The answer, already serialized: JSON is built in the worker so the event loop only routes. */
      json: string;
      /** For load: the ruleset id the library computed. */
      id?: string;
      timings: TaskTimings;
    }
  | { ok: false; fault: WorkerFault; timings: TaskTimings };

export interface WorkerConfig {
  engine?: 'wasm' | 'reference';
  maxPaths?: number;
  /** Bytes of input a worker keeps loaded rulesets for (LRU). */
  cacheBytes: number;
}
