// nftables over HTTP: the bundle's nftables field (text or JSON), nft text as text/plain, one-shot
// explain, a parse error's line and column.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nft/${name}`, import.meta.url), 'utf8');
const NODE = { addresses: ['192.168.0.2'], podCIDRs: ['10.0.0.0/8'] };
const QUERY = { protocol: 'tcp', destination: '172.30.0.44', port: 80, source: '10.180.0.2', origin: 'pod' };

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => t.close());

describe('nftables over HTTP', () => {
  it('text/plain nft text is read as nftables: the same id as the JSON bundle with that field', async () => {
    const nftables = fixture('kube-proxy-v1.35.txt');
    const a = await t.app.inject({ method: 'POST', url: '/v1/rulesets', headers: { 'content-type': 'text/plain' }, payload: nftables });
    expect(a.statusCode, a.body).toBe(201);
    const b = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { nftables } });
    expect(a.json().id).toBe(b.json().id);
    expect(a.json().stats.tables['nft/ip kube-proxy'].chains).toBeGreaterThan(20);
  });

  it('explains on an uploaded nft -j listing, path steps with family and handle', async () => {
    const up = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { nftables: fixture('kube-proxy-v1.35.json'), node: NODE } });
    expect(up.statusCode, up.body).toBe(201);
    const res = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${up.json().id}/explain`, payload: QUERY });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.outcomes.map((o: { endpoint: string; probability: number }) => [o.endpoint, o.probability])).toEqual([
      ['10.180.0.4:80', 0.5],
      ['10.180.0.5:80', 0.5],
    ]);
    const step = body.outcomes[0].path.find((s: { chain: string }) => s.chain === 'services');
    expect(step).toMatchObject({ family: 'ip', table: 'kube-proxy', rule: 'ip daddr . meta l4proto . th dport vmap @service-ips', handle: 44 });
  });

  it('one-shot explain with nft text', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/explain', payload: { ruleset: { nftables: fixture('kube-proxy-v1.35.txt'), node: NODE }, query: QUERY } });
    expect(res.statusCode, res.body).toBe(200);
    const lines = fixture('kube-proxy-v1.35.txt').split('\n');
    for (const s of res.json().outcomes[0].path) if (s.policy === undefined) expect(lines[s.line - 1].trim()).toBe(s.rule);
  });

  it('a malformed nft listing is a 422 problem with line and column', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/rulesets',
      headers: { 'content-type': 'text/plain' },
      payload: 'table ip t {\n\tchain c {\n\t\ttype filter hook input priority nope;\n\t}\n}\n',
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ line: 3, column: 35 });
  });
});
