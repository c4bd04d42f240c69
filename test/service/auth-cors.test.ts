// LANDFALL_TOKEN guards /v1 (401 without it), probes stay open; CORS headers only when configured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, webQuery, type TestApp } from './helpers.js';

describe('bearer token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ token: 's3cret' });
  });
  afterAll(async () => t.close());

  it('answers 401 problem+json on /v1 without the right token', async () => {
    for (const authorization of [undefined, 'Bearer wrong', 'Basic czNjcmV0', 'Bearer s3cret2']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/explain',
        payload: { ruleset: { iptables: '' }, query: webQuery },
        headers: authorization ? { authorization } : {},
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json().code).toBe('unauthorized');
    }
  });

  it('lets the right token through, and leaves probes and docs open', async () => {
    const res = await t.app.inject({ url: `/v1/rulesets/${'0'.repeat(64)}`, headers: { authorization: 'Bearer s3cret' } });
    expect(res.statusCode).toBe(404);
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
  });
});

describe('CORS', () => {
  it('is off by default', async () => {
    const t = await startApp();
    try {
      const res = await t.app.inject({ url: '/healthz', headers: { origin: 'https://dash.example' } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await t.app.inject({ method: 'OPTIONS', url: '/v1/explain', headers: { origin: 'https://dash.example' } });
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('answers preflights and sets the origin when LANDFALL_CORS_ORIGIN is set', async () => {
    const t = await startApp({ corsOrigin: 'https://dash.example', token: 'tok' });
    try {
      const pre = await t.app.inject({
        method: 'OPTIONS',
        url: '/v1/explain',
        headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' },
      });
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('https://dash.example');
      expect(pre.headers['access-control-allow-headers']).toMatch(/authorization/);
      const res = await t.app.inject({ url: '/healthz', headers: { origin: 'https://dash.example' } });
      expect(res.headers['access-control-allow-origin']).toBe('https://dash.example');
    } finally {
      await t.close();
    }
  });
});
