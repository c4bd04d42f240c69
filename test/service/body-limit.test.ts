// The default body limit admits a 20,000-service node (the README's own example, ~70 MB of
// iptables-save), generated here; one byte over the limit is a clear 413 problem+json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { DEFAULT_BODY_LIMIT } from '../../src/service/config.js';
import { startApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => t.close());

describe('default body limit', () => {
  it('is the default the app runs with', () => {
    expect(t.app.landfall.config.bodyLimit).toBe(DEFAULT_BODY_LIMIT);
  });

  it('accepts a generated 20,000-service dump as text/plain', { timeout: 240_000 }, async () => {
    const { text } = generateIptables({ services: 20_000, endpoints: 10 });
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeGreaterThan(60 * 1024 * 1024);
    // Headroom: the limit holds the dump more than twice over (a dual-stack node of this size fits).
    expect(DEFAULT_BODY_LIMIT).toBeGreaterThan(2 * bytes);
    const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: text, headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(201);
    expect(res.json().stats.rules).toBeGreaterThan(600_000);
  });

  it('refuses one byte over the limit with 413 problem+json', async () => {
    const over = Buffer.alloc(DEFAULT_BODY_LIMIT + 1, 0x61);
    const res = await t.app.inject({ method: 'POST', url: '/v1/rulesets', payload: over, headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 413, code: 'payload-too-large' });
  });
});
