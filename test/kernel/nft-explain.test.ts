// Kernel differential tests for kube-proxy's nftables mode: generated nodes in every rule shape
// (v1.35, v1.36, v1.37) loaded with `nft -f` into a namespace, every service probed from a pod, the
// host and outside (cluster IP, node port, external and LB IPs in and out of their source ranges),
// and where the connections landed compared with explain — on the generator's listing and on the
// kernel's own `nft list ruleset` text and `nft -j` JSON, with both engines. Then what only
// nftables mode does: an undefined port of a cluster IP (REJECT), an unallocated service address
// (DROP), a pod reaching itself through its service (hairpin masquerade), affinity; and services()
// against the endpoints the kernel actually used. Last, the bundled mixed node (flannel's
// iptables-nft rules beside kube-proxy's table).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab, scanNftDnatTargets } from '../../src/lab/index.js';
import { generateNftables, type NftShape } from '../../src/kube/generate-nft.js';
import type { NodeInput, Query, Service } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { EXT_PREFIXES, NODE_IP, podClient, probesFor, runProbe } from './generated-probes.js';
import { loadLibrary, loadVariants, type Dumps } from './library.js';

const lib = await loadLibrary();
const MIX = { nodePort: 0.3, loadBalancer: 0.25, externalIPs: 0.15, etpLocal: 0.35, itpLocal: 0.1, affinity: 0.15, noEndpoints: 0.08, sourceRanges: 0.6 };
const CONFIGS: Array<{ shape: NftShape; services: number; endpoints: number; seed: number }> = [
  { shape: 'v1.35', services: 14, endpoints: 3, seed: 11 },
  { shape: 'v1.36', services: 14, endpoints: 3, seed: 11 },
  // v1.37 differs from v1.36 only for one endpoint: every service has one.
  { shape: 'v1.37', services: 8, endpoints: 1, seed: 12 },
];

const GENERATED = CONFIGS.map((config) => ({ config, g: generateNftables({ ...config, nodeIP: NODE_IP, mix: MIX }) }));

// One lab for the three generated nodes: each load replaces the node's rule set.
describe.skipIf(!availability.ok || !lib.ok)(labSuiteTitle('kernel vs explain: generated kube-proxy nftables nodes'), () => {
  let lab: KernelLab;
  const timings = new Timings();
  beforeAll(async () => {
    timings.begin();
    lab = await KernelLab.create({ v4: { nodeAddress: NODE_IP, externalClients: EXT_PREFIXES }, v6: null });
    // Every node's DNAT targets listen from the start, in one request: the lab's agent listens on a
    // port by wildcard, so a later load adding another address on the same port would collide.
    await lab.listenAt(GENERATED.flatMap((x) => scanNftDnatTargets(x.g.text).targets));
  });
  labLifecycle(() => lab, timings, () => 'generated nftables nodes');

  for (const { config, g } of GENERATED) {
    const PROBES = g.services.flatMap(probesFor);
    const okCluster = g.services.find((s) => (s.protocol === 'tcp' || s.protocol === 'udp') && s.status === 'ok' && s.internalTrafficPolicy === 'Cluster');
    const localSvc = g.services.find((s) => s.protocol === 'tcp' && s.status === 'ok' && s.internalTrafficPolicy === 'Cluster' && s.affinitySeconds === undefined && s.endpoints.some((e) => e.local));

    describe(`${config.shape} (${config.services} services × ${config.endpoints} endpoints)`, () => {
      let variants: Variant[] = [];
      let discovered: Service[] = [];

      beforeAll(async () => {
        if (!lib.ok) return;
        await lab.load({ nftables: g.text });
        await lab.addPods([...new Set([...PROBES.filter((p) => p.origin === 'pod').flatMap((p) => p.sources), podClient(0)])]);
        const node: NodeInput = { ...g.node, addresses: [...(g.node.addresses ?? []), lab.topology.v4.podGateway] };
        const dumps: Record<string, Dumps> = {
          'generated listing': { nftables: g.listing },
          'kernel listing': { nftables: await lab.listNftables() },
          'kernel JSON': { nftables: await lab.listNftables({ json: true }) },
        };
        const loaded = loadVariants(lib, dumps, node).variants;
        variants = loaded;
        discovered = loaded[0].rs.services();
      });

      for (const p of PROBES) {
        it(p.name, async () => {
          const t0 = performance.now();
          const { observed, query, checkSource } = await runProbe(lab, p);
          timings.add(p.name, performance.now() - t0, observed.total);
          expect(disagreements(variants, query, observed, p.name, { checkSource }).join('\n')).toBe('');
        });
      }

      it('services() names the endpoints the kernel sends cluster-IP traffic to', async () => {
        const problems: string[] = [];
        for (const s of g.services) {
          if ((s.protocol !== 'tcp' && s.protocol !== 'udp') || s.status !== 'ok' || s.affinitySeconds !== undefined) continue;
          const d = discovered.find((x) => x.clusterIP === s.clusterIP && x.port === s.port && x.protocol === s.protocol);
          if (!d) {
            problems.push(`${s.name}: not discovered`);
            continue;
          }
          const observed = await lab.probe({ origin: 'pod', proto: s.protocol, destination: s.clusterIP, port: s.port, source: podClient(1), count: 40 });
          const seen = new Set(observed.outcomes.filter((o) => o.verdict === 'accept').map((o) => o.endpoint));
          const said = new Set(d.endpoints.filter((e) => e.probability > 0).map((e) => e.endpoint));
          if ([...seen].some((e) => !said.has(e as string)) || (said.size <= 3 && seen.size !== said.size)) problems.push(`${s.name}: kernel ${[...seen].join(' ')}; services() ${[...said].join(' ')}`);
        }
        expect(problems).toEqual([]);
      });

      const extra: Array<{ name: string; query: Query; count: number; timeoutMs?: number }> = [];
      if (okCluster) {
        extra.push({ name: `a port ${okCluster.clusterIP} does not define: REJECT`, query: { protocol: 'tcp', destination: okCluster.clusterIP, port: okCluster.port + 1, source: podClient(2), origin: 'pod' }, count: 4 });
      }
      const used = new Set(g.services.map((s) => s.clusterIP));
      const free = ['10.96.0.250', '10.96.0.251', '10.96.0.252'].find((ip) => !used.has(ip)) as string;
      extra.push({ name: `unallocated service address ${free}: DROP`, query: { protocol: 'tcp', destination: free, port: 80, source: podClient(3), origin: 'pod' }, count: 3, timeoutMs: 800 });
      if (localSvc) {
        const self = localSvc.endpoints.find((e) => e.local) as { ip: string };
        extra.push({ name: `${self.ip} to its own service ${localSvc.name}: hairpin, masqueraded when it lands on itself`, query: { protocol: 'tcp', destination: localSvc.clusterIP, port: localSvc.port, source: self.ip, origin: 'pod' }, count: 60 * localSvc.endpoints.length });
      }
      for (const x of extra) {
        it(x.name, async () => {
          const q = x.query;
          const observed = await lab.probe({ origin: q.origin ?? 'pod', proto: q.protocol as 'tcp' | 'udp', destination: q.destination, port: q.port as number, source: q.source, count: x.count, timeoutMs: x.timeoutMs });
          expect(disagreements(variants, q, observed, x.name).join('\n')).toBe('');
        });
      }
    });
  }
});

// The bundled mixed node: flannel's iptables-nft tables and kube-proxy's nft table walked together.
const EX = (f: string): string => readFileSync(new URL(`../../examples/nft-node/${f}`, import.meta.url), 'utf8');
describe.skipIf(!availability.ok || !lib.ok)(labSuiteTitle('kernel vs explain: examples/nft-node (flannel iptables-nft + kube-proxy nftables)'), () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();
  const node = JSON.parse(EX('node.json')) as NodeInput;
  const SCENARIOS: Array<{ name: string; query: Query; count: number }> = [
    { name: 'DNS from a pod: both CoreDNS endpoints', query: { protocol: 'udp', destination: '10.96.0.10', port: 53, source: '10.244.1.50', origin: 'pod' }, count: 200 },
    { name: 'web NodePort from outside: three endpoints, masqueraded', query: { protocol: 'tcp', destination: '192.168.0.10', port: 30080, source: '203.0.113.9', origin: 'external' }, count: 300 },
    { name: 'a port shop/web does not define: REJECT', query: { protocol: 'tcp', destination: '10.96.12.40', port: 81, source: '10.244.1.50', origin: 'pod' }, count: 4 },
    { name: 'unallocated service address: DROP', query: { protocol: 'tcp', destination: '10.96.0.99', port: 80, source: '10.244.1.50', origin: 'pod' }, count: 3 },
    { name: 'LB outside its source ranges: DROP before DNAT', query: { protocol: 'tcp', destination: '198.51.100.20', port: 443, source: '100.64.0.77', origin: 'external' }, count: 3 },
    { name: 'LB inside its source ranges', query: { protocol: 'tcp', destination: '198.51.100.20', port: 443, source: '203.0.113.9', origin: 'external' }, count: 100 },
    { name: 'eTP=Local LB from outside: the local endpoint, source kept', query: { protocol: 'tcp', destination: '198.51.100.21', port: 80, source: '203.0.113.9', origin: 'external' }, count: 20 },
    { name: 'no endpoints: REJECT', query: { protocol: 'tcp', destination: '10.96.50.5', port: 80, source: '10.244.1.50', origin: 'pod' }, count: 4 },
    { name: 'metrics-server reaching itself: hairpin masquerade', query: { protocol: 'tcp', destination: '10.96.140.1', port: 443, source: '10.244.1.90', origin: 'pod' }, count: 10 },
    { name: 'pod to the internet: flannel masquerade', query: { protocol: 'tcp', destination: '100.64.0.200', port: 443, source: '10.244.1.50', origin: 'pod' }, count: 10 },
  ];

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    // ext holds no service address (198.51.100.0/24 has the LB IPs); the external IP on the uplink
    // subnet is routed to the node, as the real network would.
    lab = await KernelLab.create({
      v4: { nodeAddress: '192.168.0.10', extAddress: '192.168.0.254', prefixLen: 24, podCIDR: '10.244.1.0/24', podGateway: '10.244.1.1', externalClients: ['203.0.113.0/24', '100.64.0.0/24'], viaNode: ['192.168.0.100/32'] },
      v6: null,
    });
    await lab.load({ iptables: EX('iptables.txt'), nftables: EX('nftables.txt') });
    await lab.addPods(['10.244.1.50']);
    await lab.listenOutside([{ proto: 'tcp', ip: '100.64.0.200', port: 443 }]);
    const withGateway: NodeInput = { ...node, addresses: [...(node.addresses ?? []), '10.244.1.1'] };
    variants = loadVariants(lib, { 'example files': { iptables: EX('iptables.txt'), nftables: EX('nftables.txt') } }, withGateway).variants;
  });

  labLifecycle(() => lab, timings, () => 'examples/nft-node');

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const q = s.query;
      const observed = await lab.probe({ origin: q.origin ?? 'pod', proto: q.protocol as 'tcp' | 'udp', destination: q.destination, port: q.port as number, source: q.source, count: s.count });
      expect(disagreements(variants, q, observed, s.name, { allowUncertain: true }).join('\n')).toBe('');
    });
  }
});
