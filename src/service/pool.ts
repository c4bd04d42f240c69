// The piscina pools that run every parse and walk off the event loop: the answering workers, and
// one loader thread that parses and compiles uploads into the shared compiled form (it starts on
// demand and exits when idle, giving back the parse's memory), so answering workers never parse
// and a long parse never holds up answers. This module owns the mapping from
// pool failures to API errors: a full queue is 503 + Retry-After, a task over its time limit has
// its worker terminated (piscina does that on abort) and is 503, and a worker that dies fails only
// the task it was running (500) — piscina starts a replacement, whose cache fills on demand.

import { Piscina } from 'piscina';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ApiError } from './errors.js';
import type { RulesetRef, Task, TaskResult, TaskTimings, WorkerConfig } from './protocol.js';
import type { Query } from '../model/contracts.js';

/** Explains sent to a worker in one task at most (a batch of 10k-service answers is ~10 KB each). */
const MAX_BATCH = 64;

/** An explain waiting for a batch. */
interface Waiting {
  query: Query;
  since: number;
  resolve: (r: TaskResult) => void;
  reject: (e: unknown) => void;
}

export interface PoolOptions {
  size: number;
  queueMax: number;
  taskTimeoutMs: number;
  /** Limit for tasks that parse a dump (ruleset id unknown); default taskTimeoutMs. */
  loadTimeoutMs?: number;
  worker: WorkerConfig;
  /** Told why a worker died (for the log; the client only gets a generic 500). */
  onCrash?: (reason: string) => void;
  /** Worker module; defaults to worker.ts/worker.js next to this file. Tests pass fakes. */
  filename?: string;
}

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  queueMax: number;
  completed: number;
  /** Of those, tasks the loader ran (parses: uploads, recompiles, one-shot explains). */
  loads: number;
  /** Piscina's utilisation estimate (0..1) since start. */
  utilization: number;
  crashes: number;
  timeouts: number;
  rejected: number;
}

/** Resolves the worker file for this build: .ts under tsx/vitest (needs the tsx loader), .js in dist/. */
function defaultWorkerFile(): { filename: string; execArgv: string[] | undefined } {
  const fromTs = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(fromTs ? './worker.ts' : './worker.js', import.meta.url));
  return { filename, execArgv: execArgvFor(filename) };
}

/**
 * A .ts worker needs the tsx loader. `--import tsx` would resolve tsx from the process's cwd, which
 * fails when the server is started from elsewhere, so pass tsx's resolved location instead.
 */
function execArgvFor(filename: string): string[] | undefined {
  // Compiled: inherit the process's flags (so --cpu-prof and friends reach the workers too).
  if (!/\.[mc]?ts$/.test(filename)) return undefined;
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

export class WorkerPool {
  readonly size: number;
  private readonly piscina: Piscina<Task, TaskResult>;
  /** Parses (op 'load', and rulesets not stored: id null); see the header. */
  private readonly loader: Piscina<Task, TaskResult>;
  private readonly taskTimeoutMs: number;
  private readonly loadTimeoutMs: number;
  private readonly queueMax: number;
  private inFlight = 0;
  private crashes = 0;
  private timeouts = 0;
  private rejected = 0;
  private readonly onCrash: ((reason: string) => void) | undefined;
  /** Explains waiting for a worker, by ruleset id (see explain()). */
  private readonly waiting = new Map<string, { ruleset: RulesetRef; queries: Waiting[] }>();
  private batchesRunning = 0;
  private dispatchScheduled = false;

  constructor(opts: PoolOptions) {
    const filename = opts.filename ?? defaultWorkerFile().filename;
    this.size = opts.size;
    this.taskTimeoutMs = opts.taskTimeoutMs;
    this.loadTimeoutMs = opts.loadTimeoutMs ?? opts.taskTimeoutMs;
    this.queueMax = opts.queueMax;
    this.onCrash = opts.onCrash;
    this.piscina = new Piscina<Task, TaskResult>({
      filename,
      execArgv: execArgvFor(filename),
      minThreads: opts.size,
      maxThreads: opts.size,
      // Workers hold parsed rulesets: never let them idle out, or every cache goes cold.
      idleTimeout: Infinity,
      // The queue bound is enforced in run(), where it is exact: piscina only checks its own
      // queue at submission and lets tasks accepted by a busy worker's slot pass uncounted.
      maxQueue: Infinity,
      workerData: opts.worker,
    });
    this.loader = new Piscina<Task, TaskResult>({
      filename,
      execArgv: execArgvFor(filename),
      minThreads: 0,
      maxThreads: 1,
      // Kept a little while for a burst of uploads, then its heap goes back to the system.
      idleTimeout: 10_000,
      maxQueue: Infinity,
      workerData: opts.worker,
    });
    // A worker's uncaught error is also emitted here; the failing task already rejects, so the
    // event only needs to not crash the process.
    this.piscina.on('error', () => {});
    this.loader.on('error', () => {});
  }

  /** Waits until every worker has started (and imported the library), so /readyz means it. */
  async warmUp(): Promise<void> {
    // Starting a worker (and, under tsx, compiling its imports) is not a task: no task time limit.
    const limit = Math.max(this.taskTimeoutMs, 120_000);
    await Promise.all([
      ...Array.from({ length: this.size }, () => this.run({ op: 'ping' }, limit)),
      // The loader too (the bundled example is its first job); it exits again when idle.
      this.loader.run({ op: 'ping' }, { signal: AbortSignal.timeout(limit) }),
    ]);
  }

  /**
   * Opens a stored ruleset in every worker (see the 'open' task), so the first answer each gives
   * pays no open. Best effort: a worker that could not open it opens it on its first request.
   */
  async openEverywhere(ruleset: RulesetRef, warm?: Query): Promise<Set<number>> {
    const barrier = new SharedArrayBuffer(4);
    const task: Task = { op: 'open', ruleset, barrier, workers: this.size, ...(warm ? { warm } : {}) };
    const done = await Promise.allSettled(Array.from({ length: this.size }, () => this.run(task)));
    // The threads that have it open now.
    return new Set(done.flatMap((d) => (d.status === 'fulfilled' && d.value.ok ? [d.value.timings.thread] : [])));
  }

  /**
   * A task whose ruleset id is not known yet must parse its input: it gets the load limit. (A
   * known id may also need parsing on a fresh worker; its limit is the task limit, and a restart
   * replaces workers only after a crash or timeout.)
   */
  private limitFor(task: Task): number {
    return parses(task) ? this.loadTimeoutMs : this.taskTimeoutMs;
  }

  async run(task: Task, timeoutMs = this.limitFor(task)): Promise<TaskResult> {
    if (this.inFlight >= this.size + this.queueMax) {
      this.rejected++;
      throw new ApiError('overloaded', `all ${this.size} workers busy and ${this.queueMax} requests queued; retry shortly`, {}, 1);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    this.inFlight++;
    try {
      return await (parses(task) ? this.loader : this.piscina).run(task, { signal });
    } catch (err) {
      throw this.classify(err, signal, timeoutMs);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * One explain on a stored ruleset. While every worker is busy, explains wait here and go to the
   * next free worker together, as one explainBatch task: a task round trip (two thread wake-ups
   * and the messages) costs more than a walk on this machine, so under load it is paid once for
   * many answers, and with an idle worker a query goes at the end of this event-loop turn. A batch shares a time limit
   * counted from its oldest query's arrival. A batch whose worker dies is run again one query at a
   * time, so a query that kills its worker fails alone and the others are answered.
   */
  explain(ruleset: RulesetRef & { id: string }, query: Query): Promise<TaskResult> {
    if (this.inFlight >= this.size + this.queueMax) {
      this.rejected++;
      return Promise.reject(new ApiError('overloaded', `all ${this.size} workers busy and ${this.queueMax} requests queued; retry shortly`, {}, 1));
    }
    this.inFlight++;
    return new Promise<TaskResult>((resolve, reject) => {
      let w = this.waiting.get(ruleset.id);
      if (!w) this.waiting.set(ruleset.id, (w = { ruleset, queries: [] }));
      w.queries.push({ query, since: performance.now(), resolve, reject });
      // Requests read from the sockets in one turn of the event loop go together: batches are
      // started once that turn's handlers have run.
      if (!this.dispatchScheduled) {
        this.dispatchScheduled = true;
        setImmediate(() => {
          this.dispatchScheduled = false;
          this.dispatch();
        });
      }
    }).finally(() => this.inFlight--);
  }

  /** Starts batches while a worker is free (first come, first served across rulesets). */
  private dispatch(): void {
    while (this.batchesRunning < this.size && this.waiting.size > 0) {
      const [id, w] = this.waiting.entries().next().value!;
      const batch = w.queries.splice(0, MAX_BATCH);
      // Whatever is left goes behind the other rulesets' waiting queries.
      this.waiting.delete(id);
      if (w.queries.length > 0) this.waiting.set(id, w);
      this.batchesRunning++;
      void this.runBatch(w.ruleset, batch).finally(() => {
        this.batchesRunning--;
        this.dispatch();
      });
    }
  }

  private async runBatch(ruleset: RulesetRef, batch: Waiting[]): Promise<void> {
    const timeoutMs = Math.max(1, Math.round(this.taskTimeoutMs - (performance.now() - batch[0]!.since)));
    const signal = AbortSignal.timeout(timeoutMs);
    let res: TaskResult;
    try {
      res = await this.piscina.run({ op: 'explainBatch', ruleset, queries: batch.map((w) => w.query) }, { signal });
    } catch (err) {
      if (signal.aborted || batch.length === 1) {
        const e = this.classify(err, signal, this.taskTimeoutMs);
        for (const w of batch) w.reject(e);
        return;
      }
      // The worker died on one of them (or was killed): each again alone, on its own time limit.
      this.crashes++;
      this.onCrash?.((err as Error)?.message ?? String(err));
      await Promise.all(
        batch.map(async (w) => {
          const alone = AbortSignal.timeout(this.taskTimeoutMs);
          try {
            w.resolve(await this.piscina.run({ op: 'explain', ruleset, query: w.query }, { signal: alone }));
          } catch (e) {
            w.reject(this.classify(e, alone, this.taskTimeoutMs));
          }
        }),
      );
      return;
    }
    // The load the task may have done is reported once, with the first answer.
    const { loadMs: _l, parseMs: _p, compileMs: _c, ...rest } = res.timings;
    const timingsOf = (i: number): TaskTimings => (i === 0 ? res.timings : rest);
    if (!res.ok || !res.answers) {
      // The ruleset did not open: the same fault for every query.
      const fault = res.ok ? { code: 'internal' as const, detail: 'the worker gave no batch answer' } : res.fault;
      batch.forEach((w, i) => w.resolve({ ok: false, fault, timings: timingsOf(i) }));
      return;
    }
    const { answers, faults } = res.answers;
    batch.forEach((w, i) => {
      const bytes = answers[i];
      if (bytes) w.resolve({ ok: true, json: '', binary: bytes, timings: timingsOf(i) });
      else w.resolve({ ok: false, fault: faults[i] ?? { code: 'internal', detail: 'the worker gave no answer' }, timings: timingsOf(i) });
    });
  }

  private classify(err: unknown, signal: AbortSignal, timeoutMs: number): ApiError {
    if (signal.aborted) {
      this.timeouts++;
      return new ApiError('task-timeout', `the request ran longer than ${timeoutMs} ms and was stopped`, {}, 1);
    }
    this.crashes++;
    this.onCrash?.((err as Error)?.message ?? String(err));
    return new ApiError('worker-crashed', 'the worker running this request stopped unexpectedly; it has been replaced, retry the request');
  }

  /** Live worker threads (cheap, unlike stats(): piscina's utilisation walks a histogram). */
  get threadCount(): number {
    return this.piscina.threads.length;
  }

  stats(): PoolStats {
    return {
      threads: this.piscina.threads.length,
      busy: Math.min(this.inFlight, this.size),
      queued: Math.max(0, this.inFlight - this.size),
      queueMax: this.queueMax,
      completed: this.piscina.completed + this.loader.completed,
      loads: this.loader.completed,
      utilization: this.piscina.utilization,
      crashes: this.crashes,
      timeouts: this.timeouts,
      rejected: this.rejected,
    };
  }

  /** The worker threads (tests terminate one to prove a crash fails only its own request). */
  get threads() {
    return this.piscina.threads;
  }

  /** The loader's thread, while it runs (it exits when idle). */
  get loaderThreads() {
    return this.loader.threads;
  }

  async close(): Promise<void> {
    for (const w of this.waiting.values()) for (const q of w.queries) q.reject(new ApiError('overloaded', 'the server is shutting down', {}, 1));
    this.waiting.clear();
    await Promise.all([this.piscina.destroy(), this.loader.destroy()]);
  }
}

/** Tasks for the loader: a load, or any task on a ruleset that is not stored (no compiled form). */
function parses(task: Task): boolean {
  return task.op === 'load' || (task.op !== 'ping' && task.ruleset.id === null);
}
