// Upload (JSON and text/plain), content-hash ids, summary, services, delete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { readFile } from 'node:fs/promises';
import { sharedSection } from '../../src/shared-ruleset.js';
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

  it('accepts the agreed fields not read yet (nftables, snapshot, node ipAddr/ipRoute/ipRule), and still rejects unknown ones', async () => {
    const dump = await nodeDump();
    const payload = {
      ...dump,
      nftables: 'table inet filter {\n}\n',
      snapshot: { format: 'landfall-snapshot/1', hostname: 'node-a' },
      node: { ...dump.node, ipAddr: '[]', ipRoute: '[]', ipRule: '[]' },
    };
    const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload });
    expect(res.statusCode, res.body).toBe(201);
    const unknown = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { ...dump, nft: 'x' } });
    expect(unknown.statusCode).toBe(400);
  });

  it('accepts text/plain bodies far over Fastify\'s 1 MiB default', async () => {
    const { iptables } = await nodeDump();
    const padded = `${'# padding comment line, ignored by the parser\n'.repeat(120_000)}${iptables}`;
    expect(padded.length).toBeGreaterThan(5 * 1024 * 1024);
    const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', headers: { 'content-type': 'text/plain; charset=utf-8' }, payload: padded });
    expect(res.statusCode, res.body).toBe(201);
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

  it('parses identical bytes once: concurrent twins share a parse, a re-upload needs none', async () => {
    const payload = await nodeDump();
    payload.iptables += '\n# parse once\n';
    const pool = t.app.landfall.pool;
    const before = pool.stats().completed;
    const twins = await Promise.all(
      Array.from({ length: 4 }, () => t.app.inject({ method: 'POST', url: '/v1/rulesets', payload })),
    );
    expect(new Set(twins.map((r) => r.json().id)).size).toBe(1);
    expect(pool.stats().completed).toBe(before + 1);
    const again = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload });
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(twins[0]!.json());
    expect(pool.stats().completed).toBe(before + 1);
    // Forgotten, then uploaded again: parsed again, same id.
    const id = again.json().id as string;
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/rulesets/${id}` })).statusCode).toBe(200);
    const back = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload });
    expect(back.json().id).toBe(id);
    expect(pool.stats().completed).toBe(before + 2);
  });
});

describe('GET /v1/rulesets/{id}/services', () => {
  it('lists the kube-proxy services the dump was generated from', async () => {
    const gen = generateIptables({ services: 12, endpoints: 3, seed: 5 });
    const up = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { iptables: gen.text, node: gen.node } });
    expect(up.statusCode).toBe(201);
    const res = await t.app.inject({ url: `/v1/rulesets/${up.json().id}/services` });
    expect(res.statusCode).toBe(200);
    type Svc = { name: string; protocol: string; clusterIP: string; port: number; endpoints: { endpoint: string }[] };
    const key = (s: Svc) => `${s.name} ${s.protocol} ${s.clusterIP}:${s.port}`;
    const got = (res.json().services as Svc[]).map(key).sort();
    expect(got).toEqual(gen.services.map((s) => key(s as unknown as Svc)).sort());
  });

  it('is the answer computed once at load: calls run no worker task and send the same bytes', async () => {
    const gen = generateIptables({ services: 7, endpoints: 2, seed: 9 });
    const { id } = (await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { iptables: gen.text, node: gen.node } })).json();
    const { pool, store } = t.app.landfall;
    const before = pool.stats().completed;
    const first = await t.app.inject({ url: `/v1/rulesets/${id}/services` });
    const second = await t.app.inject({ url: `/v1/rulesets/${id}/services` });
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(second.body).toBe(first.body);
    expect(pool.stats().completed).toBe(before);
    // The bytes are the ones the loader packed into the shared form (on disk: memory keeps its resident part).
    const entry = (await store.get(id))!;
    const { at, length } = sharedSection(entry.shared!, 'blob');
    expect(first.body).toBe((await readFile(entry.compiledFile!)).subarray(at, at + length).toString('utf8'));
    expect(first.json().services).toHaveLength(7);
  });
});

describe('a stored ruleset', () => {
  it('has a summary, services, and can be forgotten', async () => {
    const id = await upload(t.app);
    const summary = await t.app.inject({ url: `/v1/rulesets/${id}` });
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toMatchObject({ id, warnings: [] });
    expect(summary.json().bytes).toBeGreaterThan(1000);

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
