// The live OpenAPI document: builds the app and asks @fastify/swagger for it. The npm script
// (openapi-write.ts) writes it to openapi/openapi.json and a test fails when the committed file
// drifts from it. Kept apart from openapi.ts (the options the app itself imports), so the app and
// its document do not import each other.

import { buildApp } from './app.js';
import { defaultConfig } from './config.js';

/**
 * Builds the app (one worker, no example, no data dir) and returns its OpenAPI document. The app's
 * pool starts its threads even though none is asked anything: `workerFile` lets a caller that has
 * a bundled worker (the test suite) skip their tsx start-up.
 */
export async function generateOpenapi(opts: { workerFile?: string } = {}): Promise<Record<string, unknown>> {
  const app = await buildApp({ config: defaultConfig({ poolSize: 1, dataDir: null, preloadExample: false }), exampleDir: null, ...opts });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The document as committed: stable key order from generation, two-space indent, final newline. */
export function renderOpenapi(doc: Record<string, unknown>): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
