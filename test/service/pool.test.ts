// Pool mechanics against a fake worker (the real one needs the library; route tests cover it):
// queue bound → overloaded with Retry-After, time limit → task-timeout and the worker replaced,
// a crashing worker fails only its own task and the next task succeeds.
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../../src/service/pool.js';
import { ApiError } from '../../src/service/errors.js';
import type { Task } from '../../src/service/protocol.js';

const fake = fileURLToPath(new URL('./fixtures/fake-worker.ts', import.meta.url));
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
    expect(JSON.parse((res as { json: string }).json).destination).toBe('10.0.0.1');
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
    // The limit counts from submission, and a replacement worker under tsx takes a while to
    // start, so the limit is generous enough for the follow-up task to get a fresh worker.
    const p = make(1, 4, 2_000);
    await p.warmUp();
    const err = await rejection(p.run(explain('hang')));
    expect(err.code).toBe('task-timeout');
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
});
