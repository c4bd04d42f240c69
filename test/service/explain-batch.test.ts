// Explains that arrive together go to the worker as one batch (src/service/pool.ts) and come back
// as UTF-8 bytes the route sends as they are: every answer must be byte for byte what the library
// gives for that query in-process, whichever batch it rode in and whichever ruleset it asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { loadRuleset } from '../../src/ruleset.js';
import { nodeDump, startApp, testEngine, upload, webQuery, type TestApp } from './helpers.js';

let t: TestApp;
const dump = generateIptables({ services: 300, endpoints: 4, seed: 3 });
const bundle = { iptables: dump.text, node: dump.node };
let generatedId: string;
let fixtureId: string;

beforeAll(async () => {
  t = await startApp();
  fixtureId = await upload(t.app);
  const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: bundle });
  expect(res.statusCode).toBe(201);
  generatedId = res.json().id;
});
afterAll(async () => t.close());

describe('explain answers under concurrency', () => {
  it('are byte-identical to the library’s JSON for every query, across rulesets', async () => {
    const generated = loadRuleset(bundle, { engine: testEngine() ?? 'wasm' });
    const fixture = loadRuleset(await nodeDump(), { engine: testEngine() ?? 'wasm' });
    const services = dump.services.filter((s) => s.clusterIP && s.port);
    const asks = Array.from({ length: 120 }, (_, i) => {
      if (i % 5 === 4) return { id: fixtureId, lib: fixture, query: { ...webQuery, sourcePort: 30000 + i } };
      const s = services[(i * 7) % services.length]!;
      const origin = (['pod', 'host', 'external'] as const)[i % 3]!;
      return { id: generatedId, lib: generated, query: { protocol: s.protocol, destination: s.clusterIP!, port: s.port!, origin, sourcePort: 1024 + i } };
    });
    const before = t.app.landfall.pool.stats().completed;
    const answers = await Promise.all(
      asks.map((a) => t.app.inject({ method: 'POST', url: `/v1/rulesets/${a.id}/explain`, payload: a.query })),
    );
    answers.forEach((res, i) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toBe(JSON.stringify(asks[i]!.lib.explain(asks[i]!.query)));
    });
    // Every query was walked (none was a repeat), and queries that arrived together shared tasks.
    expect(t.app.landfall.pool.stats().completed - before).toBeLessThan(asks.length);
    // A repeat is answered from the answer cache with the same bytes.
    const again = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${asks[0]!.id}/explain`, payload: asks[0]!.query });
    expect(again.body).toBe(answers[0]!.body);
  });

  it('a query the library refuses in the middle of a batch gets its 400; its neighbours get their own bytes', async () => {
    const generated = loadRuleset(bundle, { engine: testEngine() ?? 'wasm' });
    const services = dump.services.filter((s) => s.clusterIP && s.port);
    // The schema admits 32 characters; the library's interface names are at most 15.
    const bad = (i: number) => i % 4 === 1;
    const queries = Array.from({ length: 40 }, (_, i) => {
      const s = services[(i * 13) % services.length]!;
      const q = { protocol: s.protocol, destination: s.clusterIP!, port: s.port!, origin: 'pod' as const, sourcePort: 40000 + i };
      return bad(i) ? { ...q, inInterface: 'an-interface-name-of-24' } : q;
    });
    const answers = await Promise.all(
      queries.map((q) => t.app.inject({ method: 'POST', url: `/v1/rulesets/${generatedId}/explain`, payload: q })),
    );
    answers.forEach((res, i) => {
      if (bad(i)) {
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ code: 'invalid-field', field: 'body/inInterface' });
      } else {
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe(JSON.stringify(generated.explain(queries[i]!)));
      }
    });
    // A repeat of an answer that came in a batch is the same bytes, from the cache.
    const again = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${generatedId}/explain`, payload: queries[2] });
    expect(again.body).toBe(answers[2]!.body);
  });

  it('new queries on services asked before are the library’s bytes (path steps the worker shares and encodes once)', async () => {
    const generated = loadRuleset(bundle, { engine: testEngine() ?? 'wasm' });
    const services = dump.services.filter((s) => s.clusterIP && s.port).slice(0, 20);
    // Each service four times from each origin, a new source port each time (no answer-cache hit):
    // from the second answer on, the worker writes the service's rules from their remembered bytes.
    const queries = Array.from({ length: 4 * 3 * services.length }, (_, i) => {
      const s = services[i % services.length]!;
      const origin = (['pod', 'host', 'external'] as const)[Math.floor(i / services.length) % 3]!;
      return { protocol: s.protocol, destination: s.clusterIP!, port: s.port!, origin, sourcePort: 50000 + i };
    });
    for (let round = 0; round < 4; round++) {
      const part = queries.slice(round * 3 * services.length, (round + 1) * 3 * services.length);
      const answers = await Promise.all(part.map((q) => t.app.inject({ method: 'POST', url: `/v1/rulesets/${generatedId}/explain`, payload: q })));
      answers.forEach((res, i) => {
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe(JSON.stringify(generated.explain(part[i]!)));
      });
    }
  });

  it('over a real listening socket, concurrent answers are the library’s bytes with their own lengths', async () => {
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const generated = loadRuleset(bundle, { engine: testEngine() ?? 'wasm' });
    const services = dump.services.filter((s) => s.clusterIP && s.port);
    const queries = Array.from({ length: 60 }, (_, i) => {
      const s = services[(i * 11) % services.length]!;
      return { protocol: s.protocol, destination: s.clusterIP!, port: s.port!, origin: 'pod' as const, sourcePort: 20000 + i };
    });
    const bodies = await Promise.all(
      queries.map(async (q) => {
        const res = await fetch(`${base}/v1/rulesets/${generatedId}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) });
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
        return text;
      }),
    );
    bodies.forEach((b, i) => expect(b).toBe(JSON.stringify(generated.explain(queries[i]!))));
  });
});
