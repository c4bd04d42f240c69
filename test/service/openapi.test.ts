// The committed openapi/openapi.json must equal the live document (regenerate with
// `npm run openapi`), use named components, and document errors on every /v1 route.
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateOpenapi, renderOpenapi } from '../../src/service/openapi-document.js';
import { startApp, withTestWorker } from './helpers.js';

const committed = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url));

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
  components: { schemas: Record<string, unknown> };
}

// generateOpenapi builds a whole app, pool threads included: the file's cost. Generate once (with
// the worker bundled for this run; the document does not depend on the worker); every test reads
// the same document (the generation is deterministic, and nothing here mutates it).
let generated: Promise<Record<string, unknown>> | undefined;
const liveDoc = (): Promise<Record<string, unknown>> => (generated ??= generateOpenapi(withTestWorker()));

describe('OpenAPI document', () => {
  it('matches the committed openapi/openapi.json (run `npm run openapi` after changing a route)', async () => {
    const live = renderOpenapi(await liveDoc());
    expect(live).toBe(await readFile(committed, 'utf8'));
  });

  it('is served at /openapi.json, with Swagger UI at /docs', async () => {
    const t = await startApp();
    try {
      const spec = await t.app.inject({ url: '/openapi.json' });
      expect(spec.statusCode).toBe(200);
      expect(spec.json()).toEqual(JSON.parse(renderOpenapi(await liveDoc())));
      const docs = await t.app.inject({ url: '/docs/' });
      expect(docs.statusCode).toBe(200);
      expect(docs.headers['content-type']).toMatch(/^text\/html/);
      expect(docs.body).toMatch(/swagger/i);
    } finally {
      await t.close();
    }
  });

  it('is OpenAPI 3.1 with named components, and every /v1 route documents problem+json errors', async () => {
    const doc = (await liveDoc()) as unknown as Doc;
    expect(doc.openapi).toBe('3.1.0');
    for (const name of ['Query', 'ExplainResult', 'TraceResult', 'Service', 'RulesetBundle', 'RulesetSummary', 'Problem', 'NodeInput']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    expect(Object.keys(doc.components.schemas).filter((k) => k.startsWith('def-'))).toEqual([]);
    const v1 = Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/'));
    expect(v1.map(([p]) => p)).toEqual(expect.arrayContaining([
      '/v1/explain',
      '/v1/rulesets',
      '/v1/rulesets/{id}',
      '/v1/rulesets/{id}/explain',
      '/v1/rulesets/{id}/services',
      '/v1/rulesets/{id}/trace',
    ]));
    for (const [path, ops] of v1) {
      for (const [method, op] of Object.entries(ops)) {
        const errors = Object.entries(op.responses).filter(([s]) => Number(s) >= 400);
        expect(errors.length, `${method} ${path}`).toBeGreaterThanOrEqual(3);
        for (const [, r] of errors) {
          const c = r.content?.['application/problem+json'] ?? r.content?.['application/json'];
          expect(c?.schema.$ref, `${method} ${path}`).toBe('#/components/schemas/Problem');
        }
      }
    }
  });
});
