// The loader thread exits when idle; an upload starts it as soon as its body begins to arrive, so
// the thread imports the library while the rest of the body streams in (pool.prepareLoad).
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDump, startApp, type TestApp } from './helpers.js';

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startApp({ loaderIdleMs: 200 });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => t.close());

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** POSTs `body` over a real socket in two writes, calling `between` after the first. */
function twoPartUpload(body: string, contentType: string, between: () => Promise<void>): Promise<{ status: number; json: { id?: string } }> {
  const u = new URL(`${base}/v1/rulesets`);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { id?: string } }));
    });
    req.on('error', reject);
    const cut = Math.floor(body.length / 2);
    req.write(body.slice(0, cut));
    between().then(() => req.end(body.slice(cut)), reject);
  });
}

describe('the loader thread and uploads', () => {
  for (const kind of ['application/json', 'text/plain'] as const) {
    it(`starts while a ${kind} body is still arriving, and that start is not counted as a load`, async () => {
      const pool = t.app.landfall.pool;
      await until(() => pool.loaderThreads.length === 0, 'the loader exits when idle');
      const loads = pool.stats().loads;
      const dump = await nodeDump();
      const body = kind === 'text/plain' ? `${dump.iptables}\n# ${kind}\n` : JSON.stringify({ ...dump, iptables: `${dump.iptables}\n# ${kind}\n` });
      const res = await twoPartUpload(body, kind, async () => {
        // Half the body is in: the route has started the loader, and nothing was loaded yet.
        await until(() => pool.loaderThreads.length === 1, 'the loader starts');
        expect(pool.stats().loads).toBe(loads);
      });
      expect(res.status).toBe(201);
      expect(res.json.id).toMatch(/^[0-9a-f]{64}$/);
      expect(pool.stats().loads).toBe(loads + 1);
    });
  }
});
