// NAT targets: DNAT (address ranges as equal branches, ports), SNAT, MASQUERADE's source choice,
// REDIRECT, and that filter FORWARD sees the DNATed destination.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { ExplainResult, NodeInput, Query } from '../../src/model/contracts.js';
import { buildRs } from './build.js';

const NODE: NodeInput = { addresses: ['192.168.1.10', '192.168.1.11'], podCIDRs: ['10.244.0.0/16'] };

function dump(nat: { pre?: string[]; out?: string[]; post?: string[] }, filterForward: string[] = []): string {
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...(nat.pre ?? []).map((r) => `-A PREROUTING ${r}`),
    ...(nat.out ?? []).map((r) => `-A OUTPUT ${r}`),
    ...(nat.post ?? []).map((r) => `-A POSTROUTING ${r}`),
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...filterForward.map((r) => `-A FORWARD ${r}`),
    'COMMIT',
    '',
  ].join('\n');
}

function run(text: string, q: Query, node: NodeInput = NODE): ExplainResult {
  const rs = buildRs(text, { node });
  return explain(rs, createReferenceEngine(rs), q);
}

const EXT: Query = { protocol: 'tcp', destination: '203.0.113.80', port: 80 };

describe('DNAT', () => {
  test('address and port; filter FORWARD sees the new destination', () => {
    const text = dump({ pre: ['-d 203.0.113.80/32 -p tcp -j DNAT --to-destination 10.244.1.5:8080'] }, ['-d 10.244.1.5/32 -p tcp -m tcp --dport 8080 -j DROP']);
    const r = run(text, EXT);
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'drop', endpoint: '10.244.1.5:8080', masquerade: false });
    expect(r.outcomes[0].path.map((s) => s.chain)).toEqual(['PREROUTING', 'FORWARD']);
  });

  test('DNAT to a node address turns the packet toward INPUT', () => {
    const text = dump({ pre: ['-p tcp -j DNAT --to-destination 192.168.1.11'] }, ['-j DROP']);
    const r = run(text, EXT);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'accept', endpoint: '192.168.1.11:80' });
    expect(r.outcomes[0].outInterface).toBeUndefined();
  });

  test('an address range of n addresses is n equal branches, lowest first', () => {
    const r = run(dump({ pre: ['-p tcp -j DNAT --to-destination 10.244.1.5-10.244.1.7'] }), EXT);
    expect(r.outcomes.map((o) => o.endpoint)).toEqual(['10.244.1.5:80', '10.244.1.6:80', '10.244.1.7:80']);
    for (const o of r.outcomes) expect(o.probability).toBeCloseTo(1 / 3, 12);
  });

  test('a range larger than 256 addresses follows the first, uncertain', () => {
    const r = run(dump({ pre: ['-p tcp -j DNAT --to-destination 10.244.0.1-10.244.9.255'] }), EXT);
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0].endpoint).toBe('10.244.0.1:80');
    expect(r.uncertain[0].reason).toMatch(/range/);
  });

  test('a port range keeps the original port inside it, else its low end (with a note)', () => {
    expect(run(dump({ pre: ['-p tcp -j DNAT --to-destination 10.244.1.5:70-90'] }), EXT).outcomes[0].endpoint).toBe('10.244.1.5:80');
    const r = run(dump({ pre: ['-p tcp -j DNAT --to-destination 10.244.1.5:1000-2000'] }), EXT);
    expect(r.outcomes[0].endpoint).toBe('10.244.1.5:1000');
    expect(r.outcomes[0].notes?.join()).toMatch(/outside/);
  });

  test('host packets are DNATed in nat OUTPUT and rerouted', () => {
    const r = run(dump({ out: ['-d 10.96.0.1/32 -p tcp -j DNAT --to-destination 192.168.1.11:6443'] }), { protocol: 'tcp', destination: '10.96.0.1', port: 443, origin: 'host' });
    expect(r.outcomes[0]).toMatchObject({ endpoint: '192.168.1.11:6443', source: '192.168.1.10', verdict: 'accept' });
    expect(r.outcomes[0].outInterface).toBeUndefined(); // delivered locally via lo
  });
});

describe('source NAT', () => {
  test('SNAT rewrites the source and counts as masquerade', () => {
    const r = run(dump({ post: ['-s 10.244.0.0/16 ! -d 10.0.0.0/8 -j SNAT --to-source 192.168.1.11'] }), {
      protocol: 'udp',
      destination: '1.1.1.1',
      port: 53,
      origin: 'pod',
    });
    expect(r.query.source).toBe('10.244.0.2'); // default pod source: network + 2
    expect(r.outcomes[0]).toMatchObject({ source: '192.168.1.11', masquerade: true, outInterface: 'eth0', endpoint: '1.1.1.1:53' });
  });

  test('MASQUERADE picks the first node address of the family', () => {
    const r = run(dump({ post: ['-o eth0 -j MASQUERADE'] }), { protocol: 'tcp', destination: '1.1.1.1', port: 443, origin: 'pod' });
    expect(r.outcomes[0]).toMatchObject({ source: '192.168.1.10', masquerade: true });
  });

  test('MASQUERADE with no node address keeps the source and warns', () => {
    const r = run(dump({ post: ['-j MASQUERADE'] }), { protocol: 'tcp', destination: '1.1.1.1', port: 443, source: '10.244.0.9' }, {});
    // is 1.1.1.1 the node's? unknown without node addresses: forwarded (masqueraded) only if not
    expect(r.outcomes.map((o) => [o.source, o.masquerade, o.assumes.map((a) => `${a.condition}=${a.holds}`)])).toEqual([
      ['10.244.0.9', false, ['1.1.1.1 is a node address=true']],
      ['10.244.0.9', true, ['1.1.1.1 is a node address=false']],
    ]);
    expect(r.warnings.join()).toMatch(/no IPv4 node address/);
  });

  test('a masqueraded walk is a different outcome from an unmasqueraded one', () => {
    const r = run(dump({ post: ['-m statistic --mode random --probability 0.25 -j MASQUERADE'] }), { protocol: 'tcp', destination: '1.1.1.1', port: 443 });
    expect(r.outcomes.map((o) => [o.masquerade, o.source, o.probability])).toEqual([
      [false, '203.0.113.10', 0.75],
      [true, '192.168.1.10', 0.25],
    ]);
  });
});

describe('REDIRECT', () => {
  test('in OUTPUT to loopback, in PREROUTING to the node address', () => {
    const text = dump({ pre: ['-p tcp --dport 80 -j REDIRECT --to-ports 15001'], out: ['-p tcp --dport 80 -j REDIRECT --to-ports 15001'] });
    expect(run(text, EXT).outcomes[0].endpoint).toBe('192.168.1.10:15001');
    expect(run(text, { ...EXT, origin: 'host' }).outcomes[0].endpoint).toBe('127.0.0.1:15001');
  });
});
