// nftables-mode endpoint chains read through discovery's per-table index: endpoint chains named
// like kube-proxy's and others a numgen vmap may name, one chain shared by several numgen values
// and by several services. Each case checks the table read with and without the rewrite agrees.
import { describe, expect, it } from 'vitest';
import { generateNftables, renderNftablesListing } from '../../src/kube/generate-nft.js';
import { discoverNftServices } from '../../src/kube/nft-services.js';
import { resolveNode } from '../../src/engine/packet.js';
import { parseNft } from '../../src/parse/nft.js';
import { UPSTREAM_NFT_RENDER, UPSTREAM_NFT_SERVICES } from './upstream-fixture.js';

const node = resolveNode({ addresses: ['192.168.0.2'], podCIDRs: ['10.0.1.0/24'] });
const discover = (listing: string) => discoverNftServices(parseNft(listing).ruleset, node);
/** Every whole-word occurrence of a chain name renamed (declaration and the vmap elements naming it). */
const rename = (text: string, from: string, to: string) => text.split(from).join(to);

describe('nftables-mode endpoint chains', () => {
  const listing = renderNftablesListing(UPSTREAM_NFT_SERVICES, { ...UPSTREAM_NFT_RENDER, shape: 'v1.35' });
  const before = discover(listing);
  const endpointChains = [...new Set(listing.match(/endpoint-[A-Z2-7]{8}-[^\s;{}]+/g) ?? [])];

  it('the fixture has endpoint chains reached through numgen vmaps', () => {
    expect(endpointChains.length).toBeGreaterThan(2);
    expect(before.some((s) => s.endpoints.length > 1)).toBe(true);
  });

  it('a vmap naming a chain not called endpoint-… still reaches its DNAT', () => {
    let text = listing;
    endpointChains.forEach((c, i) => (text = rename(text, c, `custom-${i}`)));
    expect(text).not.toMatch(/endpoint-[A-Z2-7]{8}-/);
    expect(discover(text)).toEqual(before);
  });

  it('two numgen values to one endpoint chain: one endpoint, shares summed', () => {
    const svc = before.find((s) => s.endpoints.length === 2 && s.endpoints.every((e) => e.probability === 0.5));
    expect(svc).toBeDefined();
    // Point the second endpoint's vmap element at the first endpoint's chain.
    const [a, b] = svc!.endpoints.map((e) => endpointChains.find((c) => c.endsWith(`__${e.endpoint.replace(':', '/')}`))!);
    expect(a && b).toBeTruthy();
    const text = listing.replace(`: goto ${b}`, `: goto ${a}`);
    expect(text).not.toBe(listing);
    const after = discover(text).find((s) => s.name === svc!.name && s.protocol === svc!.protocol)!;
    expect(after.endpoints).toEqual([{ ...svc!.endpoints[0], probability: 1 }]);
  });

  it('two chains of one service port and kind: the map element names the one cluster-IP traffic takes', () => {
    const original = 'chain service-ULMVA6XW-ns1/svc1/tcp/p80 {';
    expect(listing).toContain(original);
    const at = listing.indexOf('\n\t}\n', listing.indexOf(original)) + 3; // after the chain's closing brace
    // A second service chain for ns1/svc1 (another hash), after the first: the last of the kind.
    const text = `${listing.slice(0, at)}\n\tchain service-ZZZZZZZZ-ns1/svc1/tcp/p80 {\n\t\tmeta l4proto tcp dnat to 10.99.9.9:99\n\t}\n${listing.slice(at)}`;
    const s = discover(text).find((x) => x.name === 'ns1/svc1:p80')!;
    expect(s.endpoints.map((e) => [e.endpoint, e.probability])).toEqual([
      ['10.180.0.1:80', 1],
      ['10.99.9.9:99', 0],
    ]);
  });

  it('generated tables in every rule shape read the same endpoints as their truth', () => {
    for (const shape of ['v1.35', 'v1.36', 'v1.37'] as const) {
      const g = generateNftables({ services: 40, endpoints: 3, seed: 5, shape });
      const found = discoverNftServices(parseNft(g.listing).ruleset, resolveNode({ addresses: g.node.addresses, podCIDRs: g.node.podCIDRs }));
      for (const t of g.services.filter((s) => s.status === 'ok' && s.internalTrafficPolicy === 'Cluster')) {
        const s = found.find((x) => x.name === t.name && x.protocol === t.protocol)!;
        expect(s.endpoints.map((e) => e.endpoint).sort(), `${shape} ${t.name}`).toEqual(t.endpoints.map((e) => e.endpoint).sort());
      }
    }
  });
});
