// The production pool worker is one esbuild bundle (src/service/worker-bundle.ts, run by
// `npm run build:ts`): an app whose pool runs that bundle loads, explains and answers exactly as the
// library, and a build picks the bundle only when it is not older than worker.js.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/service/app.js';
import { defaultConfig } from '../../src/service/config.js';
import { builtWorkerFile } from '../../src/service/pool.js';
import { bundleWorker } from '../../src/service/worker-bundle.js';
import { loadRuleset } from '../../src/ruleset.js';
import { nodeDump, tempDir, webQuery } from './helpers.js';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
// Inside the project (test/.build is git-ignored), so the bundle's external packages resolve.
const outfile = fileURLToPath(new URL('../.build/prod/service/worker.bundle.js', import.meta.url));

let app: App;
let dataDir: string;
beforeAll(async () => {
  await bundleWorker(join(src, 'service/worker.ts'), outfile, src);
  dataDir = await tempDir();
  app = await buildApp({ config: defaultConfig({ poolSize: 1, dataDir, maxEventLoopDelayMs: 0 }), exampleDir: null, workerFile: outfile });
  await app.ready();
  await app.landfall.boot.done;
}, 120_000);
afterAll(async () => {
  await app?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the bundled pool worker', () => {
  it('loads an upload and answers explain with the library’s bytes', async () => {
    const dump = await nodeDump();
    const up = await app.inject({ method: 'POST', url: '/v1/rulesets', payload: dump });
    expect(up.statusCode, up.body).toBe(201);
    const id = (up.json() as { id: string }).id;
    const res = await app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toBe(JSON.stringify(loadRuleset(dump).explain(webQuery)));
    // The compiled form was made by the bundled loader (the wasm binary found from the bundle).
    expect(app.landfall.pool.stats().loads).toBeGreaterThan(0);
  });
});

describe('builtWorkerFile', () => {
  it('takes the bundle unless it is missing or older than worker.js', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'landfall-workerfile-'));
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'worker.js'), '');
      expect(builtWorkerFile(dir)).toBe(join(dir, 'worker.js'));
      await writeFile(join(dir, 'worker.bundle.js'), '');
      await utimes(join(dir, 'worker.js'), 1000, 1000);
      expect(builtWorkerFile(dir)).toBe(join(dir, 'worker.bundle.js'));
      // tsc run again without the bundling step: the bundle is stale.
      await utimes(join(dir, 'worker.bundle.js'), 500, 500);
      expect(builtWorkerFile(dir)).toBe(join(dir, 'worker.js'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
