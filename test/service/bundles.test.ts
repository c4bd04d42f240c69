// A build runs the pool worker and the server from esbuild bundles (src/service/bundle-build.ts,
// run by `npm run build:ts`): bundles made the same way (from src/ here) load, explain and answer
// exactly as the library, and a build picks a bundle only when it is not older than its module.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/service/app.js';
import { defaultConfig } from '../../src/service/config.js';
import { builtFile } from '../../src/service/bundles.js';
import { bundleModule } from '../../src/service/bundle-build.js';
import { exampleDir, readNodeDir } from '../../src/examples.js';
import { loadRuleset } from '../../src/ruleset.js';
import { nodeDump, tempDir, webQuery } from './helpers.js';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
// Inside the project (test/.build is git-ignored), so the bundle's external packages resolve.
const outDir = fileURLToPath(new URL('../.build/prod/service/', import.meta.url));
const outfile = join(outDir, 'worker.bundle.js');

let app: App;
let dataDir: string;
beforeAll(async () => {
  await bundleModule(join(src, 'service/worker.ts'), outfile, src);
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

describe('the bundled server', () => {
  it('starts in a plain node process (its pool on the bundled worker) and answers the example like the library', async () => {
    const serverFile = join(outDir, 'server.bundle.js');
    await bundleModule(join(src, 'service/server.ts'), serverFile, src);
    const dir = await tempDir();
    const proc = spawn(process.execPath, ['--input-type=module', '-e', `const { startServer } = await import(${JSON.stringify(`file://${serverFile}`)}); const { url } = await startServer(); console.log('listening at ' + url);`], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LANDFALL_DATA_DIR: dir, LANDFALL_WORKER_FILE: outfile, LANDFALL_POOL_SIZE: '1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        proc.once('exit', (code) => reject(new Error(`server exited ${code}`)));
        createInterface({ input: proc.stdout! }).on('line', (line) => {
          const m = /listening at (http:\/\/[\d.]+:\d+)/.exec(line);
          if (m) resolve(m[1]!);
        });
      });
      for (let i = 0; i < 1200 && (await fetch(`${url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
      const query = { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' } as const;
      const res = await fetch(`${url}/v1/rulesets/example/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
      expect(res.status).toBe(200);
      const example = readNodeDir(exampleDir('kube-node')!)!;
      expect(await res.text()).toBe(JSON.stringify(loadRuleset(example).explain(query)));
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('builtFile', () => {
  it('takes the bundle unless it is missing or older than the module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'landfall-builtfile-'));
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'worker.js'), '');
      expect(builtFile(dir, 'worker')).toBe(join(dir, 'worker.js'));
      await writeFile(join(dir, 'worker.bundle.js'), '');
      await utimes(join(dir, 'worker.js'), 1000, 1000);
      expect(builtFile(dir, 'worker')).toBe(join(dir, 'worker.bundle.js'));
      // tsc run again without the bundling step: the bundle is stale.
      await utimes(join(dir, 'worker.bundle.js'), 500, 500);
      expect(builtFile(dir, 'worker')).toBe(join(dir, 'worker.js'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
