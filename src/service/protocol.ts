// The messages between the pool (main thread) and its workers. Kept in its own module so the
// worker does not import the pool and the pool does not import the library.

import type { WorkerFault } from './errors.js';
import type { Query } from '../model/contracts.js';

/**
 * Every task that needs a ruleset carries its id, its compiled form and its input (each a
 * SharedArrayBuffer — free to send). A worker that has the id cached uses that; one that does not
 * (a fresh or replaced worker) opens the compiled form — no parsing — and caches it. The input
 * (the bundle as UTF-8 JSON) is parsed only by the loader (op 'load'), by a worker whose walk the
 * wasm engine hands back, or under the reference engine. Piscina cannot address a single worker,
 * so this is how "a ruleset reaches each worker once" without a broadcast.
 */
export interface RulesetRef {
  /** null for a ruleset not stored (one-shot explain): the loader parses it. */
  id: string | null;
  /** The input in memory, or (once on disk and dropped from memory) the file holding it after a header line. */
  input?: SharedArrayBuffer;
  inputFile?: string;
  /**
   * The shared compiled form (src/compile/shared.ts), once the loader has made it: whole, or its
   * resident part with `compiledFile` holding the whole form (the words and services are read from there).
   */
  shared?: SharedArrayBuffer;
  compiledFile?: string;
}

/** The reference a task carries for a stored ruleset: its id, its input and (once made) its compiled form. */
export function refOf(entry: { id: string; input?: SharedArrayBuffer; inputFile?: string; shared?: SharedArrayBuffer; compiledFile?: string }): RulesetRef {
  const ref: RulesetRef = { id: entry.id };
  if (entry.input) ref.input = entry.input;
  if (entry.inputFile) ref.inputFile = entry.inputFile;
  if (entry.shared) ref.shared = entry.shared;
  if (entry.compiledFile) ref.compiledFile = entry.compiledFile;
  return ref;
}

export type Task = (
  | { op: 'load'; ruleset: RulesetRef }
  | { op: 'explain'; ruleset: RulesetRef; query: Query }
  /**
   * Many explains on one ruleset in one task (src/service/pool.ts batches the requests that wait
   * while a worker is busy): one message round trip for all of them. The answer is `answers`.
   */
  | { op: 'explainBatch'; ruleset: RulesetRef; queries: Query[] }
  | { op: 'trace'; ruleset: RulesetRef; packets: Query[]; seed?: number }
  /** Columnar batch trace: `packets` is an application/vnd.landfall.packets body (src/engine/columns-wire.ts). */
  | { op: 'traceColumns'; ruleset: RulesetRef; packets: SharedArrayBuffer }
  | { op: 'services'; ruleset: RulesetRef }
  /**
   * Open (and cache) the ruleset in this worker, so its first answer does not pay for it; `warm`
   * is explained once to warm the thread's code paths. The pool sends one to each worker by its
   * thread id (src/service/pool.ts openEverywhere).
   */
  | { op: 'open'; ruleset: RulesetRef; warm?: Query }
  | { op: 'ping' }
) & {
  /**
   * Set by the pool: an Int32Array(2) over this buffer, [state (GATE), threadId of the worker that
   * took the task]. The worker moves it waiting → running (→ awaiting while its ruleset opens →
   * running) → done; the pool, at the task's time limit, moves waiting or awaiting → cancelled
   * (the worker then skips the task) and stops the worker only when the task is running.
   */
  gate?: SharedArrayBuffer;
};

/** The states of a task's gate (see Task.gate). */
export const GATE = { waiting: 0, running: 1, awaiting: 2, done: 3, cancelled: 4 } as const;

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
  /** Dumps this worker has parsed since it started (answers from the shared form parse none). */
  parses: number;
  /** Opens of a compiled form this worker has started since it began (one per ruleset it caches). */
  opens: number;
  /** The pieces this task's open copied the words in (set on the task that opened the ruleset). */
  openPieces?: number;
  /** This task's place in the order its worker finished tasks (1 = the first it finished). */
  order: number;
  /** The worker's threadId. */
  thread: number;
}

export type TaskResult =
  | {
      ok: true;
      /** The answer, already serialized: JSON is built in the worker so the event loop only routes. */
      json: string;
      /** For load: the ruleset id the library computed, and the shared compiled form. */
      id?: string;
      shared?: SharedArrayBuffer;
      /**
       * traceColumns: the application/vnd.landfall.results answer; explain: the answer's JSON as
       * UTF-8 (json is then ''). Transferred, not copied.
       */
      binary?: Uint8Array;
      /** explainBatch: each query's answer or fault, in order. */
      answers?: BatchAnswers;
      timings: TaskTimings;
    }
  | { ok: false; fault: WorkerFault; timings: TaskTimings };

/**
 * An explainBatch answer: each query's JSON answer as UTF-8, a view into one buffer made for the
 * batch (transferred: the main thread sends and caches the views as they are, without a copy), or
 * null with the fault that stopped it.
 */
export interface BatchAnswers {
  answers: (Uint8Array | null)[];
  faults: (WorkerFault | null)[];
}

export interface WorkerConfig {
  engine?: 'wasm' | 'reference';
  maxPaths?: number;
  /** Bytes of compiled rulesets a worker keeps opened (LRU; a parsed one counts 25× its input). */
  cacheBytes: number;
  /** Bytes of words an open copies between two turns of the worker's event loop (default 1 MiB; tests make it tiny). */
  openPieceBytes?: number;
}
