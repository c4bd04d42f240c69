// The documented schemas (OpenAPI components) must describe what the library really answers:
// real explain / trace / services / summary responses are checked against them, and every
// field the answer carries must be declared (answers are sent pre-serialized, so nothing else
// would notice a field the documentation lacks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import { ExplainResult, Outcome, PathStep, RulesetSummary, Service, TraceResult, namedSchemas } from '../../src/service/schemas.js';
import { startApp, webQuery, type TestApp } from './helpers.js';

const context = Object.fromEntries(namedSchemas.map((s) => [(s as { $id: string }).$id, s])) as Record<string, TSchema>;

function expectValid(schema: TSchema, value: unknown) {
  const errors = [...Value.Errors(context, schema, value)].slice(0, 5);
  expect(errors, JSON.stringify(errors)).toEqual([]);
}

/** Keys the value has that the (object) schema does not declare. */
function undeclared(schema: TSchema, value: object): string[] {
  const props = (schema as { properties?: Record<string, unknown> }).properties ?? {};
  return Object.keys(value).filter((k) => !(k in props));
}

let t: TestApp;
beforeAll(async () => {
  t = await startApp({}, { example: true });
});
afterAll(async () => t.close());

describe('documented schemas match real answers', () => {
  it('summary, services, explain and trace of the bundled example', async () => {
    const summary = (await t.app.inject({ url: '/v1/rulesets/example' })).json();
    expectValid(RulesetSummary, summary);

    const services = (await t.app.inject({ url: '/v1/rulesets/example/services' })).json().services as object[];
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      expectValid(Service, s);
      expect(undeclared(Service, s)).toEqual([]);
    }

    const queries = [
      { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' },
      { protocol: 'tcp', destination: '10.96.12.40', port: 80, origin: 'external' },
      { protocol: 'tcp', destination: '192.168.0.10', port: 22, origin: 'host' },
      { protocol: 'icmp', destination: '8.8.8.8', origin: 'pod' },
    ];
    for (const q of queries) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets/example/explain', payload: q });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { outcomes: { path: object[] }[] };
      expectValid(ExplainResult, body);
      expect(undeclared(ExplainResult, body)).toEqual([]);
      // The check follows $refs: a wrong type deep inside an outcome is caught.
      const broken = { ...body, outcomes: body.outcomes.map((o) => ({ ...o, path: [{ ...o.path[0], line: 'one' }] })) };
      expect(body.outcomes.length === 0 || [...Value.Errors(context, ExplainResult, broken)].length > 0).toBe(true);
      for (const o of body.outcomes) {
        expect(undeclared(Outcome, o)).toEqual([]);
        for (const step of o.path) expect(undeclared(PathStep, step)).toEqual([]);
      }
    }

    const trace = await t.app.inject({ method: 'POST', url: '/v1/rulesets/example/trace', payload: { packets: queries, seed: 3 } });
    for (const r of trace.json().results as object[]) {
      expectValid(TraceResult, r);
      expect(undeclared(TraceResult, r)).toEqual([]);
    }
  });

  it('an uploaded ruleset summary', async () => {
    const { upload } = await import('./helpers.js');
    const id = await upload(t.app);
    expectValid(RulesetSummary, (await t.app.inject({ url: `/v1/rulesets/${id}` })).json());
    const res = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expectValid(ExplainResult, res.json());
  });
});
