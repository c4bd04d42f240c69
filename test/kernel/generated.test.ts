// Kernel differential tests on generated kube-proxy nodes (src/kube/generate.ts, when present):
// every service of a seeded mix — ClusterIP, NodePort, LoadBalancer with and without source
// ranges, externalIPs, eTP/iTP Local, affinity, no endpoints — probed from a pod, the host and
// outside, and compared with explain on the dump in both styles the generator writes (as kube-proxy
// restores it, as iptables-save prints it) and as the kernel saves it back.
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab, summarize, type LabOrigin, type ProbeSummary } from '../../src/lab/index.js';
import type { NodeInput, Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';
import { generateIptables } from '../../src/kube/generate.js';

/** The generator's shape, as far as these tests use it (kept structural: it is another module's). */
interface GenService {
  name: string;
  protocol: string;
  clusterIP: string;
  port: number;
  nodePort?: number;
  loadBalancerIPs: string[];
  externalIPs: string[];
  sourceRanges: string[];
  externalTrafficPolicy: string;
  internalTrafficPolicy: string;
  affinitySeconds?: number;
  status: 'ok' | 'no-endpoints' | 'no-local-endpoints';
  endpoints: Array<{ ip: string }>;
}
type Generate = (o: Record<string, unknown>) => { text: string; services: GenService[]; node: NodeInput };

const lib = await loadLibrary();
const gen = { ok: true as const, generate: generateIptables as unknown as Generate };
const skipReason = !lib.ok ? lib.reason : null;
const title = skipReason ? `kernel vs explain: generated kube-proxy node — skipped: ${skipReason}` : labSuiteTitle('kernel vs explain: generated kube-proxy node');

const NODE_IP = '192.168.0.10';
const OPTIONS = {
  services: 24,
  endpoints: 3,
  seed: 11,
  nodeIP: NODE_IP,
  mix: { nodePort: 0.3, loadBalancer: 0.25, externalIPs: 0.15, etpLocal: 0.35, itpLocal: 0.1, affinity: 0.15, noEndpoints: 0.08, sourceRanges: 0.6 },
};
/** Pod clients: a block no generated node uses. */
const podClient = (i: number): string => `10.244.200.${2 + (i % 250)}`;
/** Prefixes local in ext: outside clients (the generator's source ranges fall in or out of them). */
const EXT_PREFIXES = ['203.0.113.0/24', '198.51.100.0/24', '192.168.100.0/24'];

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
function within(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(len));
  return (ipNum(ip) & mask) >>> 0 === (ipNum(base) & mask) >>> 0;
}

/** Outside clients (host .10 upward of each ext prefix), optionally only those in/out of `ranges`. */
function extClients(n: number, ranges: string[] = [], inside = true): string[] {
  const out: string[] = [];
  for (const p of EXT_PREFIXES) {
    const base = p.split('/')[0].split('.').slice(0, 3).join('.');
    for (let h = 10; h < 250 && out.length < n; h++) {
      const ip = `${base}.${h}`;
      if (ranges.length === 0 || ranges.some((r) => within(ip, r)) === inside) out.push(ip);
    }
  }
  return out;
}

interface Probe {
  name: string;
  origin: LabOrigin;
  proto: 'tcp' | 'udp';
  destination: string;
  port: number;
  /** One source, or (affinity) many, each making one first connection. */
  sources: string[];
  count: number;
}

function probesFor(svc: GenService): Probe[] {
  if (svc.protocol !== 'tcp' && svc.protocol !== 'udp') return [];
  const proto = svc.protocol;
  const sticky = svc.affinitySeconds !== undefined;
  const out: Probe[] = [];
  /** `expectAnswer` only sizes the probe (explain decides what is right); `clients` picks sources. */
  const add = (name: string, origin: LabOrigin, destination: string, port: number, expectAnswer: boolean, clients: (n: number) => string[]): void => {
    const n = expectAnswer ? 45 : 4;
    // Affinity pins a client after its first connection: spread over many clients instead.
    const spread = sticky && expectAnswer;
    if (spread && origin === 'host') return; // one host address: nothing to spread over
    const sources = spread ? clients(n) : clients(1);
    if (sources.length === 0) return;
    out.push({ name: `${svc.name} (${proto}) ${name}`, origin, proto, destination, port, sources, count: spread ? 1 : n });
  };
  const ok = svc.status === 'ok';
  const noLocal = svc.status === 'no-local-endpoints';
  const internalOk = ok || (noLocal && svc.internalTrafficPolicy !== 'Local');
  const externalOk = ok || (noLocal && svc.externalTrafficPolicy !== 'Local');
  const pods = (n: number): string[] => Array.from({ length: n }, (_, i) => podClient(i));
  const anyone = (n: number): string[] => extClients(n);
  add('ClusterIP from a pod', 'pod', svc.clusterIP, svc.port, internalOk, pods);
  add('ClusterIP from the host', 'host', svc.clusterIP, svc.port, internalOk, () => [NODE_IP]);
  add('ClusterIP from outside', 'external', svc.clusterIP, svc.port, internalOk, anyone);
  if (svc.nodePort !== undefined) add('NodePort from outside', 'external', NODE_IP, svc.nodePort, externalOk, anyone);
  for (const ip of svc.externalIPs) add(`externalIP ${ip} from outside`, 'external', ip, svc.port, externalOk, anyone);
  for (const ip of svc.loadBalancerIPs) {
    const r = svc.sourceRanges;
    add(r.length ? `LB ${ip} from inside ${r.join(' ')}` : `LB ${ip} from outside`, 'external', ip, svc.port, externalOk, (n) => extClients(n, r, true));
    if (r.length) add(`LB ${ip} from outside ${r.join(' ')}`, 'external', ip, svc.port, false, (n) => extClients(n, r, false));
  }
  return out;
}

/** Two nodes: a broad mix, and a smaller one with kube-proxy's --masquerade-all. */
const CONFIGS: Array<{ label: string; options: typeof OPTIONS & { masqueradeAll?: boolean }; checkCoverage: boolean }> = [
  { label: `${OPTIONS.services} services × ${OPTIONS.endpoints} endpoints, seed ${OPTIONS.seed}`, options: OPTIONS, checkCoverage: true },
  { label: '8 services × 2 endpoints, seed 5, --masquerade-all', options: { ...OPTIONS, services: 8, endpoints: 2, seed: 5, masqueradeAll: true }, checkCoverage: false },
];

for (const config of CONFIGS) {
  const generated = gen.ok ? gen.generate(config.options) : null;
  const PROBES = generated ? generated.services.flatMap(probesFor) : [];

  describe.skipIf(!availability.ok || skipReason !== null)(`${title} (${config.label})`, () => {
    let lab: KernelLab;
    let variants: Variant[] = [];
    const timings = new Timings();

    beforeAll(async () => {
      timings.begin();
      if (!lib.ok || !gen.ok || !generated) return;
      lab = await KernelLab.create({ v4: { nodeAddress: NODE_IP, externalClients: EXT_PREFIXES }, v6: null });
      await lab.load({ iptables: generated.text });
      // All pod clients up front: one route batch instead of one per probe.
      await lab.addPods([...new Set(PROBES.filter((p) => p.origin === 'pod').flatMap((p) => p.sources))]);
      const restoreStyle = gen.generate({ ...config.options, style: 'restore' }).text;
      const node: NodeInput = { ...generated.node, addresses: [...(generated.node.addresses ?? []), lab.topology.v4.podGateway] };
      const dumps = { 'generated (save style)': { iptables: generated.text }, 'generated (restore style)': { iptables: restoreStyle }, 'kernel re-saved': { iptables: await lab.save() } };
      const loaded = loadVariants(lib, dumps, node);
      variants = loaded.variants;
      for (const n of loaded.notes) console.info(`[kernel] ${n}`);
    });

    labLifecycle(() => lab, timings, () => `generated node (${config.label})`);

    if (config.checkCoverage)
      it('covers every kind of service the mix asks for', () => {
        const names = PROBES.map((p) => p.name).join('\n');
        for (const kind of ['ClusterIP from a pod', 'NodePort from outside', 'externalIP', 'LB ', 'from inside', 'from outside 1']) expect(names).toContain(kind);
      });

    for (const p of PROBES) {
      it(p.name, async () => {
        const t0 = performance.now();
        const timeoutMs = p.count * p.sources.length > 4 ? 3_000 : 1_000;
        let observed: ProbeSummary;
        if (p.sources.length === 1) {
          observed = await lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source: p.sources[0], count: p.count, timeoutMs });
        } else {
          const each = await Promise.all(p.sources.map((source) => lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source, count: 1, timeoutMs })));
          observed = summarize(each.flatMap((s) => s.records));
        }
        timings.add(p.name, performance.now() - t0, observed.total);
        const query: Query = { protocol: p.proto, destination: p.destination, port: p.port, source: p.sources[0], origin: p.origin };
        // Many clients merged: the query names the first, so only "masqueraded or not" is comparable.
        const checkSource = p.sources.length > 1 ? 'none' : 'unmasqueraded';
        expect(disagreements(variants, query, observed, p.name, { checkSource }).join('\n')).toBe('');
      });
    }
  });
}
