// Kernel tests for kube-proxy's nftables mode that need no explain: generated nodes in every rule
// shape the generator writes (v1.35, v1.36, v1.37) load with `nft -f` and the kernel lists them back
// exactly as the generator's listing says; ClientIP affinity pins a client as the generated cluster
// says; upstream's own expected transaction loads and discovery reads the kernel's listings of it.
// (Where every connection lands, against explain: nft-explain.test.ts.)
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveNode } from '../../src/engine/packet.js';
import { discoverNftServices } from '../../src/kube/nft-services.js';
import { renderNftablesListing } from '../../src/kube/render-nft.js';
import { parseNft } from '../../src/parse/nft.js';
import { UPSTREAM_NFT_RENDER, UPSTREAM_NFT_SERVICES } from '../kube/upstream-fixture.js';
import { compareOutcomes, KernelLab, type PredictedOutcome, type ProbeSummary } from '../../src/lab/index.js';
import type { GeneratedService } from '../../src/kube/cluster.js';
import { generateNftables, NFT_SHAPES, type NftShape } from '../../src/kube/generate-nft.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { KERNEL_ALPHA, labLifecycle, Timings } from './check.js';

const NODE_IP = '192.168.0.10';
const EXT_PREFIXES = ['203.0.113.0/24', '198.51.100.0/24'];
const OPTIONS = {
  services: 16,
  endpoints: 3,
  seed: 21,
  nodeIP: NODE_IP,
  mix: { nodePort: 0.35, loadBalancer: 0.15, externalIPs: 0.1, etpLocal: 0.4, itpLocal: 0.1, affinity: 0.2, noEndpoints: 0.12, sourceRanges: 0 },
};
/** A pod client in a block no generated endpoint uses (the generator's nodes are 10.244.0-15.x). */
const POD_CLIENT = '10.244.200.7';

function check(predicted: PredictedOutcome[], observed: ProbeSummary, label: string): string {
  const c = compareOutcomes(predicted, observed, { alpha: KERNEL_ALPHA, checkSource: 'none' });
  return c.ok ? '' : `${label}:\n  ${c.problems.join('\n  ')}\n${c.table}`;
}

const pick = (services: GeneratedService[], pred: (s: GeneratedService) => boolean, what: string): GeneratedService => {
  const s = services.find((x) => (x.protocol === 'tcp' || x.protocol === 'udp') && pred(x));
  if (!s) throw new Error(`the generated cluster has no ${what}: change OPTIONS`);
  return s;
};

// One lab for all: each load replaces the node's rule set.
describe.skipIf(!availability.ok)(labSuiteTitle('kernel: generated kube-proxy nftables nodes, upstream\'s transaction'), () => {
  let lab: KernelLab;
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    lab = await KernelLab.create({ v4: { nodeAddress: NODE_IP, externalClients: EXT_PREFIXES }, v6: null });
    await lab.addPods([POD_CLIENT]);
  });
  labLifecycle(() => lab, timings, () => 'generated nftables nodes');

  for (const shape of NFT_SHAPES) {
    const g = generateNftables({ ...OPTIONS, shape: shape as NftShape });
    const sticky = pick(g.services, (s) => s.status === 'ok' && s.affinitySeconds !== undefined && s.internalTrafficPolicy === 'Cluster' && s.endpoints.length > 1, 'ClientIP-affinity service');

    it(`${shape}: nft -f loads the script and nft list ruleset prints exactly the generated listing`, async () => {
      await lab.load({ nftables: g.text });
      expect(await lab.listNftables()).toBe(g.listing);
    });

    it(`${shape}: a ClientIP-affinity client that landed somewhere stays there`, async () => {
      const proto = sticky.protocol as 'tcp' | 'udp';
      const first = await lab.probe({ origin: 'pod', proto, destination: sticky.clusterIP, port: sticky.port, source: POD_CLIENT, count: 1 });
      const landed = first.outcomes[0];
      expect(landed?.verdict).toBe('accept');
      expect(sticky.endpoints.map((e) => e.endpoint)).toContain(landed.endpoint);
      const again = await lab.probe({ origin: 'pod', proto, destination: sticky.clusterIP, port: sticky.port, source: POD_CLIENT, count: 20, concurrency: 1 });
      expect(check([{ probability: 1, verdict: 'accept', endpoint: landed.endpoint as string, masquerade: false }], again, sticky.name)).toBe('');
    });
  }

  // Upstream's own expected transaction (kubernetes pkg/proxy/nftables proxier_test.go,
  // TestOverallNFTablesRules, v1.33–v1.35 shape) into the kernel, listed back in both forms, and
  // service discovery over what the kernel printed: the services upstream's test defines.
  const statements = readFileSync(new URL('../fixtures/nft-upstream-v1.35.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  // Upstream's dump is grouped per service; `nft -f` wants a chain defined before a rule names it.
  const rank = (l: string): number => ['add table', 'add set', 'add map', 'add chain', 'add rule', 'add element'].findIndex((p) => l.startsWith(p));
  const script = statements.slice().sort((a, b) => rank(a) - rank(b)).join('\n') + '\n';
  // Upstream writes chains service by service, the generator endpoints first: same blocks, other order.
  it('upstream\'s transaction lists back the blocks the generator renders for its services', async () => {
    await lab.load({ nftables: script }, { listen: 'none' });
    const blocks = (listing: string): string[] => listing.split('\n\n').map((b) => b.replace(/^table ip kube-proxy \{\n\tcomment "rules for kube-proxy"\n/, '').replace(/\n\}\n$/, '')).sort();
    expect(blocks(await lab.listNftables())).toEqual(blocks(renderNftablesListing(UPSTREAM_NFT_SERVICES, { ...UPSTREAM_NFT_RENDER, shape: 'v1.35' })));
  });

  it.each(['text', 'json'] as const)('discovery over the kernel\'s %s listing finds upstream\'s services', async (form) => {
    const listing = await lab.listNftables({ json: form === 'json' });
    const node = resolveNode({ addresses: ['192.168.0.2'], podCIDRs: ['10.0.0.0/8'] });
    const found = discoverNftServices(parseNft(listing).ruleset, node);
    const brief = (s: { name: string; clusterIP: string; port: number; nodePort?: number; status: string; externalTrafficPolicy: string; affinitySeconds?: number }) =>
      `${s.name} ${s.clusterIP}:${s.port} np=${s.nodePort ?? '-'} ${s.status} eTP=${s.externalTrafficPolicy} aff=${s.affinitySeconds ?? '-'}`;
    expect(found.map(brief).sort()).toEqual(UPSTREAM_NFT_SERVICES.map(brief).sort());
    const svc4 = found.find((s) => s.name === 'ns4/svc4:p80');
    expect(svc4?.endpoints.map((e) => [e.endpoint, e.probability])).toEqual([
      ['10.180.0.4:80', 0.5],
      ['10.180.0.5:80', 0.5],
    ]);
    expect(found.find((s) => s.name === 'ns5/svc5:p80')).toMatchObject({ loadBalancerIPs: ['5.6.7.8'], sourceRanges: ['203.0.113.0/25'] });
  });
});
