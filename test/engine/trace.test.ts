// trace: one sampled walk per packet from one seeded stream; deterministic by seed, distributed
// like explain says, with nth counters and recent lists kept across the batch.

import { describe, expect, test } from 'vitest';
import { explain, traceAll } from '../../src/engine/explain.js';
import { QueryError } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs, fixture } from './build.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };
const rs = buildRs(fixture('kube-basic.txt'), { node: NODE });
const engine = createReferenceEngine(rs);
const WEB: Query = { protocol: 'tcp', destination: '10.96.100.1', port: 80 };

describe('trace', () => {
  test('the same seed gives the same answers; another seed another sequence', () => {
    const qs = Array.from({ length: 50 }, () => WEB);
    const a = traceAll(rs, engine, qs, 42);
    expect(traceAll(rs, engine, qs, 42)).toEqual(a);
    expect(traceAll(rs, engine, qs, 43).map((t) => t.endpoint)).not.toEqual(a.map((t) => t.endpoint));
  });

  test('a trace result is one outcome without probability/path, with rulesEvaluated', () => {
    const [t] = traceAll(rs, engine, [{ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' }], 1);
    const e = explain(rs, engine, { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' }).outcomes[0];
    expect(t).toEqual({ verdict: e.verdict, endpoint: e.endpoint, masquerade: e.masquerade, source: e.source, rulesEvaluated: e.rulesEvaluated });
  });

  test('sampled frequencies match explain within a chi-square bound', () => {
    const n = 30_000;
    const counts = new Map<string, number>();
    for (const t of traceAll(rs, engine, Array.from({ length: n }, () => WEB), 7)) counts.set(t.endpoint, (counts.get(t.endpoint) ?? 0) + 1);
    const outcomes = explain(rs, engine, WEB).outcomes;
    let chi2 = 0;
    for (const o of outcomes) {
      const expected = o.probability * n;
      chi2 += ((counts.get(o.endpoint) ?? 0) - expected) ** 2 / expected;
    }
    expect(counts.size).toBe(outcomes.length);
    expect(chi2).toBeLessThan(13.8); // 2 degrees of freedom, p = 0.001
  });

  test('uncertain decisions are drawn half/half too', () => {
    const u = buildRs('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m time --timestart 09:00 -j DROP\nCOMMIT\n', { node: NODE });
    const out = traceAll(u, createReferenceEngine(u), Array.from({ length: 4000 }, () => WEB), 3);
    const drops = out.filter((t) => t.verdict === 'drop').length;
    expect(Math.abs(drops / 4000 - 0.5)).toBeLessThan(0.04);
  });

  test('nth keeps a real counter per rule across the batch', () => {
    const nth = buildRs('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m statistic --mode nth --every 3 --packet 1 -j DROP\nCOMMIT\n', { node: NODE });
    const out = traceAll(nth, createReferenceEngine(nth), Array.from({ length: 7 }, () => WEB), 9);
    expect(out.map((t) => t.verdict)).toEqual(['accept', 'drop', 'accept', 'accept', 'drop', 'accept', 'accept']);
  });

  test('a bad packet names its index', () => {
    expect(() => traceAll(rs, engine, [WEB, { ...WEB, destination: '10.96.100.300' }], 1)).toThrow(QueryError);
    expect(() => traceAll(rs, engine, [WEB, { ...WEB, destination: '10.96.100.300' }], 1)).toThrow(/^packets\[1\]\.destination/);
  });
});
