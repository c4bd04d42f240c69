// Explain answers are cached by (content-hash id, canonical query): a repeat costs no worker
// task, key order does not matter, the byte budget holds, and a forgotten ruleset is not served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerCache } from '../../src/service/answer-cache.js';
import { canonicalJson } from '../../src/model/canonical-json.js';
import { startApp, upload, webQuery, type TestApp } from './helpers.js';

describe('AnswerCache', () => {
  it('keys queries canonically', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('evicts least recently used answers past its byte budget', () => {
    const x = (n: number) => Buffer.from('x'.repeat(n));
    // An entry costs its key in UTF-16 (2 bytes) plus its answer's bytes: 102 here.
    const c = new AnswerCache(3 * 110);
    c.set('a', x(100));
    c.set('b', x(100));
    expect(c.get('a')).toBeDefined();
    c.set('c', x(100));
    c.set('d', x(100)); // over budget: b (least recent) goes
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.memoryBytes).toBeLessThanOrEqual(3 * 110);
    // An answer bigger than the whole budget is not kept (and evicts nothing).
    const small = new AnswerCache(110);
    small.set('a', x(100));
    small.set('big', x(200));
    expect(small.get('big')).toBeUndefined();
    expect(small.get('a')).toBeDefined();
    const off = new AnswerCache(0);
    off.set('a', x(1));
    expect(off.get('a')).toBeUndefined();
  });

  it('keeps its own copy of an answer that is a view into a batch once it is asked again', () => {
    const batch = Buffer.from('{"a":1}{"b":2}');
    const c = new AnswerCache(1000);
    c.set('k', batch.subarray(7));
    const kept = c.get('k')!;
    expect(kept.toString()).toBe('{"b":2}');
    expect(kept.buffer.byteLength).toBe(7);
    expect(c.memoryBytes).toBe(2 + 7);
    // Copied once: later hits get that copy.
    expect(c.get('k')).toBe(kept);
  });
});

describe('explain answer cache in the app', () => {
  let t: TestApp;
  let id: string;
  beforeAll(async () => {
    t = await startApp();
    id = await upload(t.app);
  });
  afterAll(async () => t.close());

  it('answers a repeated query without a worker task, whatever the key order', async () => {
    const first = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    const tasks = t.app.landfall.pool.stats().completed;
    const reordered = Object.fromEntries(Object.entries(webQuery).reverse());
    const second = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: reordered });
    expect(second.statusCode).toBe(200);
    expect(second.body).toBe(first.body);
    expect(t.app.landfall.pool.stats().completed).toBe(tasks);
    // A different query is a miss and goes to a worker.
    await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: { ...webQuery, sourcePort: 1234 } });
    expect(t.app.landfall.pool.stats().completed).toBe(tasks + 1);
  });

  it('does not serve answers for a forgotten ruleset', async () => {
    await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/rulesets/${id}` })).statusCode).toBe(200);
    const res = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload: webQuery });
    expect(res.statusCode).toBe(404);
  });
});
