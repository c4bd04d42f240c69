import { describe, expect, it } from 'vitest';
import { formatEndpoint, parseAddr, type Addr } from '../../src/model/addr.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { parseIpsets } from '../../src/parse/ipset.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import { findVirtualService } from '../../src/engine/ipvs-schedule.js';
import { setMatch, type SetPacket } from '../../src/engine/ipset-match.js';

const A = (s: string): Addr => parseAddr(s)!;
const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
const MIX = { nodePort: 0.3, loadBalancer: 0.2, externalIPs: 0.2, etpLocal: 0.5, itpLocal: 0.1, affinity: 0.2, noEndpoints: 0.1, sourceRanges: 0.5 };

function pkt(dst: string, proto: number, dport: number, src = '203.0.113.10'): SetPacket {
  return { family: 4, proto, src: A(src), dst: A(dst), sport: 40000, dport, inIface: { name: 'eth0', prefix: false }, outIface: null };
}

describe('generateIpvs', () => {
  const g = generateIpvs({ services: 200, endpoints: 3, seed: 7, mix: MIX });
  const ipvs = parseIpvs(g.ipvs);
  const sets = parseIpsets(g.ipsets);
  const ipt = parseIptablesSave(g.iptables);

  it('is deterministic by seed', () => {
    const again = generateIpvs({ services: 200, endpoints: 3, seed: 7, mix: MIX });
    expect([again.iptables, again.ipvs, again.ipsets]).toEqual([g.iptables, g.ipvs, g.ipsets]);
    expect(generateIpvs({ services: 200, endpoints: 3, seed: 8, mix: MIX }).ipvs).not.toBe(g.ipvs);
  });

  it('all three dumps parse', () => {
    expect(ipvs.services.length).toBe(g.virtualServers.length);
    expect(sets.sets.size).toBe(17);
    expect(ipt.v4?.tables.get('nat')?.chains.get('KUBE-SERVICES')?.rules.length).toBeGreaterThan(3);
    expect(ipt.warnings).toEqual([]);
  });

  it('every set the iptables rules match exists in the ipset dump', () => {
    const referenced = new Set<string>();
    for (const t of ipt.v4!.tables.values()) for (const c of t.chains.values()) for (const r of c.rules) for (const m of r.matches) if (m.kind === 'set') referenced.add(m.name);
    expect(referenced.size).toBeGreaterThan(5);
    for (const name of referenced) expect(sets.sets.has(name), name).toBe(true);
  });

  it('cluster IPs: a virtual server with the right real servers, in KUBE-CLUSTER-IP and KUBE-IPVS-IPS', () => {
    for (const s of g.services) {
      const i = findVirtualService(ipvs, { family: 4, proto: PROTO[s.protocol], dst: A(s.clusterIP), dport: s.port, mark: 0 });
      expect(i, s.name).toBeGreaterThanOrEqual(0);
      const want = (s.internalTrafficPolicy === 'Local' ? s.endpoints.filter((e) => e.local) : s.endpoints).map((e) => e.endpoint);
      expect(ipvs.services[i].reals.map((r) => formatEndpoint(r.addr, r.port)), s.name).toEqual(want);
      expect(ipvs.services[i].reals.every((r) => r.forward === 'masq' && r.weight === 1)).toBe(true);
      expect(ipvs.services[i].persistent).toBe(s.affinitySeconds);
      expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt(s.clusterIP, PROTO[s.protocol], s.port))).toBe(true);
      expect(setMatch(sets, 'KUBE-IPVS-IPS', ['dst'], pkt(s.clusterIP, 6, 1))).toBe(true);
    }
  });

  it('services without endpoints keep their virtual servers, with no real server', () => {
    const empty = g.services.filter((s) => s.endpoints.length === 0);
    expect(empty.length).toBeGreaterThan(0);
    for (const s of empty) {
      const i = findVirtualService(ipvs, { family: 4, proto: PROTO[s.protocol], dst: A(s.clusterIP), dport: s.port, mark: 0 });
      expect(ipvs.services[i].reals).toEqual([]);
    }
  });

  it('NodePorts: node-IP virtual servers, eTP=Local keeps only local endpoints, port sets filled', () => {
    const nps = g.services.filter((s) => s.nodePort !== undefined && s.protocol !== 'sctp');
    expect(nps.some((s) => s.externalTrafficPolicy === 'Local')).toBe(true);
    for (const s of nps) {
      const i = findVirtualService(ipvs, { family: 4, proto: PROTO[s.protocol], dst: A('192.168.0.10'), dport: s.nodePort!, mark: 0 });
      const local = s.externalTrafficPolicy === 'Local';
      const want = (local ? s.endpoints.filter((e) => e.local) : s.endpoints).map((e) => e.endpoint);
      expect(ipvs.services[i].reals.map((r) => formatEndpoint(r.addr, r.port))).toEqual(want);
      const P = s.protocol.toUpperCase();
      const p = pkt('192.168.0.10', PROTO[s.protocol], s.nodePort!);
      expect(setMatch(sets, `KUBE-NODE-PORT-${P}`, ['dst'], p)).toBe(true);
      expect(setMatch(sets, `KUBE-NODE-PORT-LOCAL-${P}`, ['dst'], p)).toBe(local);
    }
  });

  it('LoadBalancers: LB sets, local set for eTP=Local, source ranges as hash:ip,port,net', () => {
    const lbs = g.services.filter((s) => s.loadBalancerIPs.length > 0);
    expect(lbs.some((s) => s.sourceRanges.length > 0)).toBe(true);
    for (const s of lbs) {
      const ip = s.loadBalancerIPs[0];
      const p = pkt(ip, PROTO[s.protocol], s.port);
      expect(setMatch(sets, 'KUBE-LOAD-BALANCER', ['dst', 'dst'], p)).toBe(true);
      expect(setMatch(sets, 'KUBE-LOAD-BALANCER-LOCAL', ['dst', 'dst'], p)).toBe(s.externalTrafficPolicy === 'Local');
      expect(setMatch(sets, 'KUBE-LOAD-BALANCER-FW', ['dst', 'dst'], p)).toBe(s.sourceRanges.length > 0);
      for (const r of s.sourceRanges) {
        const inside = r.split('/')[0].replace(/\.0$/, '.1');
        expect(setMatch(sets, 'KUBE-LOAD-BALANCER-SOURCE-CIDR', ['dst', 'dst', 'src'], pkt(ip, PROTO[s.protocol], s.port, inside))).toBe(true);
      }
      expect(findVirtualService(ipvs, { family: 4, proto: PROTO[s.protocol], dst: A(ip), dport: s.port, mark: 0 })).toBeGreaterThanOrEqual(0);
    }
  });

  it('hairpin: every local endpoint is in KUBE-LOOP-BACK as ip,proto:port,ip', () => {
    const s = g.services.find((x) => x.endpoints.some((e) => e.local))!;
    const e = s.endpoints.find((x) => x.local)!;
    const p = pkt(e.ip, PROTO[s.protocol], e.port, e.ip);
    expect(setMatch(sets, 'KUBE-LOOP-BACK', ['dst', 'dst', 'src'], p)).toBe(true);
    expect(setMatch(sets, 'KUBE-LOOP-BACK', ['dst', 'dst', 'src'], { ...p, src: A('10.244.0.250') })).toBe(false);
  });

  it('the node context lists the kube-ipvs0 addresses as local', () => {
    expect(g.node.addresses[0]).toBe('192.168.0.10');
    for (const s of g.services) expect(g.node.addresses).toContain(s.clusterIP);
  });

  it('scales to 20,000 services', () => {
    const t0 = performance.now();
    const big = generateIpvs({ services: 20000, endpoints: 5, seed: 1 });
    const ms = performance.now() - t0;
    expect(big.virtualServers.length).toBeGreaterThanOrEqual(20000);
    // The iptables side does not grow with services in IPVS mode.
    expect(big.iptables.split('\n').length).toBeLessThan(80);
    expect(ms).toBeLessThan(20000);
  });
});
