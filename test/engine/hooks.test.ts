// Hook order per origin (SEMANTICS.md "Hooks, per origin"): every built-in chain of every table
// holds one target-less rule, which matches and lands in the path, so the path IS the hook order.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs, fixture } from './build.js';

const rs = buildRs(fixture('hooks.txt'), { node: { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] } });
const engine = createReferenceEngine(rs);

function hooksWalked(q: Query): string[] {
  const r = explain(rs, engine, q);
  expect(r.outcomes).toHaveLength(1);
  return r.outcomes[0].path.filter((s) => s.policy === undefined).map((s) => `${s.table} ${s.chain}`);
}

const FORWARDED = ['mangle FORWARD', 'filter FORWARD', 'security FORWARD', 'mangle POSTROUTING', 'nat POSTROUTING'];
const ARRIVE = ['raw PREROUTING', 'mangle PREROUTING', 'nat PREROUTING'];
const LOCAL_IN = ['mangle INPUT', 'filter INPUT', 'security INPUT', 'nat INPUT'];
const HOST_OUT = ['raw OUTPUT', 'mangle OUTPUT', 'nat OUTPUT', 'filter OUTPUT', 'security OUTPUT', 'mangle POSTROUTING', 'nat POSTROUTING'];
const LOOPBACK_IN = ['raw PREROUTING', 'mangle PREROUTING', 'mangle INPUT', 'filter INPUT', 'security INPUT'];

describe('hook order per origin', () => {
  test.each<[string, Query, string[], string | undefined]>([
    ['external, forwarded', { protocol: 'tcp', destination: '10.244.1.5', port: 80 }, [...ARRIVE, ...FORWARDED], 'cni0'],
    ['external, to the node', { protocol: 'tcp', destination: '192.168.1.10', port: 22 }, [...ARRIVE, ...LOCAL_IN], undefined],
    ['pod, to the internet', { protocol: 'udp', destination: '8.8.8.8', port: 53, origin: 'pod' }, [...ARRIVE, ...FORWARDED], 'eth0'],
    ['pod, to the node', { protocol: 'tcp', destination: '192.168.1.10', port: 10250, origin: 'pod' }, [...ARRIVE, ...LOCAL_IN], undefined],
    ['host, to a pod', { protocol: 'tcp', destination: '10.244.1.5', port: 80, origin: 'host' }, HOST_OUT, 'cni0'],
    ['host, to itself (back in on lo, nat not consulted)', { protocol: 'tcp', destination: '192.168.1.10', port: 80, origin: 'host' }, [...HOST_OUT, ...LOOPBACK_IN], undefined],
    ['host, to loopback', { protocol: 'tcp', destination: '127.0.0.1', port: 80, origin: 'host' }, [...HOST_OUT, ...LOOPBACK_IN], undefined],
  ])('%s', (_name, q, hooks, out) => {
    expect(hooksWalked(q)).toEqual(hooks);
    expect(explain(rs, engine, q).outcomes[0].outInterface).toBe(out);
  });

  test('non-NEW packets skip every nat chain', () => {
    expect(hooksWalked({ protocol: 'tcp', destination: '10.244.1.5', port: 80, state: 'ESTABLISHED' })).toEqual([
      'raw PREROUTING',
      'mangle PREROUTING',
      ...FORWARDED.filter((h) => !h.startsWith('nat')),
    ]);
    expect(hooksWalked({ protocol: 'tcp', destination: '10.244.1.5', port: 80, state: 'ESTABLISHED', origin: 'host' })).toEqual(
      HOST_OUT.filter((h) => !h.startsWith('nat')),
    );
  });

  test('each built-in chain ends in its policy step, with the :CHAIN line', () => {
    const r = explain(rs, engine, { protocol: 'tcp', destination: '10.244.1.5', port: 80 });
    const policies = r.outcomes[0].path.filter((s) => s.policy !== undefined);
    expect(policies).toHaveLength(8);
    expect(policies[0]).toEqual({ family: 'ip', table: 'raw', chain: 'PREROUTING', line: 2, rule: ':PREROUTING ACCEPT', policy: 'ACCEPT' });
    // one rule per chain walked, so the kernel evaluates exactly 8 rules
    expect(r.outcomes[0].rulesEvaluated).toBe(8);
  });

  test('a table absent from the dump is skipped', () => {
    const only = buildRs('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', { node: { addresses: ['192.168.1.10'] } });
    const r = explain(only, createReferenceEngine(only), { protocol: 'tcp', destination: '10.0.0.1', port: 80 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'drop', rulesEvaluated: 0 });
    expect(r.outcomes[0].path).toEqual([{ family: 'ip', table: 'filter', chain: 'FORWARD', line: 3, rule: ':FORWARD DROP', policy: 'DROP' }]);
  });

  test('a martian (outside → loopback) is warned about', () => {
    const r = explain(rs, engine, { protocol: 'tcp', destination: '127.0.0.1', port: 10249 });
    expect(r.warnings.join('\n')).toMatch(/martian/);
  });
});
