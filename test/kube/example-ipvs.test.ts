// The bundled IPVS-mode example node, end to end through the library: kube-proxy's IPVS-mode
// rules + virtual servers + ipsets answer where Service traffic lands.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadRuleset } from '../../src/ruleset.js';
import type { Query } from '../../src/model/contracts.js';

const ex = (f: string) => readFileSync(new URL(`../../examples/ipvs-node/${f}`, import.meta.url), 'utf8');
const bundle = { iptables: ex('iptables.txt'), ipvs: ex('ipvs.txt'), ipsets: ex('ipsets.txt'), node: JSON.parse(ex('node.json')) };

describe.each(['reference', 'wasm'] as const)('examples/ipvs-node (%s engine)', (engine) => {
  const rs = loadRuleset(bundle, { engine });
  const land = (q: Query) => rs.explain(q).outcomes.map((o) => [o.probability, o.verdict, o.endpoint, o.masquerade]);

  it('DNS from a pod: rr over both CoreDNS pods, no masquerade', () => {
    expect(land({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' })).toEqual([
      [0.5, 'accept', '10.244.0.5:53', false],
      [0.5, 'accept', '10.244.1.7:53', false],
    ]);
  });
  it('hairpin: a pod reaching itself through the service is masqueraded (KUBE-LOOP-BACK)', () => {
    expect(land({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod', source: '10.244.0.5' })).toEqual([
      [0.5, 'accept', '10.244.0.5:53', true],
      [0.5, 'accept', '10.244.1.7:53', false],
    ]);
  });
  it('NodePort with externalTrafficPolicy Local: only the local pod, client source kept', () => {
    expect(land({ protocol: 'tcp', destination: '192.168.0.10', port: 30080 })).toEqual([[1, 'accept', '10.244.0.12:8080', false]]);
  });
  it('LoadBalancer with source ranges: allowed client masqueraded to both pods, others dropped', () => {
    expect(land({ protocol: 'tcp', destination: '198.18.0.10', port: 443, source: '203.0.113.10' })).toEqual([
      [0.5, 'accept', '10.244.1.20:8443', true],
      [0.5, 'accept', '10.244.3.4:8443', true],
    ]);
    expect(land({ protocol: 'tcp', destination: '198.18.0.10', port: 443, source: '198.51.100.1' })).toEqual([[1, 'drop', '198.18.0.10:443', false]]);
  });
  it('no endpoints: IPVS refuses; a VIP port without a service: KUBE-IPVS-FILTER rejects', () => {
    expect(land({ protocol: 'tcp', destination: '10.96.77.7', port: 80, origin: 'pod' })).toEqual([[1, 'reject', '10.96.77.7:80', false]]);
    expect(land({ protocol: 'tcp', destination: '10.96.0.10', port: 80, origin: 'pod' })).toEqual([[1, 'reject', '10.96.0.10:80', false]]);
  });
});
