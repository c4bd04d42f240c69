// /healthz and /readyz wait for startup; /metrics exposes request, pool, store and load series;
// under-pressure answers 503 + Retry-After when the event loop lags.
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/service/app.js';
import { defaultConfig } from '../../src/service/config.js';
import { startApp, upload, webQuery, withTestWorker } from './helpers.js';

describe('probes', () => {
  it('healthz says 200 once listening; readyz 503 until the workers and the example are loaded, then 200', async () => {
    const app = await buildApp({ config: defaultConfig({ poolSize: 1, maxEventLoopDelayMs: 0 }), ...withTestWorker() });
    try {
      await app.ready();
      // Booting needs a worker to start and import the library: not done within this tick.
      const live = await app.inject({ url: '/healthz' });
      expect(live.statusCode).toBe(200);
      const early = await app.inject({ url: '/readyz' });
      expect(early.statusCode).toBe(503);
      expect(early.headers['retry-after']).toBe('1');
      expect(early.json().code).toBe('not-ready');
      await app.landfall.boot.done;
      for (const url of ['/healthz', '/readyz']) {
        const res = await app.inject({ url });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ status: 'ok', workers: 1 });
      }
    } finally {
      await app.close();
    }
  });
});

describe('/metrics', () => {
  it('exposes request durations, pool, store and load series in Prometheus text', async () => {
    const t = await startApp();
    try {
      const id = await upload(t.app);
      await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
      const res = await t.app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.body;
      expect(text).toMatch(/# TYPE landfall_http_request_duration_seconds histogram/);
      expect(text).toMatch(
        /landfall_http_request_duration_seconds_count\{route="\/v1\/rulesets\/:id\/explain",method="POST",status="200"\} 1/,
      );
      expect(text).toMatch(/landfall_http_request_duration_seconds_count\{route="\/v1\/rulesets",method="POST",status="201"\} 1/);
      expect(text).toMatch(/landfall_ruleset_load_seconds_count\{phase="load"\} [1-9]/);
      expect(text).toMatch(/^landfall_pool_threads 1$/m);
      expect(text).toMatch(/^landfall_pool_queue_size 0$/m);
      expect(text).toMatch(/^landfall_rulesets_cached 1$/m);
      expect(text).toMatch(/^landfall_pool_tasks_completed_total [1-9]\d*$/m);
    } finally {
      await t.close();
    }
  });
});

describe('under pressure', () => {
  it('answers 503 + Retry-After while the event loop lags, then recovers', async () => {
    const t = await startApp({ maxEventLoopDelayMs: 20 });
    try {
      // under-pressure reports the MEAN loop delay over each 1 s sample, so lag the loop in 200 ms
      // chunks for 2.5 s: every sample window in that span is far over the 20 ms threshold.
      const end = Date.now() + 2500;
      while (Date.now() < end) {
        const chunk = Date.now() + 200;
        while (Date.now() < chunk);
        await new Promise((r) => setImmediate(r));
      }
      // Readiness (and every route) says 503 while the loop lags; liveness stays 200 (a lagging process is alive).
      expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
      const res = await t.app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json().code).toBe('under-pressure');
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        await new Promise((r) => setTimeout(r, 50));
        ok = (await t.app.inject({ url: '/readyz' })).statusCode === 200;
      }
      expect(ok).toBe(true);
    } finally {
      await t.close();
    }
  });
});
