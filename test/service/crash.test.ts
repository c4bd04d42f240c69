// A worker killed mid-request fails only that request (500 problem+json); piscina replaces it and
// the next request succeeds — on the replacement, which opens the ruleset's shared compiled form.
// Uploads are parsed by the loader thread: killing it mid-parse fails that upload only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { startApp, upload, webQuery, type TestApp } from './helpers.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  t = await startApp({ poolSize: 1 });
  id = await upload(t.app);
});
afterAll(async () => t.close());

describe('worker crash', () => {
  it('fails only the request whose worker died; the next one succeeds', async () => {

    // A dump large enough that parsing it keeps the worker busy for a while.
    const { text, node } = generateIptables({ services: 3000, endpoints: 3 });
    const pool = t.app.landfall.pool;
    const victim = t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { iptables: text, node } });
    // Wait until the upload's task is on the loader, then kill it.
    while (pool.stats().busy === 0 || pool.loaderThreads.length === 0) await new Promise((r) => setImmediate(r));
    const [loader] = pool.loaderThreads;
    await loader!.terminate();

    const res = await victim;
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 500, code: 'worker-crashed' });
    expect(res.body).not.toMatch(/\n\s+at /);

    const next = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(next.statusCode).toBe(200);
    expect(next.json().outcomes).toHaveLength(3);
    expect(pool.stats()).toMatchObject({ threads: 1, crashes: 1 });
    // The store was not touched by the failed upload.
    expect(t.app.landfall.store.size).toBe(1);
  });
});
