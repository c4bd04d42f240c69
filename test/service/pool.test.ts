// Pool mechanics against a fake worker (the real one needs the library; route tests cover it):
// queue bound → overloaded with Retry-After, time limit → task-timeout and the worker replaced,
// a crashing worker fails only its own task and the next task succeeds. A worker holds several
// tasks at once (one waiting for its ruleset to open lets the others run): a task over its limit
// stops the worker only when it is the one running, and the others that worker held run again.
import { afterEach, describe, expect, it } from 'vitest';
import { fakeWorkerFile } from '../helpers/bundled.js';
import { WorkerPool } from '../../src/service/pool.js';
import { ApiError } from '../../src/service/errors.js';
import type { Task, TaskResult } from '../../src/service/protocol.js';

// Bundled once per run (test/support/worker-bundle.ts): no tsx loader in each worker thread.
const fake = fakeWorkerFile();
const input = new SharedArrayBuffer(8);
const explain = (destination: string, port?: number): Task => ({
  op: 'explain',
  ruleset: { id: 'x', input },
  query: { protocol: 'tcp', destination, ...(port !== undefined ? { port } : {}) },
});

let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function make(size: number, queueMax: number, taskTimeoutMs = 10_000): WorkerPool {
  pool = new WorkerPool({ size, queueMax, taskTimeoutMs, worker: { cacheBytes: 1 << 20 }, filename: fake });
  return pool;
}

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('worker pool', () => {
  it('runs tasks and reports its threads after warm-up', async () => {
    const p = make(2, 4);
    await p.warmUp();
    expect(p.stats().threads).toBe(2);
    const res = await p.run(explain('10.0.0.1'));
    expect(res.ok).toBe(true);
    expect(JSON.parse(Buffer.from((res as { binary: Uint8Array }).binary).toString()).destination).toBe('10.0.0.1');
  });

  it('refuses work beyond the queue bound with overloaded + Retry-After', async () => {
    const p = make(1, 1);
    await p.warmUp();
    const running = p.run(explain('sleep', 400));
    const queued = p.run(explain('sleep', 1));
    const err = await rejection(p.run(explain('10.0.0.1')));
    expect(err.code).toBe('overloaded');
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBeGreaterThan(0);
    await expect(running).resolves.toMatchObject({ ok: true });
    await expect(queued).resolves.toMatchObject({ ok: true });
    expect(p.stats().rejected).toBe(1);
  });

  it('stops a task over its time limit and keeps serving', async () => {
    const p = make(1, 4, 2_000);
    await p.warmUp();
    const err = await rejection(p.run(explain('hang')));
    expect(err.code).toBe('task-timeout');
    // The replacement worker starts (under tsx, seconds on a loaded machine) without a task limit.
    await p.warmUp();
    await expect(p.run(explain('10.0.0.2'))).resolves.toMatchObject({ ok: true });
    expect(p.stats().timeouts).toBe(1);
  });

  it('a crashing worker fails only its own task; the next one succeeds', async () => {
    const p = make(2, 4);
    await p.warmUp();
    const bystander = p.run(explain('sleep', 200));
    const err = await rejection(p.run(explain('crash')));
    expect(err.code).toBe('worker-crashed');
    expect(err.status).toBe(500);
    await expect(bystander).resolves.toMatchObject({ ok: true });
    await expect(p.run(explain('10.0.0.3'))).resolves.toMatchObject({ ok: true });
    expect(p.stats().crashes).toBe(1);
  });

  it('an exception escaping the worker fails only that task', async () => {
    const p = make(1, 4);
    await p.warmUp();
    const err = await rejection(p.run(explain('throw')));
    expect(err.code).toBe('worker-crashed');
    await expect(p.run(explain('10.0.0.4'))).resolves.toMatchObject({ ok: true });
  });

  it('a task waiting in a worker (its ruleset opening) does not hold back the tasks behind it', async () => {
    const p = make(1, 8);
    await p.warmUp();
    const waiting = p.run(explain('yield', 500));
    const after = await p.run(explain('10.0.0.6'));
    const first = await waiting;
    expect(first.ok && after.ok).toBe(true);
    expect(after.timings.order).toBeLessThan(first.timings.order);
    expect(after.timings.thread).toBe(first.timings.thread);
  });

  it('with several workers, a task none can start now waits in the pool for the first one free, not behind a long task', async () => {
    const p = make(2, 8);
    await p.warmUp();
    const long = p.run(explain('sleep', 4_000));
    const short = p.run(explain('sleep', 300));
    await new Promise((r) => setTimeout(r, 100));
    const next = p.run(explain('10.0.0.9'));
    expect(await Promise.race([long.then(() => 'long'), next.then(() => 'next')])).toBe('next');
    const [l, s, n] = await Promise.all([long, short, next]);
    expect(n.timings.thread).toBe(s.timings.thread);
    expect(n.timings.thread).not.toBe(l.timings.thread);
  });

  it('a task over its limit while waiting for its ruleset is stopped alone: its worker keeps serving', async () => {
    const p = make(1, 8, 1_500);
    await p.warmUp();
    const thread = p.threads[0]!.threadId;
    const err = await rejection(p.run(explain('yield', 60_000)));
    expect(err.code).toBe('task-timeout');
    const next = await p.run(explain('10.0.0.7'));
    expect(next.ok).toBe(true);
    expect(next.timings.thread).toBe(thread);
    expect(p.stats()).toMatchObject({ timeouts: 1, crashes: 0 });
  });

  it('a task over its limit stops its worker; the tasks that worker held run again and are answered', async () => {
    // The held tasks, sent 2 s after the hang, outlive it by those 2 s: time for the replacement
    // worker to start (the bundled stand-in; from .ts under tsx this took seconds, hence 8 s before).
    const p = make(1, 8, 5_000);
    await p.warmUp();
    const thread = p.threads[0]!.threadId;
    const hang = p.run(explain('hang'));
    // Sent a while later (so within their own limit when the hang reaches its): they wait behind it in the worker.
    await new Promise((r) => setTimeout(r, 2_000));
    const held = [p.run(explain('10.0.0.8')), p.run(explain('yield', 1))];
    const err = await rejection(hang);
    expect(err.code).toBe('task-timeout');
    for (const [i, r] of (await Promise.all(held)).entries()) {
      expect(r.ok).toBe(true);
      expect(r.timings.thread).not.toBe(thread);
      expect(JSON.parse(Buffer.from((r as { binary: Uint8Array }).binary).toString()).destination).toBe(['10.0.0.8', 'yield'][i]);
    }
    expect(p.stats()).toMatchObject({ timeouts: 1, crashes: 0 });
  });

  describe('explains on a stored ruleset (batched while the worker is busy)', () => {
    const ref = { id: 'x', input };
    const q = (destination: string, port?: number) => ({ protocol: 'tcp' as const, destination, ...(port !== undefined ? { port } : {}) });
    // Explains submitted in one event-loop turn go together; after a turn, the next ones wait.
    const turn = () => new Promise((r) => setImmediate(r));
    const text = (r: TaskResult) => (r.ok && r.binary ? Buffer.from(r.binary).toString() : `fault ${r.ok ? 'none' : r.fault.code}`);

    it('sends the explains that wait for a busy worker as one task, each answered with its own bytes', async () => {
      const p = make(1, 64);
      await p.warmUp();
      const before = p.stats().completed;
      const first = p.explain(ref, q('sleep', 300));
      await turn();
      const waiting = Array.from({ length: 20 }, (_, i) => p.explain(ref, q(`10.0.0.${i}`, 1000 + i)));
      const answers = await Promise.all(waiting);
      await first;
      // The sleeper alone, then the twenty together.
      expect(p.stats().completed - before).toBe(2);
      answers.forEach((a, i) => expect(JSON.parse(text(a))).toMatchObject({ destination: `10.0.0.${i}`, port: 1000 + i }));
    });

    it('a second batch goes to a busy worker at once (it finds it when it is done); a third group waits and goes as one', async () => {
      const p = make(1, 64);
      await p.warmUp();
      const before = p.stats().completed;
      const first = p.explain(ref, q('sleep', 300));
      await turn();
      const second = Array.from({ length: 5 }, (_, i) => p.explain(ref, q(`10.0.1.${i}`, 2000 + i)));
      await turn();
      const third = Array.from({ length: 5 }, (_, i) => p.explain(ref, q(`10.0.2.${i}`, 3000 + i)));
      await turn();
      const third2 = Array.from({ length: 5 }, (_, i) => p.explain(ref, q(`10.0.3.${i}`, 4000 + i)));
      const answers = await Promise.all([...second, ...third, ...third2]);
      await first;
      // The sleeper; the five sent while it ran; the ten that waited for a slot, together.
      expect(p.stats().completed - before).toBe(3);
      answers.forEach((a, i) => expect(JSON.parse(text(a))).toMatchObject({ destination: `10.0.${1 + Math.floor(i / 5)}.${i % 5}` }));
    });

    it('a query the library refuses fails alone; the rest of its batch is answered', async () => {
      const p = make(1, 64);
      await p.warmUp();
      const first = p.explain(ref, q('sleep', 200));
      await turn();
      const batch = [p.explain(ref, q('10.0.0.1')), p.explain(ref, q('fault')), p.explain(ref, q('10.0.0.2'))];
      const [a, f, b] = await Promise.all(batch);
      await first;
      expect(JSON.parse(text(a!)).destination).toBe('10.0.0.1');
      expect(f).toMatchObject({ ok: false, fault: { code: 'invalid-field' } });
      expect(JSON.parse(text(b!)).destination).toBe('10.0.0.2');
    });

    it('a query that kills its worker fails alone (500); the others in its batch are answered', async () => {
      const p = make(1, 64);
      await p.warmUp();
      const first = p.explain(ref, q('sleep', 200));
      await turn();
      const others = [p.explain(ref, q('10.0.0.1')), p.explain(ref, q('10.0.0.2'))];
      const victim = p.explain(ref, q('crash'));
      const more = p.explain(ref, q('10.0.0.3'));
      const err = await rejection(victim);
      expect(err.code).toBe('worker-crashed');
      expect(err.status).toBe(500);
      const answered = await Promise.all([...others, more].map((o) => o.then(text, (e: ApiError) => `rejected ${e.code}`)));
      expect(answered.map((a) => (a.startsWith('{') ? JSON.parse(a).destination : a))).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
      await first;
      await expect(p.explain(ref, q('10.0.0.9'))).resolves.toMatchObject({ ok: true });
    });

    it('counts waiting explains against the queue bound', async () => {
      const p = make(1, 2);
      await p.warmUp();
      const running = p.explain(ref, q('sleep', 300));
      await turn();
      const queued = [p.explain(ref, q('10.0.0.1')), p.explain(ref, q('10.0.0.2'))];
      const err = await rejection(p.explain(ref, q('10.0.0.3')));
      expect(err.code).toBe('overloaded');
      await expect(running).resolves.toMatchObject({ ok: true });
      for (const x of queued) await expect(x).resolves.toMatchObject({ ok: true });
    });

    it('stops a batch over its time limit and keeps serving', async () => {
      const p = make(1, 8, 2_000);
      await p.warmUp();
      const err = await rejection(p.explain(ref, q('hang')));
      expect(err.code).toBe('task-timeout');
      await p.warmUp();
      await expect(p.explain(ref, q('10.0.0.2'))).resolves.toMatchObject({ ok: true });
    });
  });
});
