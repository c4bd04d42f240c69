// Generated IPVS-mode nodes, explained: the generator's truth (which endpoints each address of a
// service reaches, and whether the client is masqueraded) must be what explain finds walking the
// generated iptables rules, ipsets and virtual servers — for both engines.
import { describe, expect, it } from 'vitest';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { loadRuleset } from '../../src/ruleset.js';
import type { Query } from '../../src/model/contracts.js';

const g = generateIpvs({
  services: 60,
  endpoints: 3,
  seed: 5,
  mix: { nodePort: 0.4, loadBalancer: 0.2, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0, affinity: 0.1, noEndpoints: 0.1, sourceRanges: 0 },
});

describe.each(['reference', 'wasm'] as const)('generated IPVS node explained (%s engine)', (engine) => {
  const rs = loadRuleset({ iptables: g.iptables, ipvs: g.ipvs, ipsets: g.ipsets, node: g.node }, { engine });
  const outcomes = (q: Query) => rs.explain(q).outcomes;

  it('cluster IP from a pod: every endpoint with an equal share (rr), masqueraded only on hairpin; none → reject', () => {
    let hairpins = 0;
    for (const s of g.services) {
      const r = rs.explain({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' });
      const o = r.outcomes;
      if (s.endpoints.length === 0) {
        expect(o.map((x) => x.verdict), s.name).toEqual(['reject']);
        continue;
      }
      expect(o.map((x) => x.endpoint).sort(), s.name).toEqual(s.endpoints.map((e) => e.endpoint).sort());
      for (const x of o) {
        expect(x.probability).toBeCloseTo(1 / s.endpoints.length, 9);
        // KUBE-LOOP-BACK: a pod reaching itself through the service is masqueraded.
        const hairpin = x.endpoint.startsWith(`${r.query.source}:`);
        if (hairpin) hairpins++;
        expect(x.masquerade, `${s.name} ${x.endpoint}`).toBe(hairpin);
      }
    }
    expect(hairpins).toBeGreaterThan(0);
  });

  it('NodePort from outside: eTP=Cluster reaches all endpoints masqueraded, eTP=Local only local ones with the client source kept', () => {
    let checked = 0;
    for (const s of g.services) {
      if (s.nodePort === undefined || s.protocol === 'sctp') continue;
      const o = outcomes({ protocol: s.protocol, destination: g.node.addresses[0], port: s.nodePort, origin: 'external' });
      const local = s.externalTrafficPolicy === 'Local';
      const reach = local ? s.endpoints.filter((e) => e.local) : s.endpoints;
      if (reach.length === 0) {
        expect(o.map((x) => x.verdict), s.name).toEqual(['reject']);
        continue;
      }
      expect(o.map((x) => x.endpoint).sort(), s.name).toEqual(reach.map((e) => e.endpoint).sort());
      for (const x of o) expect(x.masquerade, s.name).toBe(!local);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });
});
