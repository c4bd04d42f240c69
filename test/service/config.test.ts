// LANDFALL_WORKER_FILE: the pool worker module a server process runs (the test suite points its
// bundled server entry at the bundled worker; see test/support/worker-bundle.ts), and the default.
import { describe, expect, it } from 'vitest';
import { fakeWorkerFile } from '../helpers/bundled.js';
import { buildApp } from '../../src/service/app.js';
import { configFromEnv, defaultConfig } from '../../src/service/config.js';

// Answers an explain with {threadId, destination, port} instead of a real answer (see the file).
// Bundled once per run (test/support/worker-bundle.ts): no tsx loader in each worker thread.
const fake = fakeWorkerFile();

describe('LANDFALL_WORKER_FILE', () => {
  it('is resolved against the working directory; unset, the worker beside the pool', () => {
    expect(configFromEnv({ LANDFALL_WORKER_FILE: 'build/worker.mjs' }, '/srv/landfall').workerFile).toBe('/srv/landfall/build/worker.mjs');
    expect(configFromEnv({ LANDFALL_WORKER_FILE: '/opt/w.mjs' }, '/srv').workerFile).toBe('/opt/w.mjs');
    expect(configFromEnv({}, '/srv').workerFile).toBeNull();
    expect(configFromEnv({ LANDFALL_WORKER_FILE: '' }, '/srv').workerFile).toBeNull();
  });

  it('is the module the app\'s pool runs', async () => {
    const app = await buildApp({ config: defaultConfig({ poolSize: 1, preloadExample: false, workerFile: fake, maxEventLoopDelayMs: 0 }), exampleDir: null });
    try {
      await app.ready();
      await app.landfall.boot.done;
      // A one-shot explain goes to a worker as is; the fake's answer is not a real explain answer.
      const res = await app.inject({
        method: 'POST',
        url: '/v1/explain',
        payload: { ruleset: { iptables: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' }, query: { protocol: 'tcp', destination: '10.1.2.3', port: 8080 } },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ threadId: expect.any(Number), destination: '10.1.2.3', port: 8080 });
    } finally {
      await app.close();
    }
  });

  it('unset: worker.ts beside the pool, through tsx from src/ (the rest of the suite runs the bundle)', async () => {
    const app = await buildApp({ config: defaultConfig({ poolSize: 1, preloadExample: false, maxEventLoopDelayMs: 0 }), exampleDir: null });
    try {
      await app.ready();
      await app.landfall.boot.done;
      const iptables = '*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n';
      const res = await app.inject({ method: 'POST', url: '/v1/explain', payload: { ruleset: { iptables, node: { addresses: ['10.1.2.3'] } }, query: { protocol: 'tcp', destination: '10.1.2.3', port: 22 } } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ outcomes: { verdict: string }[] }>().outcomes.map((o) => o.verdict)).toEqual(['accept']);
    } finally {
      await app.close();
    }
  }, 60_000);
});
