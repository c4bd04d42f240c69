// Shared set-up for the service tests: an app over the REAL library and worker, a temporary data
// directory, and the small kube-proxy dump in fixtures/ (3-endpoint web service, DNS, a
// service without endpoints).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledWorker } from '../helpers/bundled.js';
import { buildApp, type App } from '../../src/service/app.js';
import { defaultConfig, type ServiceConfig } from '../../src/service/config.js';

export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const exampleDir = fileURLToPath(new URL('../../examples/kube-node/', import.meta.url));

export async function nodeDump(): Promise<{ iptables: string; node: Record<string, unknown> }> {
  return {
    iptables: await readFile(join(fixtures, 'node.iptables'), 'utf8'),
    node: JSON.parse(await readFile(join(fixtures, 'node.json'), 'utf8')) as Record<string, unknown>,
  };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'landfall-svc-'));
}

/** LANDFALL_ENGINE=reference runs the suite on the reference walk (default: the library's, wasm). */
export function testEngine(): 'wasm' | 'reference' | undefined {
  const e = process.env.LANDFALL_ENGINE;
  return e === 'wasm' || e === 'reference' ? e : undefined;
}

/**
 * The pool worker the tests run: src/service/worker.ts bundled once per run by
 * test/support/worker-bundle.ts (no tsx loader in the worker thread, so an app boots in a fraction
 * of the time). Outside that setup, undefined: the app's own default (worker.ts under tsx).
 */
export function testWorkerFile(): string | undefined {
  return bundledWorker();
}

export interface TestApp {
  app: App;
  dataDir: string;
  close(): Promise<void>;
}

/** An app with one worker and its own data dir, started and fully booted. */
export async function startApp(
  overrides: Partial<ServiceConfig> = {},
  opts: { example?: boolean; dataDir?: string } = {},
): Promise<TestApp> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const app = await buildApp({
    config: defaultConfig({ poolSize: 1, dataDir, maxEventLoopDelayMs: 0, engine: testEngine(), ...overrides }),
    exampleDir: opts.example ? exampleDir : null,
    ...withTestWorker(),
  });
  await app.ready();
  await app.landfall.boot.done;
  return {
    app,
    dataDir,
    async close() {
      await app.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `{workerFile}` for buildApp when the bundled test worker is available (spread into its options). */
export function withTestWorker(): { workerFile?: string } {
  const workerFile = testWorkerFile();
  return workerFile ? { workerFile } : {};
}

/** Uploads the fixture dump and returns its id. */
export async function upload(app: App): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/rulesets', payload: await nodeDump() });
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { id: string }).id;
}

export const webQuery = { protocol: 'tcp', destination: '10.96.100.1', port: 80, origin: 'pod' } as const;
