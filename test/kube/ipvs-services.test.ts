import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAddr, parseCidr } from '../../src/model/addr.js';
import type { NodeContext } from '../../src/model/ruleset.js';
import { discoverIpvsServices } from '../../src/kube/ipvs-services.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { parseIpsets } from '../../src/parse/ipset.js';

const node: NodeContext = {
  addresses: [parseAddr('192.168.0.10')!],
  podCIDRs: [parseCidr('10.244.0.0/24')!],
  uplink: { name: 'eth0', prefix: false },
  pods: { name: 'cni0', prefix: false },
  addressesKnown: true,
  localRanges: [],
};
const ex = (f: string) => readFileSync(new URL(`../../examples/ipvs-node/${f}`, import.meta.url), 'utf8');

describe('discoverIpvsServices on the example node', () => {
  const services = discoverIpvsServices({ ipvs: parseIpvs(ex('ipvs.txt')), ipsets: parseIpsets(ex('ipsets.txt')), node });
  const by = (ip: string, proto: string, port: number) => services.find((s) => s.clusterIP === ip && s.protocol === proto && s.port === port)!;
  it('one service per cluster IP port, nothing left over', () => {
    expect(services).toHaveLength(8);
    expect(services.every((s) => s.clusterIP !== '')).toBe(true);
  });
  it('DNS: rr shares and locality of endpoints', () => {
    expect(by('10.96.0.10', 'udp', 53).endpoints).toEqual([
      { endpoint: '10.244.0.5:53', probability: 0.5, local: true },
      { endpoint: '10.244.1.7:53', probability: 0.5, local: false },
    ]);
  });
  it('NodePort with eTP=Local attaches to its cluster IP through the local real server', () => {
    expect(by('10.96.12.34', 'tcp', 80)).toMatchObject({ nodePort: 30080, externalTrafficPolicy: 'Local', status: 'ok' });
  });
  it('LoadBalancer: LB IP, node port, source ranges, affinity', () => {
    expect(by('10.96.45.6', 'tcp', 443)).toMatchObject({
      nodePort: 31443, loadBalancerIPs: ['198.18.0.10'], sourceRanges: ['203.0.113.0/24'], affinitySeconds: 10800, externalTrafficPolicy: 'Cluster',
    });
  });
  it('external IP and a service without endpoints', () => {
    expect(by('10.96.88.8', 'tcp', 3000).externalIPs).toEqual(['198.19.0.5']);
    expect(by('10.96.77.7', 'tcp', 80)).toMatchObject({ status: 'no-endpoints', endpoints: [] });
  });
});

describe('discoverIpvsServices against the generator truth', () => {
  const g = generateIpvs({ services: 300, endpoints: 3, seed: 11, mix: { nodePort: 0.3, loadBalancer: 0.2, externalIPs: 0.1, etpLocal: 0.4, itpLocal: 0, noEndpoints: 0.05, sourceRanges: 0.5, affinity: 0.2 } });
  const found = discoverIpvsServices({ ipvs: parseIpvs(g.ipvs), ipsets: parseIpsets(g.ipsets), node: { ...node, addresses: g.node.addresses.map((a) => parseAddr(a)!) } });
  it('every cluster IP is found with its endpoints and affinity', () => {
    for (const s of g.services) {
      const f = found.find((x) => x.clusterIP === s.clusterIP && x.port === s.port && x.protocol === s.protocol);
      expect(f, s.name).toBeDefined();
      expect(f!.endpoints.map((e) => e.endpoint)).toEqual(s.endpoints.map((e) => e.endpoint));
      expect(f!.affinitySeconds).toBe(s.affinitySeconds);
    }
  });
  it('external addresses attach to the right cluster IP when the endpoints identify it', () => {
    let checked = 0;
    for (const s of g.services) {
      if (s.nodePort === undefined || s.protocol === 'sctp') continue;
      const mine = s.externalTrafficPolicy === 'Local' ? s.endpoints.filter((e) => e.local) : s.endpoints;
      if (mine.length === 0) continue;
      const key = (eps: { endpoint: string }[]) => eps.map((e) => e.endpoint).sort().join(' ');
      const twins = g.services.filter((o) => o !== s && o.protocol === s.protocol && o.endpoints.some((e) => mine.some((m) => m.endpoint === e.endpoint)));
      if (twins.length > 0 && s.externalTrafficPolicy === 'Local') continue;
      if (twins.some((o) => key(o.endpoints) === key(s.endpoints))) continue;
      const f = found.find((x) => x.clusterIP === s.clusterIP && x.port === s.port && x.protocol === s.protocol)!;
      expect(f.nodePort, s.name).toBe(s.nodePort);
      expect(f.loadBalancerIPs).toEqual(s.loadBalancerIPs);
      expect(f.externalTrafficPolicy).toBe(s.externalTrafficPolicy);
      expect([...f.sourceRanges].sort()).toEqual([...s.sourceRanges].sort());
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });
  it('a Local-policy virtual server without local endpoints is reported, not lost', () => {
    const lonely = g.services.filter((s) => s.nodePort !== undefined && s.protocol !== 'sctp' && s.externalTrafficPolicy === 'Local' && s.status === 'no-local-endpoints');
    expect(lonely.length).toBeGreaterThan(3);
    for (const s of lonely) expect(found.some((f) => f.nodePort === s.nodePort && f.status === 'no-local-endpoints'), s.name).toBe(true);
  });
});
