// Pool limits through HTTP: a full queue answers 503 + Retry-After at once, and a task over its
// time limit answers 503 while the server (with a replaced worker) keeps serving.
import { afterEach, describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { startApp, upload, webQuery, type TestApp } from './helpers.js';

// Parsing a dump this size keeps the only worker busy for far longer than the limits below.
const big = generateIptables({ services: 3000, endpoints: 3, seed: 9 });
const bigUpload = { method: 'POST' as const, url: '/v1/rulesets', payload: { iptables: big.text, node: big.node } };

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('pool limits over HTTP', () => {
  it('answers 503 + Retry-After when every worker is busy and the queue is full', async () => {
    t = await startApp({ poolSize: 1, queueMax: 0 });
    const id = await upload(t.app);
    const pool = t.app.landfall.pool;
    const busy = t.app.inject(bigUpload);
    while (pool.stats().busy === 0) await new Promise((r) => setImmediate(r));
    const refused = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'overloaded', status: 503 });
    expect((await busy).statusCode).toBe(201);
    const later = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(later.statusCode).toBe(200);
  });

  it('stops a parse over its time limit with 503 and serves the next request', async () => {
    t = await startApp({ poolSize: 1, loadTimeoutMs: 300 });
    const id = await upload(t.app);
    const res = await t.app.inject(bigUpload);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ code: 'task-timeout', status: 503 });
    // The loader was stopped; answers come from the workers, which never needed it for this ruleset.
    const next = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(next.statusCode).toBe(200);
    expect(t.app.landfall.pool.stats()).toMatchObject({ threads: 1, timeouts: 1 });
  });
});
