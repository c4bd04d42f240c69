// Kernel differential tests for kube-proxy's nftables mode on IPv6: the `ip6 kube-proxy` table of a
// dual-stack node (what the renderer writes for IPv6 services, in the v1.35 and v1.36 shapes) loaded
// with `nft -f` into a namespace, real IPv6 connections from a pod, the host and outside, and where
// they landed compared with explain on the kernel's own `nft list ruleset` text and `nft -j` JSON,
// with both engines. The services are written out here (the cluster generator is IPv4-only).
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab, scanNftDnatTargets } from '../../src/lab/index.js';
import type { GeneratedEndpoint, GeneratedService } from '../../src/kube/cluster.js';
import { renderNftablesBoth, type NftShape } from '../../src/kube/render-nft.js';
import type { Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';

const lib = await loadLibrary();

// The lab's IPv6 plan (src/lab/topology.ts): node fd00:192:168::2, pods in fd00:10:244::/56 behind
// the node, outside clients in 2001:db8:113::/64.
const NODE6 = 'fd00:192:168::2';
const POD_CLIENT = 'fd00:10:244:c8::7';
const OUTSIDE = '2001:db8:113::10';
const RENDER = { nodeIP: NODE6, clusterCIDR: 'fd00:10:244::/56', serviceCIDR: 'fd00:10:96::/112' };

const ep = (ip: string, port: number, local: boolean): GeneratedEndpoint => ({ ip, port, endpoint: `[${ip}]:${port}`, local });
const svc = (s: Partial<GeneratedService> & Pick<GeneratedService, 'serviceName' | 'portName' | 'protocol' | 'clusterIP' | 'port' | 'endpoints'>): GeneratedService => ({
  name: `default/${s.serviceName}${s.portName ? `:${s.portName}` : ''}`,
  namespace: 'default',
  externalIPs: [],
  loadBalancerIPs: [],
  sourceRanges: [],
  externalTrafficPolicy: 'Cluster',
  internalTrafficPolicy: 'Cluster',
  status: s.endpoints.length === 0 ? 'no-endpoints' : 'ok',
  ...s,
});

const SERVICES: GeneratedService[] = [
  // Three endpoints, one on this node (fd00:10:244::/64 is the node's own pod block).
  svc({ serviceName: 'web', portName: 'http', protocol: 'tcp', clusterIP: 'fd00:10:96::10', port: 80, nodePort: 30080, endpoints: [ep('fd00:10:244::5', 8080, true), ep('fd00:10:244:1::6', 8080, false), ep('fd00:10:244:2::9', 8080, false)] }),
  svc({ serviceName: 'dns', portName: 'dns', protocol: 'udp', clusterIP: 'fd00:10:96::a', port: 53, endpoints: [ep('fd00:10:244:1::20', 53, false), ep('fd00:10:244:3::21', 53, false)] }),
  // externalTrafficPolicy Local on a node port: only the local endpoint, client source kept.
  svc({ serviceName: 'edge', portName: '', protocol: 'tcp', clusterIP: 'fd00:10:96::30', port: 443, nodePort: 30443, externalTrafficPolicy: 'Local', endpoints: [ep('fd00:10:244::30', 8443, true), ep('fd00:10:244:4::31', 8443, false)] }),
  svc({ serviceName: 'empty', portName: '', protocol: 'tcp', clusterIP: 'fd00:10:96::40', port: 80, endpoints: [] }),
];

interface Scenario {
  name: string;
  query: Query;
  count: number;
  timeoutMs?: number;
}
// IPv6 REJECT: the ICMPv6 error for a SYN comes back while connect() still holds the socket lock
// (seen as TcpExtLockDroppedIcmps), so Linux keeps it as a soft error and the connection is refused
// at the first SYN retransmission, ~1 s later. The probes wait past that.
const REFUSED_MS = 3_000;
const SCENARIOS: Scenario[] = [
  { name: 'ClusterIP from a pod: three endpoints, no masquerade', query: { protocol: 'tcp', destination: 'fd00:10:96::10', port: 80, source: POD_CLIENT, origin: 'pod' }, count: 240 },
  { name: 'ClusterIP from the host: masqueraded', query: { protocol: 'tcp', destination: 'fd00:10:96::10', port: 80, source: NODE6, origin: 'host' }, count: 120 },
  { name: 'ClusterIP from outside: masqueraded', query: { protocol: 'tcp', destination: 'fd00:10:96::10', port: 80, source: OUTSIDE, origin: 'external' }, count: 120 },
  { name: 'NodePort from outside: masqueraded', query: { protocol: 'tcp', destination: NODE6, port: 30080, source: OUTSIDE, origin: 'external' }, count: 120 },
  { name: 'UDP DNS from a pod: both endpoints', query: { protocol: 'udp', destination: 'fd00:10:96::a', port: 53, source: POD_CLIENT, origin: 'pod' }, count: 120 },
  { name: 'eTP=Local NodePort from outside: the local endpoint, source kept', query: { protocol: 'tcp', destination: NODE6, port: 30443, source: OUTSIDE, origin: 'external' }, count: 20 },
  { name: 'hairpin: an endpoint reaching its own service, masqueraded when it lands on itself', query: { protocol: 'tcp', destination: 'fd00:10:96::10', port: 80, source: 'fd00:10:244::5', origin: 'pod' }, count: 240 },
  { name: 'no endpoints: REJECT', query: { protocol: 'tcp', destination: 'fd00:10:96::40', port: 80, source: POD_CLIENT, origin: 'pod' }, count: 4, timeoutMs: REFUSED_MS },
  { name: 'a port the service does not define: REJECT', query: { protocol: 'tcp', destination: 'fd00:10:96::10', port: 81, source: POD_CLIENT, origin: 'pod' }, count: 4, timeoutMs: REFUSED_MS },
  { name: 'unallocated service address: DROP', query: { protocol: 'tcp', destination: 'fd00:10:96::99', port: 80, source: POD_CLIENT, origin: 'pod' }, count: 3, timeoutMs: 800 },
];

const SHAPES: NftShape[] = ['v1.35', 'v1.36'];
const RENDERED = SHAPES.map((shape) => ({ shape, ...renderNftablesBoth(SERVICES, { ...RENDER, shape }) }));

describe.skipIf(!availability.ok || !lib.ok)(labSuiteTitle('kernel vs explain: kube-proxy nftables node, IPv6'), () => {
  let lab: KernelLab;
  const timings = new Timings();
  beforeAll(async () => {
    timings.begin();
    lab = await KernelLab.create();
    // Every shape's DNAT targets listen from the start (the agent listens per port by wildcard).
    await lab.listenAt(RENDERED.flatMap((r) => scanNftDnatTargets(r.script).targets));
    await lab.addPods([POD_CLIENT]);
  });
  labLifecycle(() => lab, timings, () => 'kube-proxy nftables node (IPv6)');

  for (const r of RENDERED) {
    describe(r.shape, () => {
      let variants: Variant[] = [];
      let kernelListing = '';
      beforeAll(async () => {
        if (!lib.ok) return;
        await lab.load({ nftables: r.script });
        kernelListing = await lab.listNftables();
        const dumps = { 'kernel listing': { nftables: kernelListing }, 'kernel JSON': { nftables: await lab.listNftables({ json: true }) } };
        variants = loadVariants(lib, dumps, lab.nodeContext()).variants;
      });

      it('the table loads as `table ip6 kube-proxy` with every service in its maps', () => {
        expect(kernelListing).toMatch(/^table ip6 kube-proxy \{/m);
        for (const s of SERVICES) expect(kernelListing).toContain(s.clusterIP);
      });

      it('services() finds the IPv6 services and their endpoints', () => {
        const found = variants[0].rs as unknown as { services(): Array<{ clusterIP: string; port: number; endpoints: Array<{ endpoint: string }> }> };
        const brief = found.services().map((s) => `${s.clusterIP} ${s.port} ${s.endpoints.map((e) => e.endpoint).sort().join(',')}`).sort();
        expect(brief).toEqual(SERVICES.map((s) => `${s.clusterIP} ${s.port} ${s.endpoints.map((e) => e.endpoint).sort().join(',')}`).sort());
      });

      for (const s of SCENARIOS) {
        it(s.name, async () => {
          const q = s.query;
          const t0 = performance.now();
          const observed = await lab.probe({ origin: q.origin ?? 'pod', proto: q.protocol as 'tcp' | 'udp', destination: q.destination, port: q.port as number, source: q.source, count: s.count, timeoutMs: s.timeoutMs });
          timings.add(`${r.shape} ${s.name}`, performance.now() - t0, observed.total);
          expect(disagreements(variants, q, observed, `${r.shape} ${s.name}`).join('\n')).toBe('');
        });
      }
    });
  }
});
