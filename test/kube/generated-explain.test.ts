// The generator's truth against the walk: for every generated service, where a new connection to
// its cluster IP (from a pod) and to its node port (from outside) lands — endpoints, shares,
// masquerade, verdict — must follow from the service's definition alone.

import { describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import type { GeneratedService } from '../../src/kube/generate.js';
import type { Outcome } from '../../src/model/contracts.js';
import { cidrContains, parseAddr, parseCidr } from '../../src/model/addr.js';
import { loadRuleset } from '../../src/ruleset.js';

const BUSY_MIX = { nodePort: 0.4, loadBalancer: 0.2, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0.2, affinity: 0.3, noEndpoints: 0.1, sourceRanges: 0.5 };

function landings(outcomes: Outcome[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of outcomes) m.set(o.endpoint, (m.get(o.endpoint) ?? 0) + o.probability);
  return m;
}

function expectUniform(outcomes: Outcome[], endpoints: GeneratedService['endpoints'], label: string): void {
  expect(outcomes.every((o) => o.verdict === 'accept'), label).toBe(true);
  const got = landings(outcomes);
  expect([...got.keys()].sort(), label).toEqual(endpoints.map((e) => e.endpoint).sort());
  for (const p of got.values()) expect(Math.abs(p - 1 / endpoints.length), label).toBeLessThan(1e-9);
}

describe('generated dumps walk as their services say', () => {
  const d = generateIptables({ services: 60, endpoints: 3, seed: 23, mix: BUSY_MIX });
  const rs = loadRuleset({ iptables: d.text, node: d.node }, { engine: 'reference' });

  it('covers the interesting kinds', () => {
    const kinds = new Set(d.services.map((s) => `${s.status}/${s.internalTrafficPolicy}/${s.externalTrafficPolicy}`));
    expect(kinds).toContain('ok/Cluster/Cluster');
    expect(kinds).toContain('no-endpoints/Cluster/Cluster');
    expect([...kinds].some((k) => k.startsWith('no-local-endpoints'))).toBe(true);
    expect([...kinds].some((k) => k.startsWith('ok/') && k.endsWith('/Local'))).toBe(true);
  });

  it('a pod reaching each cluster IP', () => {
    for (const s of d.services) {
      const taken = new Set(s.endpoints.map((e) => e.ip));
      let host = 2;
      while (taken.has(`10.244.0.${host}`)) host++;
      const r = rs.explain({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', source: `10.244.0.${host}` });
      const label = `${s.name} ${s.clusterIP}:${s.port}/${s.protocol}`;
      const local = s.endpoints.filter((e) => e.local);
      if (s.endpoints.length === 0) {
        expect(r.outcomes.map((o) => o.verdict), label).toEqual(['reject']);
      } else if (s.internalTrafficPolicy === 'Local' && local.length === 0) {
        expect(r.outcomes.map((o) => o.verdict), label).toEqual(['drop']);
      } else {
        expectUniform(r.outcomes, s.internalTrafficPolicy === 'Local' ? local : s.endpoints, label);
        // Pod sources are inside the cluster CIDR: no masquerade.
        expect(r.outcomes.some((o) => o.masquerade), label).toBe(false);
      }
    }
  });

  it('an outside client reaching each node port, load-balancer IP and external IP', () => {
    const client = '203.0.113.10';
    const targets = d.services.flatMap((s) => [
      ...(s.nodePort !== undefined ? [{ s, ip: d.node.addresses[0], port: s.nodePort, lb: false }] : []),
      ...s.loadBalancerIPs.map((ip) => ({ s, ip, port: s.port, lb: true })),
      ...s.externalIPs.map((ip) => ({ s, ip, port: s.port, lb: false })),
    ]);
    expect(targets.filter((t) => t.lb && t.s.sourceRanges.length > 0).length).toBeGreaterThan(0);
    for (const { s, ip, port, lb } of targets) {
      const r = rs.explain({ protocol: s.protocol, destination: ip, port, origin: 'external', source: client });
      const label = `${s.name} ${ip}:${port}/${s.protocol} eTP=${s.externalTrafficPolicy} ranges=${s.sourceRanges}`;
      const local = s.endpoints.filter((e) => e.local);
      // loadBalancerSourceRanges apply to LB IPs only; the node port stays open to everyone.
      const fenced = lb && s.endpoints.length > 0 && s.sourceRanges.length > 0 && !s.sourceRanges.some((c) => cidrContains(parseCidr(c)!, parseAddr(client)!));
      if (fenced) {
        expect(r.outcomes.map((o) => o.verdict), label).toEqual(['drop']);
      } else if (s.endpoints.length === 0) {
        expect(r.outcomes.map((o) => o.verdict), label).toEqual(['reject']);
      } else if (s.externalTrafficPolicy === 'Cluster') {
        expectUniform(r.outcomes, s.endpoints, label);
        expect(r.outcomes.every((o) => o.masquerade), label).toBe(true);
      } else if (local.length > 0) {
        expectUniform(r.outcomes, local, label);
        // eTP=Local keeps the client's address.
        expect(r.outcomes.some((o) => o.masquerade), label).toBe(false);
      } else {
        expect(r.outcomes.map((o) => o.verdict), label).toEqual(['drop']);
      }
    }
  });
});
