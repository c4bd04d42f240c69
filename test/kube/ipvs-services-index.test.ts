// IPVS-mode discovery looks node addresses up in a set built once (every VIP is a node address on
// kube-ipvs0, so there are as many as services) and keeps lists of services per endpoint set and
// per endpoint in place. Hand-made virtual servers pin what those must answer.
import { describe, expect, it } from 'vitest';
import { parseAddr, parseCidr } from '../../src/model/addr.js';
import type { NodeContext } from '../../src/model/ruleset.js';
import { discoverIpvsServices } from '../../src/kube/ipvs-services.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { parseIpsets } from '../../src/parse/ipset.js';

function nodeWith(addresses: string[]): NodeContext {
  return {
    addresses: addresses.map((a) => parseAddr(a)!),
    podCIDRs: [parseCidr('10.244.0.0/24')!],
    uplink: { name: 'eth0', prefix: false },
    pods: { name: 'cni0', prefix: false },
    addressesKnown: true,
    localRanges: [],
  };
}

const vs = (vip: string, port: number, reals: string[]): string[] => [
  `-A -t ${vip}:${port} -s rr`,
  ...reals.map((r) => `-a -t ${vip}:${port} -r ${r} -m -w 1`),
];

describe('IPVS discovery lookups', () => {
  it('endpoint locality: pod CIDR, one of many node addresses (host network), IPv6 and IPv4 kept apart', () => {
    const vips = Array.from({ length: 300 }, (_, i) => `10.96.${i >> 8}.${i & 255}`);
    const ipvs = parseIpvs(
      [
        ...vs('10.96.9.1', 80, ['10.244.0.5:8080', '192.168.0.10:8080', '10.244.1.6:8080', '192.168.0.11:8080']),
        ...vs('[fd00::1]', 80, ['[fd00:10::a]:8080', '[::c0a8:a]:8080']),
      ].join('\n'),
    );
    const node = nodeWith(['192.168.0.10', 'fd00:10::a', ...vips]);
    const services = discoverIpvsServices({ ipvs, ipsets: { sets: new Map(), supplied: false }, node });
    const v4 = services.find((s) => s.clusterIP === '10.96.9.1')!;
    expect(v4.endpoints.map((e) => [e.endpoint, e.local])).toEqual([
      ['10.244.0.5:8080', true],
      ['192.168.0.10:8080', true],
      ['10.244.1.6:8080', false],
      ['192.168.0.11:8080', false],
    ]);
    const v6 = services.find((s) => s.clusterIP === 'fd00::1')!;
    expect(v6.endpoints.map((e) => [e.endpoint, e.local])).toEqual([
      ['[fd00:10::a]:8080', true],
      ['[::c0a8:a]:8080', false], // same low word as 192.168.0.10, another family
    ]);
  });

  it('many cluster IPs sharing endpoints: a NodePort with the exact set of one attaches to it, an ambiguous one stands alone', () => {
    const shared = ['10.244.1.1:80', '10.244.1.2:80'];
    const lines: string[] = [];
    for (let i = 0; i < 50; i++) lines.push(...vs(`10.96.1.${i}`, 80, i === 7 ? [...shared, '10.244.1.3:80'] : shared));
    lines.push(...vs('192.168.0.10', 30007, [...shared, '10.244.1.3:80'])); // exactly 10.96.1.7's
    lines.push(...vs('192.168.0.10', 30001, shared)); // 49 cluster IPs have these
    const sets = parseIpsets(
      [
        'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536',
        ...Array.from({ length: 50 }, (_, i) => `add KUBE-CLUSTER-IP 10.96.1.${i},tcp:80`),
        'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535',
        'add KUBE-NODE-PORT-TCP 30007',
        'add KUBE-NODE-PORT-TCP 30001',
      ].join('\n'),
    );
    const services = discoverIpvsServices({ ipvs: parseIpvs(lines.join('\n')), ipsets: sets, node: nodeWith(['192.168.0.10']) });
    expect(services).toHaveLength(51);
    expect(services.find((s) => s.clusterIP === '10.96.1.7')!.nodePort).toBe(30007);
    expect(services.filter((s) => s.nodePort !== undefined).map((s) => [s.clusterIP, s.nodePort])).toEqual([
      ['10.96.1.7', 30007],
      ['', 30001],
    ]);
  });
});
