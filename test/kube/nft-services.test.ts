// Service discovery in kube-proxy's nftables mode: generated tables in every shape (round trip
// against the cluster they were rendered from), upstream's TestOverallNFTablesRules services, a
// v1.36.2 node's published listing, and the bundled example — all through the nft parser.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GeneratedService } from '../../src/kube/cluster.js';
import { generateNftables, NFT_SHAPES, renderNftablesListing } from '../../src/kube/generate-nft.js';
import { discoverNftServices } from '../../src/kube/nft-services.js';
import { resolveNode } from '../../src/engine/packet.js';
import type { Service } from '../../src/model/contracts.js';
import type { NodeContext } from '../../src/model/ruleset.js';
import { parseNft } from '../../src/parse/nft.js';
import { UPSTREAM_NFT_RENDER, UPSTREAM_NFT_SERVICES } from './upstream-fixture.js';
import { NFT_EXAMPLE_RENDER, NFT_EXAMPLE_SERVICES } from './nft-example-fixture.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const BUSY = { nodePort: 0.3, loadBalancer: 0.3, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0.15, affinity: 0.3, noEndpoints: 0.1, sourceRanges: 0.6 };

function nodeContext(addresses: string[], podCIDRs: string[]): NodeContext {
  return resolveNode({ addresses, podCIDRs });
}

function discover(listing: string, node: NodeContext): Map<string, Service> {
  const services = discoverNftServices(parseNft(listing).ruleset, node);
  return new Map(services.map((s) => [`${s.name}/${s.protocol}`, s]));
}

/**
 * What discovery must recover for a generated service. The table cannot tell external IPs from
 * LB IPs without source ranges (both are elements of service-ips to the external chain): those are
 * compared as one list, and the classification is checked where the rules settle it.
 */
function expectRecovered(got: Service | undefined, s: GeneratedService): void {
  expect(got, s.name).toBeDefined();
  const g = got as Service;
  const label = `${s.name} (${s.protocol})`;
  const externallyAccessible = s.nodePort !== undefined || s.loadBalancerIPs.length > 0 || s.externalIPs.length > 0;
  const local = s.endpoints.filter((e) => e.local);
  const itpLocal = s.internalTrafficPolicy === 'Local';
  // Endpoints cluster-IP traffic reaches, and all the table reaches (external traffic too).
  const internal = s.status === 'no-endpoints' ? [] : itpLocal ? local : s.endpoints;
  const reachable = s.status === 'no-endpoints' ? [] : itpLocal && !externallyAccessible ? local : s.endpoints;
  expect({ clusterIP: g.clusterIP, port: g.port, nodePort: g.nodePort, status: g.status, affinitySeconds: g.affinitySeconds }, label).toEqual({
    clusterIP: s.clusterIP,
    port: s.port,
    nodePort: s.nodePort,
    status: s.status,
    // Affinity lives in the endpoint choice: a service whose table reaches no endpoint shows none.
    affinitySeconds: reachable.length > 0 ? s.affinitySeconds : undefined,
  });
  // No rule shows a Local policy that cannot apply (eTP without external access) or an empty service's.
  const etp = externallyAccessible && s.status !== 'no-endpoints' ? s.externalTrafficPolicy : 'Cluster';
  const itp = s.status !== 'no-endpoints' ? s.internalTrafficPolicy : 'Cluster';
  expect({ etp: g.externalTrafficPolicy, itp: g.internalTrafficPolicy }, label).toEqual({ etp, itp });
  expect([...g.externalIPs, ...g.loadBalancerIPs].sort(), label).toEqual([...s.externalIPs, ...s.loadBalancerIPs].sort());
  if (s.nodePort === undefined) expect(g.externalIPs.slice().sort(), label).toEqual(s.externalIPs.slice().sort());
  // The firewall chain exists whenever an LB has source ranges, endpoints or not (unlike iptables mode).
  if (s.sourceRanges.length > 0) for (const lb of s.loadBalancerIPs) expect(g.loadBalancerIPs, label).toContain(lb);
  expect(g.sourceRanges.slice().sort(), label).toEqual(s.loadBalancerIPs.length > 0 ? s.sourceRanges.slice().sort() : []);

  // Endpoints: uniform over the ones cluster-IP traffic reaches; the rest of the reachable ones at 0.
  const want = reachable.map((e) => ({ endpoint: e.endpoint, probability: internal.includes(e) ? 1 / internal.length : 0, local: e.local })).sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
  const have = g.endpoints.slice().sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
  expect(have.map((e) => e.endpoint), label).toEqual(want.map((e) => e.endpoint));
  for (let i = 0; i < want.length; i++) {
    expect(have[i].probability, `${label} ${want[i].endpoint}`).toBeCloseTo(want[i].probability, 12);
    expect(have[i].local, `${label} ${want[i].endpoint} local`).toBe(want[i].local);
  }
}

describe('discoverNftServices', () => {
  for (const shape of NFT_SHAPES) {
    it(`recovers every generated service (${shape}, 250 services of every kind)`, () => {
      const g = generateNftables({ services: 250, endpoints: 3, seed: 17, mix: BUSY, shape });
      const node = nodeContext(g.node.addresses, g.node.podCIDRs);
      const got = discover(g.listing, node);
      expect(got.size).toBe(g.services.length);
      for (const s of g.services) expectRecovered(got.get(`${s.name}/${s.protocol}`), s);
    });
  }

  it.each(['v1.35', 'v1.36'] as const)('recovers upstream TestOverallNFTablesRules services (%s shape)', (shape) => {
    const node = nodeContext(['192.168.0.2'], ['10.0.0.0/8']);
    const got = discover(renderNftablesListing(UPSTREAM_NFT_SERVICES, { ...UPSTREAM_NFT_RENDER, shape }), node);
    for (const s of UPSTREAM_NFT_SERVICES) expectRecovered(got.get(`${s.name}/tcp`), { ...s, endpoints: s.endpoints.map((e) => ({ ...e, local: true })) });
  });

  it('reads a v1.36.2 node\'s published listing', () => {
    const node = nodeContext(['192.168.0.231'], ['10.244.0.0/24']);
    const got = discover(fixture('nft-v1.36-node-excerpt.txt'), node);
    expect(got.get('kproxy-lab/backend-api:http/tcp')).toEqual({
      name: 'kproxy-lab/backend-api:http',
      namespace: 'kproxy-lab',
      protocol: 'tcp',
      clusterIP: '10.100.192.23',
      port: 80,
      externalIPs: [],
      loadBalancerIPs: [],
      sourceRanges: [],
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      endpoints: [
        { endpoint: '10.244.0.10:9898', probability: 0.5, local: true },
        { endpoint: '10.244.0.8:9898', probability: 0.5, local: true },
      ],
      status: 'ok',
    });
    expect(got.get('default/kubernetes:https/tcp')?.endpoints).toEqual([{ endpoint: '192.168.0.231:6443', probability: 1, local: true }]);
  });

  it('recovers the bundled example node\'s services', () => {
    const node = nodeContext(['192.168.0.10'], ['10.244.1.0/24']);
    const got = discover(readFileSync(new URL('../../examples/nft-node/nftables.txt', import.meta.url), 'utf8'), node);
    expect(got.size).toBe(NFT_EXAMPLE_SERVICES.length);
    for (const s of NFT_EXAMPLE_SERVICES) expectRecovered(got.get(`${s.name}/${s.protocol}`), s);
    expect(renderNftablesListing(NFT_EXAMPLE_SERVICES, NFT_EXAMPLE_RENDER)).toBe(readFileSync(new URL('../../examples/nft-node/nftables.txt', import.meta.url), 'utf8'));
  });
});
