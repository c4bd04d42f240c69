// kube-proxy (iptables mode) shapes through the whole walk: statistic ladders with the kernel's
// thresholds, KUBE-MARK-MASQ + KUBE-POSTROUTING masquerade, DNAT then filter FORWARD, NodePorts
// via addrtype LOCAL, REJECT for services without endpoints, ESTABLISHED packets, affinity.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { ExplainResult, Query } from '../../src/model/contracts.js';
import { expectCasesSumToOne } from './cases.js';
import { buildRs, fixture } from './build.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };
const rs = buildRs(fixture('kube-basic.txt'), { node: NODE });
const engine = createReferenceEngine(rs);
const run = (q: Query): ExplainResult => explain(rs, engine, q);
const total = (r: ExplainResult): number => r.outcomes.reduce((s, o) => s + o.probability, 0);

describe('ClusterIP with three endpoints (0.33333333349 / 0.50000000000 / rest)', () => {
  const r = run({ protocol: 'tcp', destination: '10.96.100.1', port: 80, origin: 'pod', source: '10.244.3.3' });

  test('each endpoint gets 1/3 within 1e-9, in dump order, summing to 1', () => {
    expect(r.outcomes.map((o) => o.endpoint)).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.2.9:8080']);
    for (const o of r.outcomes) expect(Math.abs(o.probability - 1 / 3)).toBeLessThan(1e-9);
    // the kernel's exact thresholds: lround(p·2^31)/2^31
    expect(r.outcomes[0].probability).toBe(Math.round(0.33333333349 * 2 ** 31) / 2 ** 31);
    expect(Math.abs(total(r) - 1)).toBeLessThan(1e-12);
  });

  test('pod traffic is not masqueraded and keeps its source', () => {
    for (const o of r.outcomes) expect(o).toMatchObject({ verdict: 'accept', masquerade: false, source: '10.244.3.3', outInterface: 'cni0' });
  });

  test('the path goes PREROUTING → KUBE-SERVICES → KUBE-SVC → KUBE-SEP DNAT → filter FORWARD', () => {
    const p = r.outcomes[1].path.map((s) => `${s.table}/${s.chain}:${s.index ?? s.policy}`);
    expect(p).toEqual([
      'nat/PREROUTING:1',
      'nat/KUBE-SERVICES:2',
      'nat/KUBE-SVC-CDGGSHYLG3RE2FKL:3',
      'nat/KUBE-SEP-F7BHZ7WL3PFYMSRY:2',
      'filter/FORWARD:1', // → KUBE-FORWARD: no mark, not ESTABLISHED, falls back
      'filter/FORWARD:2', // → filter KUBE-SERVICES (NEW): nothing for this service
      'filter/FORWARD:3', // → KUBE-EXTERNAL-SERVICES (NEW): nothing
      'filter/FORWARD:4', // the pod-CIDR ACCEPT
      'nat/POSTROUTING:1',
      'nat/KUBE-POSTROUTING:1', // not marked: RETURN
      'nat/POSTROUTING:ACCEPT',
    ]);
    expect(r.outcomes[1].path[3]).toMatchObject({ line: 41, rule: expect.stringContaining('--to-destination 10.244.1.6:8080') });
  });
});

describe('masquerade', () => {
  test('from outside: KUBE-MARK-MASQ then KUBE-POSTROUTING MASQUERADE to the pods bridge address (cni0: the pod CIDR gateway)', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.100.1', port: 80 });
    expect(r.outcomes).toHaveLength(3);
    for (const o of r.outcomes) {
      expect(o).toMatchObject({ masquerade: true, source: '10.244.0.1', verdict: 'accept' });
      expect(o.path.at(-1)!.rule).toContain('-j MASQUERADE');
      // filter FORWARD accepted it because of the 0x4000 mark
      expect(o.path.some((s) => s.chain === 'KUBE-FORWARD' && s.rule.includes('--mark 0x4000/0x4000'))).toBe(true);
    }
  });

  test('hairpin: an endpoint reaching itself through the service is masqueraded', () => {
    const r = run({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod', source: '10.244.1.7' });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ endpoint: '10.244.1.7:53', masquerade: true, source: '10.244.0.1' });
  });

  test('MASQUERADE source: the gateway of the pod CIDR holding the destination; prefix pods interfaces keep the node address', () => {
    const two = buildRs(fixture('kube-basic.txt'), { node: { addresses: ['192.168.1.10'], podCIDRs: ['10.200.0.0/16', '10.244.0.0/16'] } });
    const o = explain(two, createReferenceEngine(two), { protocol: 'tcp', destination: '10.96.100.1', port: 80 }).outcomes;
    for (const x of o) expect(x.source).toBe('10.244.0.1');
    const veths = buildRs(fixture('kube-basic.txt'), { node: { ...NODE, interfaces: { uplink: 'eth0', pods: 'cali+' } } });
    const v = explain(veths, createReferenceEngine(veths), { protocol: 'tcp', destination: '10.96.100.1', port: 80 }).outcomes;
    for (const x of v) expect(x).toMatchObject({ masquerade: true, source: '192.168.1.10' });
  });
});

describe('NodePort and addrtype', () => {
  test('a NodePort on a node address reaches KUBE-NODEPORTS via addrtype --dst-type LOCAL', () => {
    const r = run({ protocol: 'tcp', destination: '192.168.1.10', port: 30080 });
    expect(r.outcomes.map((o) => o.endpoint).sort()).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.2.9:8080']);
    for (const o of r.outcomes) {
      expect(o.masquerade).toBe(true);
      expect(o.path.map((s) => s.chain)).toContain('KUBE-NODEPORTS');
    }
    expect(Math.abs(total(r) - 1)).toBeLessThan(1e-12);
  });

  test('the same port on an address that is not the node is not a NodePort', () => {
    const r = run({ protocol: 'tcp', destination: '192.168.1.11', port: 30080 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ endpoint: '192.168.1.11:30080', verdict: 'drop' }); // FORWARD policy DROP
  });

  test('without node addresses, whether the NodePort address is the node address is an assumption, with a warning', () => {
    const bare = buildRs(fixture('kube-basic.txt'));
    const r = explain(bare, createReferenceEngine(bare), { protocol: 'tcp', destination: '192.168.1.10', port: 30080 });
    const local = r.outcomes.filter((o) => o.assumes.some((a) => a.condition === '192.168.1.10 is a node address' && a.holds));
    const foreign = r.outcomes.filter((o) => o.assumes.some((a) => a.condition === '192.168.1.10 is a node address' && !a.holds));
    // the node's own address: a NodePort, DNATed to the service's endpoints (each case sums to 1)
    expect(local.length).toBeGreaterThan(0);
    expect(local.every((o) => o.endpoint !== '192.168.1.10:30080')).toBe(true);
    expectCasesSumToOne(r);
    // another host's address: forwarded untouched
    expect(foreign.map((o) => [o.endpoint, o.probability])).toEqual([['192.168.1.10:30080', 1]]);
    expect(r.warnings.join('\n')).toMatch(/node's addresses were not given.*node\.addresses.*ip -j addr/);
    expect(r.uncertain).toContainEqual(expect.objectContaining({ line: 0, table: 'routing' }));
  });

  test('a NodePort without endpoints is rejected by KUBE-EXTERNAL-SERVICES', () => {
    const r = run({ protocol: 'tcp', destination: '192.168.1.10', port: 30099 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'reject', rejectWith: 'icmp-port-unreachable', endpoint: '192.168.1.10:30099' });
  });

  test('a ClusterIP without endpoints is rejected in filter (FORWARD for pods, OUTPUT for the host)', () => {
    const fromPod = run({ protocol: 'tcp', destination: '10.96.50.50', port: 80, origin: 'pod' });
    expect(fromPod.outcomes[0]).toMatchObject({ verdict: 'reject' });
    expect(fromPod.outcomes[0].path.at(-1)).toMatchObject({ table: 'filter', chain: 'KUBE-SERVICES', index: 1 });
    const fromHost = run({ protocol: 'tcp', destination: '10.96.50.50', port: 80, origin: 'host' });
    expect(fromHost.outcomes[0]).toMatchObject({ verdict: 'reject', source: '192.168.1.10' });
  });
});

describe('conntrack state', () => {
  test('an ESTABLISHED packet skips nat: no DNAT, accepted by the conntrack rule', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.100.1', port: 80, state: 'ESTABLISHED' });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ endpoint: '10.96.100.1:80', masquerade: false, verdict: 'accept' });
    expect(r.outcomes[0].path.every((s) => s.table !== 'nat')).toBe(true);
    expect(r.outcomes[0].path.at(-1)!.rule).toContain('RELATED,ESTABLISHED -j ACCEPT');
  });

  test('INVALID is dropped by KUBE-FORWARD', () => {
    expect(run({ protocol: 'tcp', destination: '10.244.1.6', port: 8080, state: 'INVALID' }).outcomes[0].verdict).toBe('drop');
  });

  test('the DNAT ctstate bit: KUBE-FIREWALL lets a DNATed loopback packet through', () => {
    const rules = fixture('kube-basic.txt').replace(
      '-A KUBE-SERVICES -d 10.96.0.10/32',
      '-A KUBE-SERVICES -d 10.96.9.9/32 -p tcp -m tcp --dport 9 -j DNAT --to-destination 127.0.0.1:9\n-A KUBE-SERVICES -d 10.96.0.10/32',
    );
    const r2 = buildRs(rules, { node: NODE });
    const ok = explain(r2, createReferenceEngine(r2), { protocol: 'tcp', destination: '10.96.9.9', port: 9, origin: 'pod' });
    expect(ok.outcomes[0]).toMatchObject({ verdict: 'accept', endpoint: '127.0.0.1:9' });
    const martian = explain(r2, createReferenceEngine(r2), { protocol: 'tcp', destination: '127.0.0.1', port: 9, origin: 'pod' });
    expect(martian.outcomes[0].verdict).toBe('drop'); // block incoming localnet connections
    expect(martian.outcomes[0].path.at(-1)!.rule).toContain('block incoming localnet connections');
  });
});

describe('session affinity (recent)', () => {
  const sticky = buildRs(fixture('kube-affinity.txt'), { node: NODE });
  const e = createReferenceEngine(sticky);
  const q: Query = { protocol: 'tcp', destination: '10.96.7.7', port: 80, source: '10.244.9.9', origin: 'pod' };

  test('a first connection is spread 1/2 : 1/2', () => {
    const r = explain(sticky, e, q);
    expect(r.outcomes.map((o) => [o.endpoint, o.probability])).toEqual([
      ['10.244.0.5:8080', 0.5],
      ['10.244.1.6:8080', 0.5],
    ]);
  });

  test('a client in KUBE-SEP-B recently goes back to B with certainty', () => {
    const r = explain(sticky, e, { ...q, recent: [{ name: 'KUBE-SEP-B', address: '10.244.9.9', secondsAgo: 60 }] });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ endpoint: '10.244.1.6:8080', probability: 1 });
  });

  test('an entry older than --seconds, or for another client, does not count', () => {
    const old = explain(sticky, e, { ...q, recent: [{ name: 'KUBE-SEP-B', address: '10.244.9.9', secondsAgo: 10801 }] });
    expect(old.outcomes).toHaveLength(2);
    const other = explain(sticky, e, { ...q, recent: [{ name: 'KUBE-SEP-B', address: '10.244.9.8' }] });
    expect(other.outcomes).toHaveLength(2);
  });

  test('in trace, the first packet records its endpoint and later packets of the batch follow it', () => {
    const pkt = resolveQuery(q, sticky.node).pkt;
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 8; seed++) {
      const out = e.trace(Array.from({ length: 6 }, () => pkt), seed);
      expect(new Set(out.map((o) => o.dst.w[0])).size).toBe(1);
      firsts.add(out[0].dst.w[0]);
    }
    expect(firsts.size).toBe(2); // while the first choice itself is random
  });
});
