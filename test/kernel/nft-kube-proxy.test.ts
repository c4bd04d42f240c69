// Kernel tests for kube-proxy's nftables mode, on generated nodes in every rule shape the generator
// writes (v1.35, v1.36, v1.37): the script loads with `nft -f`, the kernel lists it back exactly as
// the generator's listing says, and real connections land where the generated cluster says they
// must (ClusterIP, NodePort, eTP=Local, no endpoints → REJECT, an undefined port of a cluster IP →
// REJECT, an unallocated service address → DROP, ClientIP affinity).
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
const EXT_CLIENT = '203.0.113.50';

/** Uniform over the endpoints, as numgen random mod N picks them (1/N each). */
function uniform(eps: readonly { endpoint: string }[], masquerade: boolean): PredictedOutcome[] {
  return eps.map((e) => ({ probability: 1 / eps.length, verdict: 'accept', endpoint: e.endpoint, masquerade }));
}

function check(predicted: PredictedOutcome[], observed: ProbeSummary, label: string): string {
  const c = compareOutcomes(predicted, observed, { alpha: KERNEL_ALPHA, checkSource: 'none' });
  return c.ok ? '' : `${label}:\n  ${c.problems.join('\n  ')}\n${c.table}`;
}

const pick = (services: GeneratedService[], pred: (s: GeneratedService) => boolean, what: string): GeneratedService => {
  const s = services.find((x) => (x.protocol === 'tcp' || x.protocol === 'udp') && pred(x));
  if (!s) throw new Error(`the generated cluster has no ${what}: change OPTIONS`);
  return s;
};

for (const shape of NFT_SHAPES) {
  const g = generateNftables({ ...OPTIONS, shape: shape as NftShape });
  const ok = (s: GeneratedService): boolean => s.status === 'ok';
  const clusterSvc = pick(g.services, (s) => ok(s) && s.internalTrafficPolicy === 'Cluster' && s.endpoints.length > 1 && s.affinitySeconds === undefined, 'multi-endpoint ClusterIP service');
  const none = pick(g.services, (s) => s.status === 'no-endpoints', 'service without endpoints');
  const nodePortCluster = pick(g.services, (s) => ok(s) && s.nodePort !== undefined && s.externalTrafficPolicy === 'Cluster' && s.affinitySeconds === undefined, 'eTP=Cluster NodePort');
  const nodePortLocal = pick(g.services, (s) => ok(s) && s.nodePort !== undefined && s.externalTrafficPolicy === 'Local' && s.endpoints.some((e) => e.local) && s.affinitySeconds === undefined, 'eTP=Local NodePort with a local endpoint');
  const sticky = pick(g.services, (s) => ok(s) && s.affinitySeconds !== undefined && s.internalTrafficPolicy === 'Cluster' && s.endpoints.length > 1, 'ClientIP-affinity service');

  describe.skipIf(!availability.ok)(labSuiteTitle(`kernel: generated kube-proxy nftables node (${shape})`), () => {
    let lab: KernelLab;
    const timings = new Timings();

    beforeAll(async () => {
      timings.begin();
      lab = await KernelLab.create({ v4: { nodeAddress: NODE_IP, externalClients: EXT_PREFIXES }, v6: null });
      await lab.load({ nftables: g.text });
      await lab.addPods([POD_CLIENT]);
    });

    labLifecycle(() => lab, timings, () => `generated nftables node (${shape})`);

    it('nft -f loads the script and nft list ruleset prints exactly the generated listing', async () => {
      expect(await lab.listNftables()).toBe(g.listing);
    });

    it(`ClusterIP from a pod: uniform over ${clusterSvc.name}'s endpoints, not masqueraded`, async () => {
      const observed = await lab.probe({ origin: 'pod', proto: clusterSvc.protocol as 'tcp' | 'udp', destination: clusterSvc.clusterIP, port: clusterSvc.port, source: POD_CLIENT, count: 300 });
      expect(check(uniform(clusterSvc.endpoints, false), observed, clusterSvc.name)).toBe('');
    });

    it('ClusterIP from outside the cluster: masqueraded (off-cluster source)', async () => {
      const observed = await lab.probe({ origin: 'external', proto: clusterSvc.protocol as 'tcp' | 'udp', destination: clusterSvc.clusterIP, port: clusterSvc.port, source: EXT_CLIENT, count: 60 });
      expect(check(uniform(clusterSvc.endpoints, true), observed, clusterSvc.name)).toBe('');
    });

    it('no endpoints: REJECT', async () => {
      const observed = await lab.probe({ origin: 'pod', proto: none.protocol as 'tcp' | 'udp', destination: none.clusterIP, port: none.port, source: POD_CLIENT, count: 4 });
      expect(check([{ probability: 1, verdict: 'reject', endpoint: '', masquerade: false }], observed, none.name)).toBe('');
    });

    it('a port the cluster IP does not define: REJECT (cluster-ips-check)', async () => {
      const observed = await lab.probe({ origin: 'pod', proto: 'tcp', destination: clusterSvc.clusterIP, port: clusterSvc.port + 1, source: POD_CLIENT, count: 4 });
      expect(check([{ probability: 1, verdict: 'reject', endpoint: '', masquerade: false }], observed, `${clusterSvc.clusterIP}:${clusterSvc.port + 1}`)).toBe('');
    });

    it('an unallocated address in the service CIDR: DROP', async () => {
      const used = new Set(g.services.map((s) => s.clusterIP));
      const free = ['10.96.0.250', '10.96.0.251', '10.96.0.252'].find((ip) => !used.has(ip)) as string;
      const observed = await lab.probe({ origin: 'pod', proto: 'tcp', destination: free, port: 80, source: POD_CLIENT, count: 3, timeoutMs: 800 });
      expect(check([{ probability: 1, verdict: 'drop', endpoint: '', masquerade: false }], observed, free)).toBe('');
    });

    it('NodePort (eTP=Cluster) from outside: every endpoint, masqueraded', async () => {
      const observed = await lab.probe({ origin: 'external', proto: nodePortCluster.protocol as 'tcp' | 'udp', destination: NODE_IP, port: nodePortCluster.nodePort as number, source: EXT_CLIENT, count: 200 });
      expect(check(uniform(nodePortCluster.endpoints, true), observed, nodePortCluster.name)).toBe('');
    });

    it('NodePort (eTP=Local) from outside: local endpoints only, client source kept', async () => {
      const local = nodePortLocal.endpoints.filter((e) => e.local);
      const observed = await lab.probe({ origin: 'external', proto: nodePortLocal.protocol as 'tcp' | 'udp', destination: NODE_IP, port: nodePortLocal.nodePort as number, source: EXT_CLIENT, count: 60 * local.length });
      expect(check(uniform(local, false), observed, nodePortLocal.name)).toBe('');
    });

    it('ClientIP affinity: a client that landed somewhere stays there', async () => {
      const proto = sticky.protocol as 'tcp' | 'udp';
      const first = await lab.probe({ origin: 'pod', proto, destination: sticky.clusterIP, port: sticky.port, source: POD_CLIENT, count: 1 });
      const landed = first.outcomes[0];
      expect(landed?.verdict).toBe('accept');
      const again = await lab.probe({ origin: 'pod', proto, destination: sticky.clusterIP, port: sticky.port, source: POD_CLIENT, count: 20, concurrency: 1 });
      expect(check([{ probability: 1, verdict: 'accept', endpoint: landed.endpoint as string, masquerade: false }], again, sticky.name)).toBe('');
    });
  });
}

// Upstream's own expected transaction (kubernetes pkg/proxy/nftables proxier_test.go,
// TestOverallNFTablesRules, v1.33–v1.35 shape) into the kernel, listed back in both forms, and
// service discovery over what the kernel printed: the services upstream's test defines.
describe.skipIf(!availability.ok)(labSuiteTitle('kernel: upstream TestOverallNFTablesRules transaction'), () => {
  const statements = readFileSync(new URL('../fixtures/nft-upstream-v1.35.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  // Upstream's dump is grouped per service; `nft -f` wants a chain defined before a rule names it.
  const rank = (l: string): number => ['add table', 'add set', 'add map', 'add chain', 'add rule', 'add element'].findIndex((p) => l.startsWith(p));
  const script = statements.slice().sort((a, b) => rank(a) - rank(b)).join('\n') + '\n';
  let lab: KernelLab;
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    lab = await KernelLab.create({ v4: { nodeAddress: '192.168.0.2' }, v6: null });
    await lab.load({ nftables: script }, { listen: 'none' });
  });
  labLifecycle(() => lab, timings, () => 'upstream transaction');

  // Upstream writes chains service by service, the generator endpoints first: same blocks, other order.
  it('lists back the blocks the generator renders for upstream\'s services', async () => {
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
