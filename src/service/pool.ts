// The piscina pools that run every parse and walk off the event loop: the answering workers, and
// one loader thread that parses and compiles uploads into the shared compiled form (it starts on
// demand and exits when idle, giving back the parse's memory), so answering workers never parse
// and a long parse never holds up answers. This module owns the mapping from
// pool failures to API errors: a full queue is 503 + Retry-After, a task over its time limit is
// 503, and a worker that dies fails only the task it was running (500) — piscina starts a
// replacement, whose cache fills on demand.
//
// An answering worker holds several tasks at once (PER_WORKER): while it opens a ruleset — in
// pieces, with a turn of its event loop between them (src/service/worker.ts) — the tasks it holds
// for rulesets already open are answered, so no request waits on an open it did not ask for.
// Time limits are therefore the pool's own, not piscina's (whose abort stops the worker, and with
// it every task the worker holds): each task carries a gate (protocol.ts Task.gate), and at its
// limit a task that has not started, or is waiting for its ruleset to open, is cancelled; only a
// task that is running stops its worker. The other tasks that worker held are run again.

import { Piscina, queueOptionsSymbol } from 'piscina';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtFile } from './bundles.js';
import { ApiError } from './errors.js';
import { GATE, type RulesetRef, type Task, type TaskResult, type TaskTimings, type WorkerConfig } from './protocol.js';
import type { Query } from '../model/contracts.js';

/** Explains sent to a worker in one task at most (a batch of 10k-service answers is ~10 KB each). */
const MAX_BATCH = 64;

/**
 * Explain batches of one ruleset in flight per worker. Two: the worker finds the next batch waiting
 * when it finishes one (no round trip to the event loop in between), and the event loop sends one
 * batch's answers while the worker walks the next, so neither thread idles for the other.
 */
const BATCHES_PER_WORKER = 2;

/**
 * Tasks an answering worker holds at once (the rest wait in the pool). More than one, so that a
 * worker opening rulesets still takes the tasks for rulesets it has open; which worker a task goes
 * to, and when it waits in the pool instead, is the balancer's choice (balance).
 */
const PER_WORKER = 16;

/** Times a task that did not kill its worker runs again after the worker died (exec). */
const RERUNS = 2;

/** A worker that died with tasks: `culprit` when this task was the one running (it is not rerun). */
class WorkerDied extends Error {
  constructor(
    readonly culprit: boolean,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}

type Balancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

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
  /** How long the loader thread stays after its last task (default 10 s). */
  loaderIdleMs?: number;
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
  /** Of those, tasks the loader ran (parses: uploads, recompiles, one-shot explains; not the pings that start it). */
  loads: number;
  /** Piscina's utilisation estimate (0..1) since start. */
  utilization: number;
  crashes: number;
  timeouts: number;
  rejected: number;
}

/** The worker file for this build: .ts under tsx/vitest (execArgvFor adds the tsx loader), the bundle in dist/ (bundles.ts). */
function defaultWorkerFile(): string {
  if (import.meta.url.endsWith('.ts')) return fileURLToPath(new URL('./worker.ts', import.meta.url));
  return builtFile(dirname(fileURLToPath(import.meta.url)), 'worker');
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
  /** Batches running per ruleset id: at most `size` each (one per worker, as one busy ruleset had before). */
  private readonly batchesOf = new Map<string, number>();
  private dispatchScheduled = false;
  /** Threads this pool stopped (a task over its limit): no task is given to them while they exit. */
  private readonly stopped = new Set<number>();
  /** Gates of the tasks given to each worker, by thread id (see balance). */
  private readonly held = new Map<number, Int32Array[]>();
  private closing = false;
  /** Loader pings: they start its thread and are not loads (stats().loads leaves them out). */
  private loaderPings = 0;
  private loaderStarting = false;

  constructor(opts: PoolOptions) {
    const filename = opts.filename ?? defaultWorkerFile();
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
      concurrentTasksPerWorker: PER_WORKER,
      loadBalancer: this.balance,
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
      idleTimeout: opts.loaderIdleMs ?? 10_000,
      maxQueue: Infinity,
      workerData: opts.worker,
    });
    // A worker's uncaught error is also emitted here; the failing task already rejects, so the
    // event only needs to not crash the process.
    this.piscina.on('error', () => {});
    // A worker gone (crash, stopped, closed): the gates it held are no one's.
    this.piscina.on('workerDestroy', (w: { id: number }) => this.held.delete(w.id));
    this.loader.on('error', () => {});
  }

  /** Waits until every worker has started (and imported the library), so /readyz means it. */
  async warmUp(): Promise<void> {
    // Starting a worker (and, under tsx, compiling its imports) is not a task: no task time limit.
    const limit = Math.max(this.taskTimeoutMs, 120_000);
    const threads = this.piscina.threads.map((t) => t.threadId);
    await Promise.all([
      ...Array.from({ length: this.size }, (_, i) => this.runOn({ op: 'ping' }, limit, threads[i])),
      // The loader too (the bundled example is its first job); it exits again when idle.
      this.pingLoader(limit),
    ]);
  }

  /**
   * Starts the loader thread unless it runs, without waiting: the upload route calls this when a
   * body starts to arrive, so the thread (which exits when idle) imports the library while the
   * body streams in instead of after it (~0.7 s of CPU from dist/, more under tsx).
   */
  prepareLoad(): void {
    if (this.closing || this.loaderStarting || this.loader.threads.length > 0) return;
    this.loaderStarting = true;
    this.pingLoader(Math.max(this.taskTimeoutMs, 120_000))
      .catch(() => {}) // a load that needs the thread will start it again and report its own failure
      .finally(() => (this.loaderStarting = false));
  }

  private async pingLoader(limit: number): Promise<void> {
    await this.loader.run({ op: 'ping' }, { signal: AbortSignal.timeout(limit) });
    this.loaderPings++;
  }

  /**
   * Opens a stored ruleset in every worker (an 'open' task addressed to each thread), so the first
   * answer each gives pays no open; each worker keeps answering its other rulesets meanwhile. Best
   * effort: a worker that could not open it (or was replaced since) opens it on its first request.
   */
  async openEverywhere(ruleset: RulesetRef, warm?: Query): Promise<Set<number>> {
    const task: Task = { op: 'open', ruleset, ...(warm ? { warm } : {}) };
    const threads = this.piscina.threads.map((t) => t.threadId);
    const done = await Promise.allSettled(threads.map((thread) => this.runOn(task, this.taskTimeoutMs, thread)));
    // The threads that have it open now.
    return new Set(done.flatMap((d) => (d.status === 'fulfilled' && d.value.ok ? [d.value.timings.thread] : [])));
  }

  /**
   * Piscina's choice of worker for a task: the thread it is addressed to (openEverywhere, warmUp)
   * while that thread is in the pool. Else, with one worker, that worker (up to PER_WORKER tasks:
   * the next starts without a round trip, and tasks for open rulesets run while others wait for an
   * open). With several, a worker with no task running or about to run (a task waiting for its
   * ruleset's open does not count); when every worker has one, the task waits in the pool for the
   * first that finishes, not behind a long task while another worker is idle. (A worker whose
   * tasks all start waiting for opens is only seen free at the next task sent or finished.)
   */
  private readonly balance: Balancer = (task, workers) => {
    const opts = task[queueOptionsSymbol] as { thread?: number; gate?: Int32Array } | null;
    let chosen: (typeof workers)[number] | null = null;
    if (opts?.thread !== undefined) chosen = workers.find((w) => w.id === opts.thread && !this.stopped.has(w.id)) ?? null;
    if (!chosen) {
      for (const w of workers) {
        if (this.stopped.has(w.id) || w.currentUsage >= PER_WORKER) continue;
        if (this.size === 1 || this.pendingOn(w.id) === 0) {
          chosen = w;
          break;
        }
      }
    }
    if (chosen && opts?.gate && this.size > 1) {
      let gates = this.held.get(chosen.id);
      if (!gates) this.held.set(chosen.id, (gates = []));
      gates.push(opts.gate);
    }
    return chosen;
  };

  /** Tasks given to a worker that are running or about to run (their gates; done ones are dropped). */
  private pendingOn(thread: number): number {
    const gates = this.held.get(thread);
    if (!gates) return 0;
    let n = 0;
    let k = 0;
    for (const g of gates) {
      const state = Atomics.load(g, 0);
      if (state === GATE.done || state === GATE.cancelled) continue;
      gates[k++] = g;
      if (state !== GATE.awaiting) n++;
    }
    gates.length = k;
    return n;
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
    return this.runOn(task, timeoutMs);
  }

  private async runOn(task: Task, timeoutMs: number, thread?: number): Promise<TaskResult> {
    if (this.inFlight >= this.size + this.queueMax) {
      this.rejected++;
      throw new ApiError('overloaded', `all ${this.size} workers busy and ${this.queueMax} requests queued; retry shortly`, {}, 1);
    }
    this.inFlight++;
    try {
      if (parses(task)) {
        // The loader runs one task at a time: piscina's own limit (it stops the loader) is exact.
        const signal = AbortSignal.timeout(timeoutMs);
        try {
          return await this.loader.run(task, { signal });
        } catch (err) {
          throw this.classify(err, signal, timeoutMs);
        }
      }
      try {
        return await this.exec(task, timeoutMs, thread);
      } catch (err) {
        throw err instanceof WorkerDied ? this.crashed(err) : err;
      }
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Runs a task on an answering worker within `timeoutMs` (see the header). A task that was not the
   * one running when its worker died (it waited behind it, or for its ruleset to open, or its worker
   * was stopped for another task's limit, or it had finished but its answer was not read yet) runs
   * again, on a fresh limit, up to RERUNS times: a worker holds two explain batches, and a culprit
   * from one, run again alone (runBatch), can take the other's rerun down with it once more. The
   * one running is the culprit and throws WorkerDied (culprit: true), as does a death past RERUNS.
   */
  private async exec(task: Task, timeoutMs: number, thread?: number): Promise<TaskResult> {
    for (let attempt = 0; ; attempt++) {
      const gate = new Int32Array(new SharedArrayBuffer(8));
      // The queue options are the balancer's (a symbol key: not sent to the worker).
      const sent = { ...task, gate: gate.buffer as SharedArrayBuffer, [queueOptionsSymbol]: thread === undefined ? { gate } : { thread, gate } };
      try {
        return await this.attempt(sent, gate, timeoutMs);
      } catch (err) {
        if (!(err instanceof WorkerDied)) throw err;
        if (this.closing) throw new ApiError('overloaded', 'the server is shutting down', {}, 1);
        if (err.culprit || attempt >= RERUNS) throw err;
      }
    }
  }

  private attempt(task: Task, gate: Int32Array, timeoutMs: number): Promise<TaskResult> {
    return new Promise<TaskResult>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled || !this.expire(gate)) return;
        settled = true;
        this.timeouts++;
        reject(new ApiError('task-timeout', `the request ran longer than ${timeoutMs} ms and was stopped`, {}, 1));
      }, timeoutMs);
      this.piscina.run(task).then(
        (res) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(res);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          // Only one task runs at a time in a worker: the one whose gate says so stopped it.
          reject(new WorkerDied(Atomics.load(gate, 0) === GATE.running, err));
        },
      );
    });
  }

  /**
   * A task reached its time limit: cancelled when it has not started or waits for its ruleset to
   * open (its worker skips it), its worker stopped when it is running. False when it is done
   * already (its answer is on its way and settles it).
   */
  private expire(gate: Int32Array): boolean {
    for (;;) {
      const state = Atomics.load(gate, 0);
      if (state === GATE.waiting || state === GATE.awaiting) {
        if (Atomics.compareExchange(gate, 0, state, GATE.cancelled) === state) return true;
        continue;
      }
      if (state !== GATE.running) return false;
      const thread = Atomics.load(gate, 1);
      const worker = this.piscina.threads.find((t) => t.threadId === thread);
      if (worker) {
        // Piscina sees the exit, fails the worker's tasks (the others run again: exec) and starts a replacement.
        this.stopped.add(thread);
        worker.once('exit', () => this.stopped.delete(thread));
        void worker.terminate();
      }
      return true;
    }
  }

  /** A task whose worker died while running it: 500, and the death logged. */
  private crashed(err: WorkerDied): ApiError {
    this.crashes++;
    this.onCrash?.(err.message);
    return new ApiError('worker-crashed', 'the worker running this request stopped unexpectedly; it has been replaced, retry the request');
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

  /**
   * Starts batches, first come first served across rulesets, at most `size` per ruleset (under load
   * one ruleset's explains gather into one batch per worker, as before) and PER_WORKER per worker in
   * all: a batch for a ruleset that is still opening does not hold back the others' batches.
   */
  private dispatch(): void {
    for (let started = true; started; ) {
      started = false;
      for (const [id, w] of [...this.waiting]) {
        if (this.batchesRunning >= this.size * PER_WORKER) return;
        const running = this.batchesOf.get(id) ?? 0;
        if (running >= this.size * BATCHES_PER_WORKER) continue;
        const batch = w.queries.splice(0, MAX_BATCH);
        // Whatever is left goes behind the other rulesets' waiting queries.
        this.waiting.delete(id);
        if (w.queries.length > 0) this.waiting.set(id, w);
        this.batchesRunning++;
        this.batchesOf.set(id, running + 1);
        started = true;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.batchesRunning--;
          const n = (this.batchesOf.get(id) ?? 1) - 1;
          if (n > 0) this.batchesOf.set(id, n);
          else this.batchesOf.delete(id);
          this.dispatch();
        };
        void this.runBatch(w.ruleset, batch, release).finally(release);
      }
    }
  }

  /**
   * Runs one batch. `release` frees its slot and starts the next batch; it is called as soon as the
   * answers are back, before they are handed out: the waiting queries then go to the worker while
   * this thread sends these answers (handing them out runs every request's reply, a write each),
   * instead of the worker idling until the last reply is written.
   */
  private async runBatch(ruleset: RulesetRef, batch: Waiting[], release: () => void): Promise<void> {
    const timeoutMs = Math.max(1, Math.round(this.taskTimeoutMs - (performance.now() - batch[0]!.since)));
    let res: TaskResult;
    try {
      res = await this.exec({ op: 'explainBatch', ruleset, queries: batch.map((w) => w.query) }, timeoutMs);
      release();
    } catch (err) {
      if (!(err instanceof WorkerDied) || batch.length === 1) {
        const e = err instanceof WorkerDied ? this.crashed(err) : err;
        for (const w of batch) w.reject(e);
        return;
      }
      // The worker died on one of them: each again alone, on its own time limit.
      this.crashes++;
      this.onCrash?.(err.message);
      await Promise.all(
        batch.map(async (w) => {
          try {
            w.resolve(await this.exec({ op: 'explain', ruleset, query: w.query }, this.taskTimeoutMs));
          } catch (e) {
            w.reject(e instanceof WorkerDied ? this.crashed(e) : e);
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
      loads: this.loader.completed - this.loaderPings,
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
    this.closing = true;
    for (const w of this.waiting.values()) for (const q of w.queries) q.reject(new ApiError('overloaded', 'the server is shutting down', {}, 1));
    this.waiting.clear();
    await Promise.all([this.piscina.destroy(), this.loader.destroy()]);
  }
}

/** Tasks for the loader: a load, or any task on a ruleset that is not stored (no compiled form). */
function parses(task: Task): boolean {
  return task.op === 'load' || (task.op !== 'ping' && task.ruleset.id === null);
}
