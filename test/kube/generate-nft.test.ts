import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GeneratedEndpoint, GeneratedService } from '../../src/kube/cluster.js';
import { generateNftables, renderNftables, renderNftablesListing } from '../../src/kube/generate-nft.js';
import { nftEndpointBase, nftServiceBase, parseNftChain } from '../../src/kube/names.js';
import { UPSTREAM_NFT_RENDER, UPSTREAM_NFT_SERVICES } from './upstream-fixture.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const BUSY = { nodePort: 0.3, loadBalancer: 0.3, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0.15, affinity: 0.3, noEndpoints: 0.1, sourceRanges: 0.6 };


function statements(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function ep(ip: string, port: number, local: boolean): GeneratedEndpoint {
  return { ip, port, endpoint: `${ip}:${port}`, local };
}

/** The two services of a v1.36.2 node whose `nft list table ip kube-proxy` was published (abridged). */
const V136_NODE_SERVICES: GeneratedService[] = [
  {
    name: 'kproxy-lab/backend-api:http', namespace: 'kproxy-lab', serviceName: 'backend-api', portName: 'http', protocol: 'tcp',
    clusterIP: '10.100.192.23', port: 80, externalIPs: [], loadBalancerIPs: [], sourceRanges: [],
    externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster',
    endpoints: [ep('10.244.0.8', 9898, true), ep('10.244.0.10', 9898, true)], status: 'ok',
  },
  {
    name: 'default/kubernetes:https', namespace: 'default', serviceName: 'kubernetes', portName: 'https', protocol: 'tcp',
    clusterIP: '10.96.0.1', port: 443, externalIPs: [], loadBalancerIPs: [], sourceRanges: [],
    externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster',
    endpoints: [ep('192.168.0.231', 6443, false)], status: 'ok',
  },
];
const V136_NODE_RENDER = { shape: 'v1.36', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeIP: '192.168.0.231' } as const;

/** `name { … }` blocks of a listing, keyed by their header line. */
function blocks(listing: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^\t((?:set|map|chain) \S+) \{\n([\s\S]*?)^\t\}$/gm;
  for (const m of listing.matchAll(re)) out.set(m[1], m[2]);
  return out;
}

describe('nftables chain names', () => {
  it.each([
    ['ns1', 'svc1', 'p80', 'ULMVA6XW'],
    ['ns2', 'svc2', 'p80', '42NFTM6N'],
    ['ns3', 'svc3', 'p80', '4AT6LBPK'],
    ['ns4', 'svc4', 'p80', 'LAUZTJTB'],
    ['ns5', 'svc5', 'p80', 'HVFWP5L3'],
    // A v1.36.2 node's listing.
    ['kproxy-lab', 'backend-api', 'http', 'YVSKLJHA'],
    ['default', 'kubernetes', 'https', '2QRHZV4L'],
  ])('%s/%s/tcp/%s → %s', (ns, name, port, hash) => {
    expect(nftServiceBase(ns, name, 'tcp', port)).toBe(`${hash}-${ns}/${name}/tcp/${port}`);
  });

  it.each([
    ['ns1', 'svc1', '10.180.0.1', '5OJB2KTY'],
    ['ns2', 'svc2', '10.180.0.2', 'SGOXE6O3'],
    ['ns4', 'svc4', '10.180.0.4', 'UNZV3OEC'],
    ['ns4', 'svc4', '10.180.0.5', '5RFCDDV7'],
    ['ns5', 'svc5', '10.180.0.3', 'GTK6MW7G'],
  ])('endpoint %s/%s %s → %s', (ns, name, ip, hash) => {
    expect(nftEndpointBase(ns, name, 'tcp', 'p80', ip, 80)).toBe(`${hash}-${ns}/${name}/tcp/p80__${ip}/80`);
  });

  it('parses the chain names back into kind, hash and name', () => {
    expect(parseNftChain('endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80')).toEqual({ kind: 'endpoint', hash: '5OJB2KTY', rest: 'ns1/svc1/tcp/p80__10.180.0.1/80' });
    expect(parseNftChain('services')).toBeNull();
    expect(parseNftChain('service-endpoints-check')).toBeNull();
  });
});

describe('renderNftables', () => {
  it('v1.35: writes exactly upstream TestOverallNFTablesRules expected transaction', () => {
    const ours = statements(renderNftables(UPSTREAM_NFT_SERVICES, { ...UPSTREAM_NFT_RENDER, shape: 'v1.35' }));
    const upstream = statements(fixture('nft-upstream-v1.35.txt'));
    expect(ours.slice().sort()).toEqual(upstream.slice().sort());
  });

  it('v1.36: lists the chains and the hairpin set exactly as a v1.36.2 node does', () => {
    const ours = blocks(renderNftablesListing(V136_NODE_SERVICES, V136_NODE_RENDER));
    const real = blocks(fixture('nft-v1.36-node-excerpt.txt'));
    for (const name of ['chain services', 'chain masquerading', 'chain service-2QRHZV4L-default/kubernetes/tcp/https', 'chain service-YVSKLJHA-kproxy-lab/backend-api/tcp/http', 'set hairpin-connections', 'set nodeport-ips']) {
      expect(ours.get(name), name).toBe(real.get(name));
    }
    // The node's excerpt leaves out other services' elements; the headers and our elements are there.
    const realServiceIPs = real.get('map service-ips') as string;
    expect(ours.get('map service-ips')).toBe(realServiceIPs);
    expect(real.get('set cluster-ips')).toContain('10.96.0.1, 10.96.0.10,\n\t\t\t     10.100.192.23 }');
    // Its sets are listed in creation order: the hairpin set first.
    const order = [...blocks(renderNftablesListing(V136_NODE_SERVICES, V136_NODE_RENDER)).keys()].filter((k) => k.startsWith('set '));
    expect(order.slice(0, 3)).toEqual(['set hairpin-connections', 'set cluster-ips', 'set nodeport-ips']);
  });

  it('v1.36 and v1.37 DNAT inline; v1.37 drops the map for a single endpoint; affinity keeps endpoint chains', () => {
    const svc1 = UPSTREAM_NFT_SERVICES.filter((s) => s.name === 'ns1/svc1:p80' || s.name === 'ns4/svc4:p80' || s.name === 'ns5/svc5:p80');
    const v136 = statements(renderNftables(svc1, { ...UPSTREAM_NFT_RENDER, shape: 'v1.36' }));
    const v137 = statements(renderNftables(svc1, { ...UPSTREAM_NFT_RENDER, shape: 'v1.37' }));
    // The line upstream's tests expect from v1.36 on (kubernetes#140362's diff context).
    expect(v136).toContain('add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 meta l4proto tcp dnat ip addr . port to numgen random mod 1 map { 0 : 10.180.0.1 . 80 }');
    expect(v136).toContain('add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 meta l4proto tcp dnat ip addr . port to numgen random mod 2 map { 0 : 10.180.0.4 . 80 , 1 : 10.180.0.5 . 80 }');
    expect(v137).toContain('add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 meta l4proto tcp dnat to 10.180.0.1:80');
    expect(v137).toContain('add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 meta l4proto tcp dnat ip addr . port to numgen random mod 2 map { 0 : 10.180.0.4 . 80 , 1 : 10.180.0.5 . 80 }');
    for (const lines of [v136, v137]) {
      expect(lines.some((l) => l.includes('mark-for-masquerade'))).toBe(false);
      expect(lines.filter((l) => l.startsWith('add chain ip kube-proxy endpoint-'))).toEqual(['add chain ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80']);
      expect(lines).toContain('add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr }');
      expect(lines).toContain('add rule ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80 mark set mark or 0x4000');
    }
  });

  it('writes the LB IPs into the source ranges when the node is inside one (VIP hairpin from the node)', () => {
    const lb = UPSTREAM_NFT_SERVICES.map((s) => (s.name === 'ns5/svc5:p80' ? { ...s, sourceRanges: ['192.168.0.0/24', '203.0.113.0/25'] } : s));
    const lines = statements(renderNftables(lb, { ...UPSTREAM_NFT_RENDER, shape: 'v1.35' }));
    expect(lines).toContain('add rule ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr != { 192.168.0.0/24 , 203.0.113.0/25 , 5.6.7.8 } drop');
    expect(renderNftablesListing(lb, { ...UPSTREAM_NFT_RENDER, shape: 'v1.35' })).toContain('\t\tip saddr != { 5.6.7.8, 192.168.0.0/24, 203.0.113.0/25 } drop\n');
  });
});

describe('generateNftables', () => {
  it('is deterministic by seed and renders the same cluster the iptables generator does', () => {
    const a = generateNftables({ services: 50, endpoints: 3, seed: 5, mix: BUSY, shape: 'v1.36' });
    const b = generateNftables({ services: 50, endpoints: 3, seed: 5, mix: BUSY, shape: 'v1.36' });
    const c = generateNftables({ services: 50, endpoints: 3, seed: 6, mix: BUSY, shape: 'v1.36' });
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(c.text);
    expect(a.services.length).toBe(50);
    expect(a.node.addresses).toEqual(['192.168.0.10']);
  });

  it('declares every chain before a rule, a map element or another chain names it (nft -f needs that)', () => {
    for (const shape of ['v1.35', 'v1.36', 'v1.37'] as const) {
      const { text, services } = generateNftables({ services: 200, endpoints: 4, seed: 3, mix: BUSY, shape });
      const lines = text.split('\n');
      const declared = new Set<string>();
      const undeclared: string[] = [];
      for (const l of lines) {
        const chain = /^add chain ip kube-proxy (\S+)/.exec(l);
        if (chain) declared.add(chain[1]);
        if (!l.startsWith('add rule') && !l.startsWith('add element')) continue;
        const owner = /^add rule ip kube-proxy (\S+)/.exec(l);
        if (owner && !declared.has(owner[1])) undeclared.push(l);
        for (const m of l.matchAll(/(?:goto|jump) (\S+?)(?= |$)/g)) if (!declared.has(m[1])) undeclared.push(l);
      }
      expect(undeclared).toEqual([]);
      expect(declared.size).toBeGreaterThan(200);
      // Every service port of the cluster is in the table.
      const all = new Set(lines);
      expect(services.filter((s) => !all.has(`add element ip kube-proxy cluster-ips { ${s.clusterIP} }`))).toEqual([]);
    }
  });
});
