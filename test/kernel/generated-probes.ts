// Probes for generated kube-proxy nodes, shared by the iptables-mode and nftables-mode kernel
// suites: every address a generated service answers on (cluster IP from a pod, the host and
// outside; node port; external and LB IPs from inside and outside their source ranges), with
// enough connections to test the endpoint distribution, and many clients for affinity services.
import { KernelLab, summarize, type LabOrigin, type ProbeSummary } from '../../src/lab/index.js';
import type { Query } from '../../src/model/contracts.js';

/** The generator's shape, as far as these tests use it. */
export interface GenService {
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

export const NODE_IP = '192.168.0.10';
/** Prefixes local in ext: outside clients (the generator's source ranges fall in or out of them). */
export const EXT_PREFIXES = ['203.0.113.0/24', '198.51.100.0/24', '192.168.100.0/24'];

/** Pod clients: a block no generated node uses. */
export const podClient = (i: number): string => `10.244.200.${2 + (i % 250)}`;

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
function within(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(len));
  return (ipNum(ip) & mask) >>> 0 === (ipNum(base) & mask) >>> 0;
}

/** Outside clients (host .10 upward of each ext prefix), optionally only those in/out of `ranges`. */
export function extClients(n: number, ranges: string[] = [], inside = true): string[] {
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

export interface Probe {
  name: string;
  origin: LabOrigin;
  proto: 'tcp' | 'udp';
  destination: string;
  port: number;
  /** One source, or (affinity) many, each making one first connection. */
  sources: string[];
  count: number;
}

export function probesFor(svc: GenService): Probe[] {
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

/** Sends a probe's connections (one client, or one first connection from each of many). */
export async function runProbe(lab: KernelLab, p: Probe): Promise<{ observed: ProbeSummary; query: Query; checkSource: 'none' | 'unmasqueraded' }> {
  const timeoutMs = p.count * p.sources.length > 4 ? 3_000 : 1_000;
  let observed: ProbeSummary;
  if (p.sources.length === 1) {
    observed = await lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source: p.sources[0], count: p.count, timeoutMs });
  } else {
    const each = await Promise.all(p.sources.map((source) => lab.probe({ origin: p.origin, proto: p.proto, destination: p.destination, port: p.port, source, count: 1, timeoutMs })));
    observed = summarize(each.flatMap((x) => x.records));
  }
  const query: Query = { protocol: p.proto, destination: p.destination, port: p.port, source: p.sources[0], origin: p.origin };
  // Many clients merged: the query names the first, so only "masqueraded or not" is comparable.
  return { observed, query, checkSource: p.sources.length > 1 ? 'none' : 'unmasqueraded' };
}
