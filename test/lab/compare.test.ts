import { describe, expect, it } from 'vitest';
import { canonicalEndpoint, compareOutcomes } from '../../src/lab/compare.js';
import { summarize } from '../../src/lab/summary.js';
import type { ProbeRecord } from '../../src/lab/protocol.js';

const landed = (local: string, masq = false): ProbeRecord => ({
  kind: 'landed',
  local,
  peer: masq ? '10.244.0.1:5000' : '203.0.113.10:40000',
  client: '203.0.113.10:40000',
  us: 100,
});
const many = (n: number, r: ProbeRecord): ProbeRecord[] => Array.from({ length: n }, () => r);

describe('compareOutcomes', () => {
  const third = [
    { probability: 1 / 3, verdict: 'accept' as const, endpoint: '10.244.1.5:8080', masquerade: true },
    { probability: 1 / 3, verdict: 'accept' as const, endpoint: '10.244.1.6:8080', masquerade: true },
    { probability: 1 / 3, verdict: 'accept' as const, endpoint: '10.244.1.7:8080', masquerade: true },
  ];

  it('accepts a plausible sample', () => {
    const s = summarize([...many(95, landed('10.244.1.5:8080', true)), ...many(110, landed('10.244.1.6:8080', true)), ...many(95, landed('10.244.1.7:8080', true))]);
    const c = compareOutcomes(third, s);
    expect(c.problems).toEqual([]);
    expect(c.chiSquare?.df).toBe(2);
  });

  it('reports a skewed sample, a missing endpoint, a surprise and a masquerade mismatch', () => {
    const s = summarize([...many(200, landed('10.244.1.5:8080', true)), ...many(90, landed('10.244.1.6:8080', true)), ...many(10, landed('10.244.1.6:8080', false))]);
    const c = compareOutcomes(third, s);
    expect(c.ok).toBe(false);
    expect(c.problems.join('\n')).toMatch(/10\.244\.1\.6:8080 \(10×\); predicted: never/);
    expect(c.problems.join('\n')).toMatch(/predicted: accept 10\.244\.1\.7:8080 masquerade .*kernel: never/);
    expect(c.problems.join('\n')).toMatch(/frequencies differ/);
  });

  it('tells drop from reject and reports lab errors', () => {
    const s = summarize([...many(5, { kind: 'timeout', us: 1e6 }), { kind: 'error', code: 'EADDRNOTAVAIL', message: 'bind', us: 1 }]);
    const c = compareOutcomes([{ probability: 1, verdict: 'reject', endpoint: '10.96.0.1:80', masquerade: false }], s);
    expect(c.problems).toEqual([expect.stringMatching(/failed in the lab: EADDRNOTAVAIL/), "kernel: drop (5×); predicted: never"]);
    expect(compareOutcomes([{ probability: 1, verdict: 'drop', endpoint: '10.96.0.1:80', masquerade: false }], summarize(many(5, { kind: 'blocked', code: 'EPERM', us: 1 }))).ok).toBe(true);
  });

  it('spells IPv6 endpoints one way', () => {
    expect(canonicalEndpoint('[FD00:0:0::5]:80')).toBe('[fd00::5]:80');
    expect(canonicalEndpoint('10.0.0.1:80')).toBe('10.0.0.1:80');
  });
});

describe('compareOutcomes sources', () => {
  const predicted = [{ probability: 1, verdict: 'accept' as const, endpoint: '10.244.1.5:8080', masquerade: false, source: '203.0.113.10' }];
  it('checks that an unmasqueraded source arrives untouched', () => {
    expect(compareOutcomes(predicted, summarize(many(5, landed('10.244.1.5:8080')))).ok).toBe(true);
    const other = summarize(many(5, { kind: 'landed', local: '10.244.1.5:8080', peer: '203.0.113.11:40000', client: '203.0.113.11:40000', us: 1 }));
    expect(compareOutcomes(predicted, other).problems).toEqual(['accept 10.244.1.5:8080: kernel source 203.0.113.11; predicted 203.0.113.10']);
  });
  it('checks the masquerade address only when asked', () => {
    const masq = [{ ...predicted[0], masquerade: true, source: '192.168.0.2' }];
    const seen = summarize(many(5, landed('10.244.1.5:8080', true)));
    expect(compareOutcomes(masq, seen).ok).toBe(true);
    expect(compareOutcomes(masq, seen, { checkSource: 'all' }).problems).toEqual(['accept 10.244.1.5:8080 masquerade: kernel source 10.244.0.1; predicted 192.168.0.2']);
  });
});
