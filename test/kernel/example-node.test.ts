// Kernel differential tests on the bundled example node (examples/kube-node: what `npm start`
// preloads and the README explains). Its services are discovered with landfall's own services(),
// then every address of every service is probed — cluster IP from a pod, the host and outside,
// node ports, external IPs, LB IPs from inside and outside their source ranges — and compared
// with explain. The example also carries flannel's own masquerade rules next to kube-proxy's.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab, summarize, type LabOrigin, type ProbeSummary } from '../../src/lab/index.js';
import type { NodeInput, Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants, type ExplainingRuleset } from './library.js';

const DIR = new URL('../../examples/kube-node/', import.meta.url);
// The example ships with the project: reading it must succeed (a missing one fails, never skips).
const DUMP = readFileSync(new URL('iptables.txt', DIR), 'utf8');
const NODE = JSON.parse(readFileSync(new URL('node.json', DIR), 'utf8')) as NodeInput;
const lib = await loadLibrary();

interface DiscoveredService {
  name: string;
  protocol: string;
  clusterIP: string;
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  sourceRanges: string[];
  affinitySeconds?: number;
  endpoints: Array<{ endpoint: string }>;
}
type WithServices = ExplainingRuleset & { services?: () => DiscoveredService[] };

const reference = lib.ok ? (lib.loadRuleset({ iptables: DUMP, node: NODE }, { engine: 'reference' }) as WithServices) : null;
const services = reference?.services?.() ?? [];
const skipReason = !lib.ok ? lib.reason : null;
const title = skipReason ? `kernel vs explain: bundled example node — skipped: ${skipReason}` : labSuiteTitle('kernel vs explain: bundled example node');

// --- addresses --------------------------------------------------------------------------------
const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const ipStr = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
function within(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(len));
  return (ipNum(ip) & mask) >>> 0 === (ipNum(base) & mask) >>> 0;
}
const v4 = (ip: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(ip);

const NODE_IP = NODE.addresses?.find(v4) ?? '192.168.0.10';
const POD_CIDR = NODE.podCIDRs?.find((c) => v4(c.split('/')[0])) ?? '10.244.1.0/24';
const GATEWAY = ipStr(ipNum(POD_CIDR.split('/')[0]) + 1);
const UPLINK_NET = `${NODE_IP.split('.').slice(0, 3).join('.')}.0/24`;
const EXT_ADDRESS = [254, 253, 252].map((h) => `${NODE_IP.split('.').slice(0, 3).join('.')}.${h}`).find((a) => a !== NODE_IP) as string;
const VIPS = services.flatMap((s) => [s.clusterIP, ...s.externalIPs, ...s.loadBalancerIPs]).filter(v4);
const ENDPOINT_IPS = new Set(services.flatMap((s) => s.endpoints.map((e) => e.endpoint.slice(0, e.endpoint.lastIndexOf(':')))));
/** Client prefixes for ext that hold no service address. */
const EXT_PREFIXES = ['203.0.113.0/24', '198.18.0.0/24', '198.51.100.0/24', '100.64.0.0/24'].filter((p) => !VIPS.some((ip) => within(ip, p)));
/** Service addresses on the uplink subnet that the network would route to the node. */
const VIA_NODE = VIPS.filter((ip) => within(ip, UPLINK_NET) && ip !== NODE_IP).map((ip) => `${ip}/32`);

function extClients(n: number, ranges: string[] = [], inside = true): string[] {
  const pool = [...EXT_PREFIXES.flatMap((p) => Array.from({ length: 240 }, (_, h) => ipStr(ipNum(p.split('/')[0]) + 10 + h))), EXT_ADDRESS];
  return pool.filter((ip) => ranges.length === 0 || ranges.some((r) => within(ip, r)) === inside).slice(0, n);
}
function podClients(n: number): string[] {
  const base = ipNum(POD_CIDR.split('/')[0]);
  const out: string[] = [];
  for (let h = 250; h > 2 && out.length < n; h--) if (!ENDPOINT_IPS.has(ipStr(base + h))) out.push(ipStr(base + h));
  return out;
}

interface Probe {
  name: string;
  origin: LabOrigin;
  proto: 'tcp' | 'udp';
  destination: string;
  port: number;
  clients: (n: number) => string[];
  sticky: boolean;
}

function probesFor(s: DiscoveredService): Probe[] {
  if ((s.protocol !== 'tcp' && s.protocol !== 'udp') || !v4(s.clusterIP || NODE_IP)) return [];
  const base = { proto: s.protocol, sticky: s.affinitySeconds !== undefined } as const;
  const out: Probe[] = [];
  const n = `${s.name} (${s.protocol})`;
  if (s.clusterIP) {
    out.push({ ...base, name: `${n} ClusterIP from a pod`, origin: 'pod', destination: s.clusterIP, port: s.port, clients: podClients });
    out.push({ ...base, name: `${n} ClusterIP from the host`, origin: 'host', destination: s.clusterIP, port: s.port, clients: () => [NODE_IP] });
    out.push({ ...base, name: `${n} ClusterIP from outside`, origin: 'external', destination: s.clusterIP, port: s.port, clients: (k) => extClients(k) });
  }
  if (s.nodePort !== undefined) {
    out.push({ ...base, name: `${n} NodePort from outside`, origin: 'external', destination: NODE_IP, port: s.nodePort, clients: (k) => extClients(k) });
    out.push({ ...base, name: `${n} NodePort on 127.0.0.1 from the host`, origin: 'host', destination: '127.0.0.1', port: s.nodePort, clients: () => ['127.0.0.1'] });
  }
  for (const ip of s.externalIPs.filter(v4)) out.push({ ...base, name: `${n} externalIP ${ip} from outside`, origin: 'external', destination: ip, port: s.port, clients: (k) => extClients(k) });
  for (const ip of s.loadBalancerIPs.filter(v4)) {
    const r = s.sourceRanges;
    out.push({ ...base, name: `${n} LB ${ip} from ${r.length ? `inside ${r.join(' ')}` : 'outside'}`, origin: 'external', destination: ip, port: s.port, clients: (k) => extClients(k, r, true) });
    if (r.length) out.push({ ...base, name: `${n} LB ${ip} from outside ${r.join(' ')}`, origin: 'external', destination: ip, port: s.port, clients: (k) => extClients(k, r, false) });
  }
  return out;
}

const PROBES = services.flatMap(probesFor);

describe.skipIf(!availability.ok || skipReason !== null)(title, () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create({
      v4: { nodeAddress: NODE_IP, extAddress: EXT_ADDRESS, prefixLen: 24, podGateway: GATEWAY, podCIDR: POD_CIDR, externalClients: EXT_PREFIXES, viaNode: VIA_NODE },
      v6: null,
    });
    const report = await lab.load({ iptables: DUMP });
    for (const w of report.warnings) console.info(`[kernel] example node: ${w}`);
    await lab.addPods(podClients(60));
    const node: NodeInput = { ...NODE, addresses: [...(NODE.addresses ?? []), GATEWAY] };
    const loaded = loadVariants(lib, { 'bundled example': { iptables: DUMP }, 'kernel re-saved': { iptables: await lab.save() } }, node);
    variants = loaded.variants;
    for (const n of loaded.notes) console.info(`[kernel] ${n}`);
  });


  it('services() finds the example services to probe (so the probes below are not vacuous)', () => {
    expect(services.length).toBeGreaterThanOrEqual(8);
    expect(PROBES.length).toBeGreaterThanOrEqual(20);
  });

  labLifecycle(() => lab, timings, () => `bundled example node (${services.length} services)`);

  it('discovers services of every kind in the example', () => {
    expect(PROBES.some((p) => p.name.includes('NodePort'))).toBe(true);
    expect(PROBES.some((p) => p.name.includes(' LB '))).toBe(true);
    expect(PROBES.some((p) => p.sticky)).toBe(true);
  });

  for (const p of PROBES) {
    it(p.name, async () => {
      const t0 = performance.now();
      const first = p.clients(1)[0];
      const query: Query = { protocol: p.proto, destination: p.destination, port: p.port, source: first, origin: p.origin };
      // Explain only sizes the probe (a predicted DROP needs a few 1 s timeouts, not 60): the
      // comparison below still fails if the kernel answers where explain said nobody would.
      const predicted = variants[0].rs.explain(query).outcomes;
      const answers = predicted.some((o) => o.verdict !== 'drop');
      const n = answers ? 45 : 4;
      const timeoutMs = answers ? 3_000 : 1_000;
      // Affinity pins a client after its first connection: spread over many first connections.
      const spread = p.sticky && answers && p.origin !== 'host';
      let observed: ProbeSummary;
      if (spread) {
        const each = await Promise.all(p.clients(n).map((source) => lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source, count: 1, timeoutMs })));
        observed = summarize(each.flatMap((s) => s.records));
      } else {
        observed = await lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source: first, count: p.sticky && answers ? 1 : n, timeoutMs });
      }
      timings.add(p.name, performance.now() - t0, observed.total);
      expect(disagreements(variants, query, observed, p.name, { checkSource: spread ? 'none' : 'unmasqueraded' }).join('\n')).toBe('');
    });
  }
});
