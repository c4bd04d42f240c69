// Scaling jobs for the HTTP API (POST /v1/scale): a registry that runs one job at a time (each
// point already uses a core, and concurrent points would distort each other's timings), keeps a
// short queue, remembers finished jobs for a while, and cancels through runScale's AbortSignal.
// No Fastify here: the route (src/service/routes/scale.ts) only maps this to HTTP.

import { randomUUID } from 'node:crypto';
import { LandfallError } from '../model/errors.js';
import { runScale, ScaleCancelled, type ScaleRunner } from './run.js';
import { normalizeScaleOptions } from './options.js';
import type { JobState, JobStatus, ScaleOptions, ScalePoint, ScaleResult } from './types.js';

export type { JobState, JobStatus } from './types.js';

interface Job {
  status: JobStatus;
  options: ScaleOptions;
  controller: AbortController;
}

export interface JobsOptions {
  /** Jobs waiting behind the running one before submit() refuses (default 4). */
  queueMax?: number;
  /** Finished jobs remembered (oldest forgotten first; default 32). */
  keepFinished?: number;
  /** The runner (tests substitute a controllable one). */
  run?: ScaleRunner;
}

/** submit() when the queue is full. */
export class JobQueueFull extends LandfallError {
  override readonly name = 'JobQueueFull';
  readonly code = 'overloaded';
}

const FINISHED: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

export class ScaleJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running: Job | null = null;
  private readonly queueMax: number;
  private readonly keepFinished: number;
  private readonly run: ScaleRunner;
  private idle: Promise<void> = Promise.resolve();

  constructor(opts: JobsOptions = {}) {
    this.queueMax = opts.queueMax ?? 4;
    this.keepFinished = opts.keepFinished ?? 32;
    this.run = opts.run ?? runScale;
  }

  /** Validates (throws ScaleOptionsError), queues and returns the new job's status. */
  submit(options: ScaleOptions): JobStatus {
    normalizeScaleOptions(options);
    if (this.queue.length >= this.queueMax) throw new JobQueueFull(`${this.queue.length} scale jobs already wait; retry when one finishes`);
    const job: Job = {
      options,
      controller: new AbortController(),
      status: {
        job: randomUUID(),
        state: 'queued',
        percent: 0,
        progress: null,
        points: [],
        result: null,
        error: null,
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
      },
    };
    this.jobs.set(job.status.job, job);
    this.queue.push(job);
    this.pump();
    return this.snapshot(job);
  }

  get(id: string): JobStatus | undefined {
    const job = this.jobs.get(id);
    return job && this.snapshot(job);
  }

  /**
   * Cancels a queued or running job (it stays listed as cancelled, so pollers see why it ended);
   * a finished job is forgotten. Returns its status, or undefined for an unknown id.
   */
  cancel(id: string): JobStatus | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    if (FINISHED.has(job.status.state)) {
      this.jobs.delete(id);
      return this.snapshot(job);
    }
    const q = this.queue.indexOf(job);
    if (q >= 0) this.queue.splice(q, 1);
    job.controller.abort();
    this.finish(job, 'cancelled', null);
    return this.snapshot(job);
  }

  /** Cancels everything and waits for the running job to let go (server shutdown). */
  async close(): Promise<void> {
    for (const job of [...this.queue]) this.cancel(job.status.job);
    if (this.running) this.cancel(this.running.status.job);
    await this.idle;
  }

  private snapshot(job: Job): JobStatus {
    const s = job.status;
    return { ...s, progress: s.progress && { ...s.progress }, points: [...s.points] };
  }

  private finish(job: Job, state: JobState, error: string | null): void {
    if (FINISHED.has(job.status.state)) return;
    job.status.state = state;
    job.status.error = error;
    job.status.finishedAt = new Date().toISOString();
    if (state === 'done') job.status.percent = 100;
    this.forgetOld();
  }

  private forgetOld(): void {
    const finished = [...this.jobs.values()].filter((j) => FINISHED.has(j.status.state));
    for (const j of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.jobs.delete(j.status.job);
  }

  /** Starts the next queued job when nothing runs. */
  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    job.status.state = 'running';
    job.status.startedAt = new Date().toISOString();
    const s = job.status;
    this.idle = this.run(job.options, {
      signal: job.controller.signal,
      onProgress: ({ percent, ...rest }) => {
        s.percent = percent;
        s.progress = rest;
      },
      onPoint: (p) => void s.points.push(p),
    }).then(
      (result) => {
        s.result = result;
        this.finish(job, 'done', null);
      },
      (e: unknown) => {
        if (e instanceof ScaleCancelled || job.controller.signal.aborted) this.finish(job, 'cancelled', null);
        else this.finish(job, 'failed', e instanceof Error ? e.message : String(e));
      },
    ).finally(() => {
      this.running = null;
      this.pump();
    });
  }
}
