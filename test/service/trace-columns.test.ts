// POST /v1/rulesets/{id}/trace with a binary columnar body: the same answers as the JSON form
// for the same packets and seed; a malformed body is 400, another media type 415.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnsOf, resultAt } from '../../src/engine/columns.js';
import { decodeResults, encodePackets, PACKETS_TYPE, RESULTS_TYPE } from '../../src/engine/columns-wire.js';
import type { Query } from '../../src/model/contracts.js';
import { startApp, upload, type TestApp } from './helpers.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  t = await startApp();
  id = await upload(t.app);
});
afterAll(async () => t.close());

describe('columnar trace over HTTP', () => {
  it('answers exactly like the JSON form', async () => {
    const svc = (await t.app.inject({ url: `/v1/rulesets/${id}/services` })).json().services as { clusterIP: string; port: number; protocol: 'tcp' | 'udp' }[];
    const packets: Query[] = [];
    for (let r = 0; r < 20; r++) {
      for (const s of svc) {
        packets.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', source: '10.244.1.9', sourcePort: 20000 + r });
        packets.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'external', source: '203.0.113.7', sourcePort: 21000 + r });
      }
    }
    packets.push({ protocol: 'icmp', destination: '8.8.8.8', origin: 'pod', source: '10.244.1.9' });
    const json = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/trace`, payload: { packets, seed: 42 } });
    expect(json.statusCode).toBe(200);
    const cols = columnsOf(packets);
    const bin = await t.app.inject({
      method: 'POST',
      url: `/v1/rulesets/${id}/trace`,
      payload: Buffer.from(encodePackets(cols, 42)),
      headers: { 'content-type': PACKETS_TYPE },
    });
    expect(bin.statusCode, bin.body.slice(0, 200)).toBe(200);
    expect(bin.headers['content-type']).toBe(RESULTS_TYPE);
    const res = decodeResults(bin.rawPayload);
    const got = packets.map((_, k) => resultAt(res, cols, k));
    expect(got).toEqual(json.json().results);
  });

  it('a malformed body is 400 naming the body; another media type is 415', async () => {
    const cols = columnsOf([{ protocol: 'tcp', destination: '10.96.0.1', port: 443, source: '10.244.1.9', origin: 'pod' }]);
    const good = Buffer.from(encodePackets(cols));
    const cut = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/trace`, payload: good.subarray(0, good.length - 4), headers: { 'content-type': PACKETS_TYPE } });
    expect(cut.statusCode).toBe(400);
    expect(cut.json()).toMatchObject({ code: 'invalid-field', field: 'body' });
    const badOrigin = Buffer.from(good);
    badOrigin[16 + 2] = 9; // origin of packet 0
    const bad = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/trace`, payload: badOrigin, headers: { 'content-type': PACKETS_TYPE } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/origin/);
    const other = await t.app.inject({ method: 'POST', url: `/v1/rulesets/${id}/trace`, payload: good, headers: { 'content-type': 'application/octet-stream' } });
    expect(other.statusCode).toBe(415);
  });
});
