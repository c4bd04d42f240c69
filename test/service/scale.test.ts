// POST /v1/scale · GET / DELETE /v1/scale/{job}: a scaling job through the real app (inject), on
// tiny sizes: start, poll to the end, cancel, and the errors a client can cause. The job registry's
// queueing is checked with a runner the test controls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/service/app.js';
import { defaultConfig } from '../../src/service/config.js';
import { JobQueueFull, ScaleJobs, type JobStatus } from '../../src/scale/jobs.js';
import { ScaleCancelled, type ScaleHooks, type ScaleResult } from '../../src/scale/run.js';
import type { ScaleOptions } from '../../src/scale/types.js';
import { emptyPoint } from '../../src/scale/point.js';
import { withTestWorker } from './helpers.js';

let app: App;

beforeAll(async () => {
  app = await buildApp({ config: defaultConfig({ poolSize: 1, dataDir: null, maxEventLoopDelayMs: 0, preloadExample: false }), exampleDir: null, ...withTestWorker() });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
});

async function poll(url: string, until: (s: JobStatus) => boolean): Promise<JobStatus> {
  // Bounded in count and time: a stuck job fails the test instead of hanging it.
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 600 && Date.now() < deadline; i++) {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    const s = res.json() as JobStatus;
    if (until(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job at ${url} did not reach the expected state in time`);
}

describe('POST /v1/scale', () => {
  it('is a route of the app itself', () => {
    expect(app.hasRoute({ method: 'POST', url: '/v1/scale' })).toBe(true);
    expect(app.hasRoute({ method: 'GET', url: '/v1/scale/:job' })).toBe(true);
    expect(app.hasRoute({ method: 'DELETE', url: '/v1/scale/:job' })).toBe(true);
  });


  it('starts a job (202 + status URL) that runs to a result in the CLI --json shape', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/scale', payload: { services: [3, 5], endpoints: 1, modes: ['iptables', 'ipvs'], packets: 30 } });
    expect(res.statusCode).toBe(202);
    const body = res.json() as { job: string; state: string; status: string };
    expect(body.status).toBe(`/v1/scale/${body.job}`);
    expect(res.headers.location).toBe(body.status);
    const seenPercents: number[] = [];
    const done = await poll(body.status, (s) => {
      seenPercents.push(s.percent);
      return s.state !== 'queued' && s.state !== 'running';
    });
    expect(done.state).toBe('done');
    expect(done.percent).toBe(100);
    expect(done.result!.points.map((p) => `${p.mode}:${p.services}`)).toEqual(['iptables:3', 'ipvs:3', 'iptables:5', 'ipvs:5']);
    expect(done.points).toEqual(done.result!.points);
    const p = done.result!.points[0];
    expect(p.rulesEvaluated).toEqual({ mean: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    expect(p.nsPerPacket.reference).toEqual(expect.any(Number));
    expect(p.kernel).toBeNull();
    // Every field survives the response schema's serializer (an unlisted one would be dropped).
    expect(Object.keys(p).sort()).toEqual(Object.keys(emptyPoint('iptables', 1, 1)).sort());
    expect(p.loadAverage).toEqual(expect.any(Number));
    expect(seenPercents.every((v, i) => i === 0 || v >= seenPercents[i - 1])).toBe(true);
  });

  it('refuses a malformed body with 400 naming the field', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/scale', payload: { services: [0], endpoints: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.json()).toMatchObject({ status: 400, field: expect.stringContaining('services') });
    const tooBig = await app.inject({ method: 'POST', url: '/v1/scale', payload: { services: [100000], endpoints: 1000 } });
    expect(tooBig.statusCode).toBe(400);
    expect(tooBig.json()).toMatchObject({ field: 'body/endpoints' });
    const extra = await app.inject({ method: 'POST', url: '/v1/scale', payload: { services: [10], endpoints: 1, color: 'red' } });
    expect(extra.statusCode).toBe(400);
  });
});

describe('GET / DELETE /v1/scale/{job}', () => {
  it('cancels a running job: it ends as cancelled and stays visible', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/scale', payload: { services: [2000], endpoints: 10, modes: ['iptables'], packets: 50_000 } });
    expect(res.statusCode).toBe(202);
    const { status } = res.json() as { status: string };
    await poll(status, (s) => s.state === 'running');
    const del = await app.inject({ method: 'DELETE', url: status });
    expect(del.statusCode).toBe(200);
    expect((del.json() as JobStatus).state).toBe('cancelled');
    const after = await poll(status, () => true);
    expect(after.state).toBe('cancelled');
    expect(after.result).toBeNull();
    // Deleting a finished job forgets it.
    expect((await app.inject({ method: 'DELETE', url: status })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: status })).statusCode).toBe(404);
  });

  it('answers 404 problem+json for an unknown job and 400 for a malformed id', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/scale/00000000-0000-4000-8000-000000000000' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ status: 404, code: 'scale-job-not-found' });
    expect((await app.inject({ method: 'DELETE', url: '/v1/scale/not-a-job' })).statusCode).toBe(400);
  });
});

describe('ScaleJobs', () => {
  /** A runner that finishes only when told to, and honours cancellation like runScale. */
  function controllable() {
    const started: { options: ScaleOptions; finish: () => void }[] = [];
    const run = (options: ScaleOptions, hooks: ScaleHooks = {}): Promise<ScaleResult> =>
      new Promise((resolve, reject) => {
        hooks.signal?.addEventListener('abort', () => reject(new ScaleCancelled()));
        started.push({ options, finish: () => resolve({ points: [] }) });
      });
    return { started, run };
  }
  const opts = (services: number): ScaleOptions => ({ services: [services], endpoints: 1, modes: ['iptables'] });
  const settle = () => new Promise((r) => setTimeout(r, 0));

  it('runs one job at a time, queues the rest, refuses past the queue limit', async () => {
    const c = controllable();
    const jobs = new ScaleJobs({ run: c.run, queueMax: 1 });
    const a = jobs.submit(opts(1));
    const b = jobs.submit(opts(2));
    expect(() => jobs.submit(opts(3))).toThrow(JobQueueFull);
    expect(c.started).toHaveLength(1);
    expect(jobs.get(a.job)!.state).toBe('running');
    expect(jobs.get(b.job)!.state).toBe('queued');
    c.started[0].finish();
    await settle();
    expect(jobs.get(a.job)!.state).toBe('done');
    expect(jobs.get(b.job)!.state).toBe('running');
    expect(c.started[1].options.services).toEqual([2]);
    await jobs.close();
    expect(jobs.get(b.job)!.state).toBe('cancelled');
  });

  it('cancels a queued job without ever starting it', async () => {
    const c = controllable();
    const jobs = new ScaleJobs({ run: c.run });
    jobs.submit(opts(1));
    const b = jobs.submit(opts(2));
    expect(jobs.cancel(b.job)!.state).toBe('cancelled');
    c.started[0].finish();
    await settle();
    expect(c.started).toHaveLength(1);
    await jobs.close();
  });

  it('forgets the oldest finished jobs beyond keepFinished', async () => {
    const c = controllable();
    const jobs = new ScaleJobs({ run: c.run, keepFinished: 2 });
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      ids.push(jobs.submit(opts(i)).job);
      c.started[i - 1].finish();
      await settle();
    }
    expect(jobs.get(ids[0])).toBeUndefined();
    expect(jobs.get(ids[1])!.state).toBe('done');
    expect(jobs.get(ids[2])!.state).toBe('done');
  });
});
