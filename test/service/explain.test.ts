// explain (by id, one-shot, the `example` alias) and trace over the real library in a worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDump, startApp, upload, webQuery, type TestApp } from './helpers.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  t = await startApp({}, { example: true });
  id = await upload(t.app);
});
afterAll(async () => t.close());

interface Outcome {
  probability: number;
  verdict: string;
  endpoint: string;
  path: { line: number; chain: string }[];
}

describe('POST /v1/rulesets/{id}/explain', () => {
  it('answers where a ClusterIP packet lands: three endpoints, probabilities summing to 1', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { outcomes: Outcome[]; query: { origin: string; source: string } };
    const endpoints = body.outcomes.map((o) => o.endpoint).sort();
    expect(endpoints).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.2.9:8080']);
    const total = body.outcomes.reduce((s, o) => s + o.probability, 0);
    expect(total).toBeCloseTo(1, 9);
    for (const o of body.outcomes) {
      expect(o.probability).toBeCloseTo(1 / 3, 6);
      expect(o.verdict).toBe('accept');
      expect(o.path.some((s) => s.chain === 'KUBE-SVC-WEB' && s.line > 0)).toBe(true);
    }
    expect(body.query.origin).toBe('pod');
  });

  it('one-shot explain gives the same answer as explain by id', async () => {
    const byId = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    const oneShot = await t.app.inject({
      method: 'POST',
      url: '/v1/explain',
      payload: { ruleset: await nodeDump(), query: webQuery },
    });
    expect(oneShot.statusCode).toBe(200);
    expect(oneShot.json()).toEqual(byId.json());
  });

  it('rejects a service without endpoints', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/rulesets/${id}/explain`,
      payload: { protocol: 'tcp', destination: '10.96.50.50', port: 80, origin: 'pod' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().outcomes.map((o: Outcome) => o.verdict)).toEqual(['reject']);
  });
});

describe('POST /v1/rulesets/{id}/trace', () => {
  it('samples one outcome per packet, reproducibly for a seed', async () => {
    const packets = Array.from({ length: 300 }, (_, i) => ({ ...webQuery, sourcePort: 20000 + i }));
    const run = (seed: number) =>
      t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/trace`, payload: { packets, seed } });
    const a = await run(7);
    expect(a.statusCode).toBe(200);
    const results = a.json().results as { endpoint: string; verdict: string; rulesEvaluated: number }[];
    expect(results).toHaveLength(300);
    const seen = new Set(results.map((r) => r.endpoint));
    expect([...seen].sort()).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.2.9:8080']);
    for (const r of results) expect(r.rulesEvaluated).toBeGreaterThan(0);
    expect((await run(7)).json()).toEqual(a.json());
    expect((await run(8)).json()).not.toEqual(a.json());
  });
});

describe('the bundled example', () => {
  it('answers to the alias `example`: its services, and explain lands on their endpoints', async () => {
    const summary = await t.app.inject({ url: '/v1/rulesets/example' });
    expect(summary.statusCode).toBe(200);
    expect(summary.json().aliases).toEqual(['example']);
    expect(summary.json().id).toMatch(/^[0-9a-f]{64}$/);

    const services = await t.app.inject({ url: '/v1/rulesets/example/services' });
    expect(services.statusCode).toBe(200);
    type Svc = { name: string; clusterIP: string; protocol: string; port: number; status: string; endpoints: { endpoint: string }[] };
    const list = services.json().services as Svc[];
    const dns = list.find((s) => s.name === 'kube-system/kube-dns:dns');
    expect(dns).toMatchObject({ clusterIP: '10.96.0.10', protocol: 'udp', port: 53, status: 'ok' });

    const explained = await t.app.inject({
      method: 'POST',
      url: '/v1/rulesets/example/explain',
      payload: { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' },
    });
    expect(explained.statusCode).toBe(200);
    const outcomes = explained.json().outcomes as Outcome[];
    expect(outcomes.map((o) => o.endpoint).sort()).toEqual(dns!.endpoints.map((e) => e.endpoint).sort());
    expect(outcomes.reduce((sum, o) => sum + o.probability, 0)).toBeCloseTo(1, 9);
  });
});
