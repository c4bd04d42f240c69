import { describe, expect, it } from 'vitest';
import type { GeneratedService } from '../../src/kube/cluster.js';
import { generateIptables, renderIptables } from '../../src/kube/generate.js';
import { discoverServices } from '../../src/kube/services.js';
import type { Service } from '../../src/model/contracts.js';
import { rulesetOf } from './helpers.js';
import { UPSTREAM_RENDER, UPSTREAM_SERVICES } from './upstream-fixture.js';

const BUSY_MIX = { nodePort: 0.3, loadBalancer: 0.3, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0.15, affinity: 0.3, noEndpoints: 0.1, sourceRanges: 0.6 };

/**
 * What discovery must recover from the rules for a generated service. Services without any
 * endpoint have no nat rules, so their traffic policies, affinity and source ranges are not in
 * the dump, and kube-proxy writes their external and LB addresses alike.
 */
function expectMatchesTruth(found: Service | undefined, t: GeneratedService): void {
  expect(found, t.name).toBeDefined();
  const s = found as Service;
  expect({ name: s.name, namespace: s.namespace, protocol: s.protocol, clusterIP: s.clusterIP, port: s.port, status: s.status }).toEqual({
    name: t.name,
    namespace: t.namespace,
    protocol: t.protocol,
    clusterIP: t.clusterIP,
    port: t.port,
    status: t.status,
  });
  expect(s.nodePort, t.name).toBe(t.nodePort);
  expect(s.healthCheckNodePort, t.name).toBe(t.healthCheckNodePort);
  expect([...s.externalIPs, ...s.loadBalancerIPs].sort(), t.name).toEqual([...t.externalIPs, ...t.loadBalancerIPs].sort());
  if (t.status === 'no-endpoints') {
    expect(s.endpoints).toEqual([]);
    return;
  }
  expect(s.loadBalancerIPs, t.name).toEqual(t.loadBalancerIPs);
  expect(s.sourceRanges, t.name).toEqual(t.sourceRanges);
  expect(s.externalTrafficPolicy, t.name).toBe(t.externalTrafficPolicy);
  expect(s.internalTrafficPolicy, t.name).toBe(t.internalTrafficPolicy);

  // Endpoints: every endpoint this node's rules can reach, with the cluster-IP ladder's share.
  const itpLocal = t.internalTrafficPolicy === 'Local';
  const external = t.nodePort !== undefined || t.externalIPs.length > 0 || t.loadBalancerIPs.length > 0;
  const reachable = itpLocal && !external ? t.endpoints.filter((e) => e.local) : t.endpoints;
  // Affinity lives in the endpoint chains: with none reachable from this node it is not in the dump.
  expect(s.affinitySeconds, t.name).toBe(reachable.length > 0 ? t.affinitySeconds : undefined);
  const internal = itpLocal ? t.endpoints.filter((e) => e.local) : t.endpoints;
  expect(s.endpoints.map((e) => e.endpoint).sort(), t.name).toEqual(reachable.map((e) => e.endpoint).sort());
  for (const e of s.endpoints) {
    const truth = t.endpoints.find((x) => x.endpoint === e.endpoint)!;
    expect(e.local, `${t.name} ${e.endpoint}`).toBe(truth.local);
    const expected = internal.includes(truth) ? 1 / internal.length : 0;
    expect(Math.abs(e.probability - expected), `${t.name} ${e.endpoint}`).toBeLessThan(1e-9);
  }
}

describe('discoverServices', () => {
  it.each([
    ['save', 60, 3, 1],
    ['restore', 60, 3, 2],
    ['save', 400, 4, 3], // 1,600 endpoints: large-cluster mode, no per-endpoint comments
    ['restore', 400, 4, 4],
  ] as const)('recovers generated services (%s style, %i × %i, seed %i)', (style, n, m, seed) => {
    const d = generateIptables({ services: n, endpoints: m, seed, style, mix: BUSY_MIX });
    const found = discoverServices(rulesetOf([d.text], d.node));
    expect(found).toHaveLength(d.services.length);
    const byName = new Map(found.map((s) => [s.name, s]));
    for (const t of d.services) expectMatchesTruth(byName.get(t.name), t);
    // Sorted by name.
    expect(found.map((s) => s.name)).toEqual([...found.map((s) => s.name)].sort());
  });

  it('recovers upstream kube-proxy services', () => {
    const text = renderIptables(UPSTREAM_SERVICES, UPSTREAM_RENDER);
    const found = discoverServices(rulesetOf([text], { addresses: ['192.168.0.2'], podCIDRs: ['10.180.1.0/24'] }));
    expect(found.map((s) => s.name)).toEqual(UPSTREAM_SERVICES.map((s) => s.name));
    for (const t of UPSTREAM_SERVICES) expectMatchesTruth(found.find((s) => s.name === t.name), t);
    const svc4 = found.find((s) => s.name === 'ns4/svc4:p80')!;
    expect(svc4.endpoints).toEqual([
      { endpoint: '10.180.0.4:80', probability: 0.5, local: false },
      { endpoint: '10.180.0.5:80', probability: 0.5, local: false },
    ]);
  });

  it('finds services from the chain graph alone when a dump has no comments at all', () => {
    const d = generateIptables({ services: 40, endpoints: 3, seed: 8, mix: { ...BUSY_MIX, noEndpoints: 0, itpLocal: 0, externalIPs: 0 } });
    const bare = d.text.replace(/ -m comment --comment "[^"]*"/g, '');
    expect(bare).not.toContain('--comment');
    const found = discoverServices(rulesetOf([bare], d.node));
    for (const t of d.services) {
      const s = found.find((x) => x.clusterIP === t.clusterIP);
      expect(s, t.name).toBeDefined();
      expect(s!.name).toBe('');
      expect(s!.port).toBe(t.port);
      expect(s!.nodePort).toBe(t.nodePort);
      // Without comments an LB IP (without source ranges) and an external IP look alike.
      expect([...s!.externalIPs, ...s!.loadBalancerIPs].sort()).toEqual([...t.externalIPs, ...t.loadBalancerIPs].sort());
      if (t.sourceRanges.length > 0) expect(s!.loadBalancerIPs).toEqual(t.loadBalancerIPs);
      expect(s!.externalTrafficPolicy).toBe(t.externalTrafficPolicy);
      expect(s!.endpoints.map((e) => e.endpoint).sort()).toEqual(t.endpoints.map((e) => e.endpoint).sort());
      expect(s!.endpoints.reduce((a, e) => a + e.probability, 0)).toBeCloseTo(1, 9);
    }
  });

  it('reads the pre-1.24 shapes (KUBE-XLB, plain comments, masquerade rules in KUBE-SERVICES)', () => {
    const text = `# Generated by iptables-save v1.8.4 on Mon Jan 10 10:00:00 2022
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-DROP - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-2IRACUALRELARSND - [0:0]
:KUBE-XLB-2IRACUALRELARSND - [0:0]
:KUBE-FW-2IRACUALRELARSND - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/webapp" -m tcp --dport 30080 -j KUBE-XLB-2IRACUALRELARSND
-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.45.12/32 -p tcp -m comment --comment "default/webapp cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 10.96.45.12/32 -p tcp -m comment --comment "default/webapp cluster IP" -m tcp --dport 80 -j KUBE-SVC-2IRACUALRELARSND
-A KUBE-SERVICES -d 192.0.2.50/32 -p tcp -m comment --comment "default/webapp loadbalancer IP" -m tcp --dport 80 -j KUBE-FW-2IRACUALRELARSND
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-FW-2IRACUALRELARSND -m comment --comment "default/webapp loadbalancer IP" -s 198.51.100.0/24 -j KUBE-XLB-2IRACUALRELARSND
-A KUBE-FW-2IRACUALRELARSND -m comment --comment "default/webapp loadbalancer IP" -j KUBE-MARK-DROP
-A KUBE-SVC-2IRACUALRELARSND -m comment --comment "default/webapp" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-2IRACUALRELARSND -m comment --comment "default/webapp" -j KUBE-SEP-BBBBBBBBBBBBBBBB
-A KUBE-XLB-2IRACUALRELARSND -s 10.244.0.0/16 -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j KUBE-SVC-2IRACUALRELARSND
-A KUBE-XLB-2IRACUALRELARSND -m comment --comment "masquerade LOCAL traffic for default/webapp LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-XLB-2IRACUALRELARSND -m comment --comment "route LOCAL traffic for default/webapp LB IP to service chain" -m addrtype --src-type LOCAL -j KUBE-SVC-2IRACUALRELARSND
-A KUBE-XLB-2IRACUALRELARSND -m comment --comment "Balancing rule 0 for default/webapp" -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SEP-AAAAAAAAAAAAAAAA -s 10.244.0.5/32 -m comment --comment "default/webapp" -j KUBE-MARK-MASQ
-A KUBE-SEP-AAAAAAAAAAAAAAAA -p tcp -m comment --comment "default/webapp" -m tcp -j DNAT --to-destination 10.244.0.5:8080
-A KUBE-SEP-BBBBBBBBBBBBBBBB -s 10.244.1.7/32 -m comment --comment "default/webapp" -j KUBE-MARK-MASQ
-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m comment --comment "default/webapp" -m tcp -j DNAT --to-destination 10.244.1.7:8080
COMMIT
`;
    const [s] = discoverServices(rulesetOf([text]));
    expect(s).toEqual({
      name: 'default/webapp',
      namespace: 'default',
      protocol: 'tcp',
      clusterIP: '10.96.45.12',
      port: 80,
      nodePort: 30080,
      externalIPs: [],
      loadBalancerIPs: ['192.0.2.50'],
      sourceRanges: ['198.51.100.0/24'],
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Cluster',
      endpoints: [
        { endpoint: '10.244.0.5:8080', probability: 0.5, local: true },
        { endpoint: '10.244.1.7:8080', probability: 0.5 },
      ],
      status: 'ok',
    });
  });
});
