// IPVS mode: scheduling at LOCAL_IN (packets from elsewhere) and after nat OUTPUT (host packets),
// the IPVS path step, -m ipvs seeing the scheduled service, and rejection without real servers.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Query } from '../../src/model/contracts.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { buildRs, fixture } from './build.js';

const ipvs = parseIpvs(fixture('ipvs-mode.ipvs'));
const rs = buildRs(fixture('ipvs-mode.txt'), { node: { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] }, ipvs });
const engine = createReferenceEngine(rs);
const run = (q: Query) => explain(rs, engine, q);

describe('IPVS', () => {
  test('virtual addresses count as node-local', () => {
    expect(rs.node.addresses.length).toBe(5);
  });

  test('from outside: INPUT, then IPVS schedules rr over both real servers, then LOCAL_OUT and masquerade', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.1', port: 443 });
    expect(r.outcomes.map((o) => [o.endpoint, o.probability, o.masquerade, o.source])).toEqual([
      ['192.168.1.20:6443', 0.5, true, '192.168.1.10'],
      ['192.168.1.21:6443', 0.5, true, '192.168.1.10'],
    ]);
    const path = r.outcomes[0].path;
    const ipvsStep = path.find((s) => s.ipvs !== undefined)!;
    expect(ipvsStep).toMatchObject({ table: 'ipvs', line: 2, ipvs: '192.168.1.20:6443' });
    // after IPVS: filter OUTPUT (LOCAL_OUT) sees an IPVS-handled packet, nat OUTPUT is not walked
    const after = path.slice(path.indexOf(ipvsStep) + 1).map((s) => `${s.table}/${s.chain}`);
    expect(after).toEqual(['filter/OUTPUT', 'filter/KUBE-IPVS-OUT-FILTER', 'nat/POSTROUTING', 'nat/KUBE-POSTROUTING', 'nat/KUBE-POSTROUTING']);
    expect(r.outcomes[0].outInterface).toBe('eth0');
  });

  test('from a pod: not masqueraded, lands on the pod', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.99', port: 80, origin: 'pod' });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ endpoint: '10.244.1.9:8080', masquerade: false, verdict: 'accept', outInterface: 'cni0' });
  });

  test('from the host: scheduled right after nat OUTPUT, so -m ipvs in filter OUTPUT matches the virtual service', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.99', port: 80, origin: 'host' });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'drop', endpoint: '10.244.1.9:8080' });
    expect(r.outcomes[0].path.at(-1)!.rule).toContain('--vaddr 10.96.0.99/32');
  });

  test('a virtual service without real servers rejects', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.50', port: 80 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'reject', rejectWith: 'icmp-port-unreachable', endpoint: '10.96.0.50:80' });
    expect(r.outcomes[0].path.at(-1)).toMatchObject({ table: 'ipvs', ipvs: 'no real server', line: 6 });
  });

  test('gate (direct routing): the header keeps the virtual address, the real server is the endpoint, and it leaves', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.60', port: 80 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'accept', endpoint: '10.244.3.3:80', outInterface: 'cni0' });
    expect(r.outcomes[0].notes?.join()).toMatch(/gate forwarding: the packet keeps destination 10\.96\.0\.60/);
  });

  test('a port without a virtual service is just delivered to the node', () => {
    const r = run({ protocol: 'tcp', destination: '10.96.0.1', port: 80 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'accept', endpoint: '10.96.0.1:80' });
    expect(r.outcomes[0].path.some((s) => s.ipvs !== undefined)).toBe(false);
  });
});
