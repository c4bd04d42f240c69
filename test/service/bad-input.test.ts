// The bad-input battery: every hostile or broken request gets a clear 4xx problem+json (never a
// stack), and the server keeps serving afterwards.
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { nodeDump, startApp, upload, webQuery, type TestApp } from './helpers.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  // The default configuration: LANDFALL_BODY_LIMIT 256 MiB (DEFAULT_BODY_LIMIT).
  t = await startApp();
  id = await upload(t.app);
});
afterAll(async () => t.close());

// After every hostile request the same server must still answer a normal one — a fresh query
// each time, so the answer comes from a worker and not from the answer cache.
let probe = 0;
afterEach(async () => {
  const payload = { ...webQuery, sourcePort: 30000 + probe++ };
  const res = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/explain`, payload });
  expect(res.statusCode).toBe(200);
});

function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = res.json();
  expect(p).toMatchObject({ status, code, type: `urn:landfall:problem:${code}` });
  expect(typeof p.title).toBe('string');
  expect(typeof p.detail).toBe('string');
  expect(res.body).not.toMatch(/\n\s+at /); // no stack trace, ever
  return p;
}

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, payload: payload as string, headers });

describe('bad dumps', () => {
  it('a truncated dump is 422 with line and column', async () => {
    const { iptables } = await nodeDump();
    const lines = iptables.split('\n');
    // Cut mid-rule: the last line is a half-written "-A … --to-destination" with no COMMIT after.
    const cut = lines.slice(0, 40).join('\n') + '\n-A KUBE-SEP-WEB1 -p tcp -m tcp -j DNAT --to-destina';
    const p = expectProblem(await post('/v1/rulesets', { iptables: cut }), 422, 'parse-error');
    expect(p.line).toBeGreaterThanOrEqual(40);
    expect(p.line).toBeLessThanOrEqual(41);
    expect(p.column).toBeGreaterThan(0);
    expect(p.source).toBe('iptables');
  });

  it('garbage bytes are 422 with a line, whether text/plain or inside JSON', async () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const p1 = expectProblem(await post('/v1/rulesets', garbage, { 'content-type': 'text/plain' }), 422, 'parse-error');
    expect(p1.line).toBeGreaterThanOrEqual(1);
    const p2 = expectProblem(await post('/v1/rulesets', { iptables: '\u0000\u0001*nat\n:FOO' }), 422, 'parse-error');
    expect(p2.line).toBeGreaterThanOrEqual(1);
  });

  it('a body over the configured limit (64 MiB here) is 413, as text/plain or JSON', async () => {
    const small = await startApp({ bodyLimit: 64 * 1024 * 1024 });
    const post = (url: string, payload: Buffer, headers: Record<string, string>) => small.app.inject({ method: 'POST', url, payload, headers });
    onTestFinished(() => small.close());
    const big = Buffer.alloc(100 * 1024 * 1024, 0x61);
    expectProblem(await post('/v1/rulesets', big, { 'content-type': 'text/plain' }), 413, 'payload-too-large');
    const json = Buffer.concat([Buffer.from('{"iptables":"'), big, Buffer.from('"}')]);
    expectProblem(await post('/v1/rulesets', json, { 'content-type': 'application/json' }), 413, 'payload-too-large');
    expectProblem(await post('/v1/explain', json, { 'content-type': 'application/json' }), 413, 'payload-too-large');
  });

  it('an unknown table and a chain loop are 422 with the line', async () => {
    const unknown = expectProblem(await post('/v1/rulesets', { iptables: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*bogus\nCOMMIT\n' }), 422, 'parse-error');
    expect(unknown.line).toBe(4);
    const loop = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':A - [0:0]',
      ':B - [0:0]',
      '-A INPUT -j A',
      '-A A -j B',
      '-A B -j A',
      'COMMIT',
      '',
    ].join('\n');
    const p = expectProblem(await post('/v1/rulesets', { iptables: loop }), 422, 'parse-error');
    expect(p.line).toBeGreaterThanOrEqual(5);
    expect(p.line).toBeLessThanOrEqual(7);
  });
});

describe('path explosion', () => {
  it('is 422 naming the cap', async () => {
    const small = await startApp({ maxPaths: 2 });
    try {
      const up = await small.app.inject({ method: 'POST', url: '/v1/rulesets', payload: await nodeDump() });
      const res = await small.app.inject({ method: 'POST', url: `/v1/rulesets/${up.json().id}/explain`, payload: webQuery });
      const p = expectProblem(res, 422, 'path-explosion');
      expect(p.maxPaths).toBe(2);
    } finally {
      await small.close();
    }
  });
});

describe('bad requests', () => {
  it('deeply nested JSON is a 400, not a crash', async () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const p = await post(`/v1/rulesets/${id}/explain`, deep, { 'content-type': 'application/json' });
    expect(p.statusCode).toBe(400);
    expect(p.json().status).toBe(400);
    const deepObj = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    expect((await post('/v1/rulesets', deepObj, { 'content-type': 'application/json' })).statusCode).toBe(400);
  });

  it('malformed JSON is 400 invalid-json', async () => {
    expectProblem(await post(`/v1/rulesets/${id}/explain`, '{"protocol": "tcp",', { 'content-type': 'application/json' }), 400, 'invalid-json');
  });

  it('wrong types are 400 naming the field', async () => {
    const p1 = expectProblem(await post(`/v1/rulesets/${id}/explain`, { ...webQuery, port: '80' }), 400, 'bad-request');
    expect(p1.field).toBe('body/port');
    const p2 = expectProblem(await post(`/v1/rulesets/${id}/explain`, { destination: '10.0.0.1' }), 400, 'bad-request');
    expect(p2.field).toBe('body/protocol');
    const p3 = expectProblem(await post(`/v1/rulesets/${id}/explain`, { ...webQuery, colour: 'red' }), 400, 'bad-request');
    expect(p3.field).toBe('body/colour');
    const p4 = expectProblem(await post('/v1/rulesets', { iptables: 42 }), 400, 'bad-request');
    expect(p4.field).toBe('body/iptables');
    const p5 = expectProblem(
      await post(`/v1/rulesets/${id}/trace`, { packets: [webQuery, { ...webQuery, protocol: 'gre' }] }),
      400,
      'bad-request',
    );
    expect(p5.field).toBe('body/packets/1/protocol');
  });

  it('a malformed address is 400 naming the field', async () => {
    const p1 = expectProblem(await post(`/v1/rulesets/${id}/explain`, { ...webQuery, destination: '10.96.100.300' }), 400, 'invalid-field');
    expect(p1.field).toBe('body/destination');
    const p2 = expectProblem(
      await post('/v1/explain', { ruleset: await nodeDump(), query: { ...webQuery, source: 'not-an-ip' } }),
      400,
      'invalid-field',
    );
    expect(p2.field).toBe('body/query/source');
    const dump = await nodeDump();
    const p3 = expectProblem(
      await post('/v1/rulesets', { ...dump, node: { ...dump.node, podCIDRs: ['10.244.0.0/33'] } }),
      400,
      'invalid-field',
    );
    expect(p3.field).toBe('body/node/podCIDRs/0');
  });

  it('an unknown well-formed id is 404; a malformed id is 400 and never reaches the disk', async () => {
    expectProblem(await t.app.inject({ url: `/v1/rulesets/${'0'.repeat(64)}` }), 404, 'ruleset-not-found');
    expectProblem(await post(`/v1/rulesets/${'a'.repeat(64)}/explain`, webQuery), 404, 'ruleset-not-found');
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'EXAMPLE', 'A'.repeat(64), '0'.repeat(63)]) {
      const p = expectProblem(await t.app.inject({ url: `/v1/rulesets/${bad}` }), 400, 'bad-request');
      expect(p.field).toBe('params/id');
    }
  });

  it('an unsupported media type is 415', async () => {
    expectProblem(await post('/v1/rulesets', Buffer.from('abc'), { 'content-type': 'application/octet-stream' }), 415, 'unsupported-media-type');
    expectProblem(await post(`/v1/rulesets/${id}/explain`, 'tcp 10.96.100.1', { 'content-type': 'text/plain' }), 415, 'unsupported-media-type');
    expectProblem(await post('/v1/rulesets', '<x/>', { 'content-type': 'application/xml' }), 415, 'unsupported-media-type');
  });

  it('an unknown route is a 404 problem', async () => {
    expectProblem(await t.app.inject({ url: '/v2/nothing' }), 404, 'route-not-found');
  });
});
