// Upload (JSON and text/plain), content-hash ids, summary, services, delete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDump, startApp, upload, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => t.close());

describe('POST /v1/rulesets', () => {
  it('stores a JSON bundle and answers 201 with a content-hash id, stats and warnings', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: await nodeDump() });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.id).toMatch(/^[0-9a-f]{64}$/);
    expect(body.stats.rules).toBeGreaterThan(30);
    expect(Array.isArray(body.warnings)).toBe(true);
  });

  it('takes text/plain as the iptables dump, and the same dump gets the same id', async () => {
    const { iptables } = await nodeDump();
    const a = await t.app.inject({ method: 'POST', url: '/v1/rulesets', headers: { 'content-type': 'text/plain' }, payload: iptables });
    const b = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { iptables } });
    expect(a.statusCode).toBe(201);
    expect(a.json().id).toBe(b.json().id);
    // The node context is part of the input, so it changes the id.
    expect(a.json().id).not.toBe(await upload(t.app));
  });

  it('gives concurrent uploads of the same dump one id and one stored copy', async () => {
    const payload = await nodeDump();
    payload.iptables += '\n# concurrent\n';
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => t.app.inject({ method: 'POST', url: '/v1/rulesets', payload })),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array(6).fill(201));
    expect(new Set(answers.map((r) => r.json().id)).size).toBe(1);
  });
});

describe('a stored ruleset', () => {
  it('has a summary, services, and can be forgotten', async () => {
    const id = await upload(t.app);
    const summary = await t.app.inject({ url: `/v1/rulesets/${id}` });
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toMatchObject({ id, warnings: [] });
    expect(summary.json().bytes).toBeGreaterThan(1000);

    const services = await t.app.inject({ url: `/v1/rulesets/${id}/services` });
    expect(services.statusCode).toBe(200);
    const web = services.json().services.find((s: { name: string }) => s.name === 'default/web:http');
    expect(web).toMatchObject({ namespace: 'default', clusterIP: '10.96.100.1', nodePort: 30080 });
    expect(web.endpoints.map((e: { endpoint: string }) => e.endpoint).sort()).toEqual([
      '10.244.0.5:8080',
      '10.244.1.6:8080',
      '10.244.2.9:8080',
    ]);

    const del = await t.app.inject({ method: 'DELETE', url: `/v1/rulesets/${id}` });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ id, deleted: true });
    const gone = await t.app.inject({ url: `/v1/rulesets/${id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(gone.json().code).toBe('ruleset-not-found');
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/rulesets/${id}` })).statusCode).toBe(404);
  });
});
