// The packet mix a scaling point is measured with: first packets of connections, spread uniformly
// over the generated services (so every position in KUBE-SERVICES is equally likely, which is what
// makes the iptables-mode mean ≈ half the chain), over node ports and LB/external IPs, plus misses
// that walk the whole chain and find nothing. Deterministic by seed.

import type { Query } from '../model/contracts.js';
import type { GeneratedNode, GeneratedService } from '../kube/cluster.js';
import { Rng } from '../model/random.js';
import { DEFAULT_TRAFFIC, type PacketKind, type TrafficMix } from './types.js';

export interface TrafficPacket {
  kind: PacketKind;
  query: Query;
  /** Index into the services the packet was aimed at (-1 for a miss). */
  service: number;
}

const KINDS: readonly PacketKind[] = ['clusterIP', 'hostClusterIP', 'nodePort', 'external', 'miss'];
/** Misses aim at the service CIDR the generator allocates from (cluster.ts default 10.96.0.0/12). */
const SERVICE_NET = (10 << 24) | (96 << 16);
const SERVICE_HOSTS = 2 ** 20 - 2;
/** Bounded retries for an unused address; the service CIDR is mostly empty, so 1-2 tries suffice. */
const MISS_TRIES = 64;

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function ipv4Value(s: string): number {
  const p = s.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

/** A pod on this node: a host address of its pod CIDR other than network, gateway and broadcast. */
function podSource(rng: Rng, node: GeneratedNode): string {
  const [net, len] = (node.podCIDRs[0] ?? '10.244.0.0/24').split('/');
  const size = 2 ** (32 - Number(len));
  return ipv4((ipv4Value(net) + 2 + rng.int(Math.max(1, size - 3))) >>> 0);
}

/** Builds `count` packets; `weights` missing kinds take DEFAULT_TRAFFIC. */
export function buildTraffic(
  services: readonly GeneratedService[],
  node: GeneratedNode,
  count: number,
  seed: number,
  weights: TrafficMix = {},
): TrafficPacket[] {
  const rng = new Rng((seed ^ 0x5ca1ab1e) >>> 0);
  const nodeIP = node.addresses[0];
  const withNodePort: number[] = [];
  const withExternal: number[] = [];
  const clusterIPs = new Set<number>();
  services.forEach((s, i) => {
    if (s.nodePort !== undefined) withNodePort.push(i);
    if (s.loadBalancerIPs.length + s.externalIPs.length > 0) withExternal.push(i);
    clusterIPs.add(ipv4Value(s.clusterIP));
  });
  const available: Record<PacketKind, boolean> = {
    clusterIP: services.length > 0,
    hostClusterIP: services.length > 0,
    nodePort: withNodePort.length > 0,
    external: withExternal.length > 0,
    miss: true,
  };
  const w = { ...DEFAULT_TRAFFIC, ...weights };
  const kinds = KINDS.filter((k) => available[k] && w[k] > 0);
  if (kinds.length === 0) kinds.push('miss');
  const total = kinds.reduce((a, k) => a + w[k], 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const k of kinds) cumulative.push((acc += total > 0 ? w[k] / total : 1 / kinds.length));

  const sport = (): number => 32768 + rng.int(28232);
  const out: TrafficPacket[] = [];
  for (let n = 0; n < count; n++) {
    const u = rng.next();
    let ki = cumulative.findIndex((c) => u < c);
    if (ki < 0) ki = kinds.length - 1;
    const kind = kinds[ki];
    switch (kind) {
      case 'clusterIP':
      case 'hostClusterIP': {
        const i = rng.int(services.length);
        const s = services[i];
        const query: Query = { protocol: s.protocol, destination: s.clusterIP, port: s.port, sourcePort: sport() };
        if (kind === 'clusterIP') Object.assign(query, { origin: 'pod', source: podSource(rng, node) });
        else query.origin = 'host';
        out.push({ kind, query, service: i });
        break;
      }
      case 'nodePort': {
        const i = withNodePort[rng.int(withNodePort.length)];
        const s = services[i];
        const query: Query = { protocol: s.protocol, destination: nodeIP, port: s.nodePort, origin: 'external', source: `203.0.113.${1 + rng.int(254)}`, sourcePort: sport() };
        out.push({ kind, query, service: i });
        break;
      }
      case 'external': {
        const i = withExternal[rng.int(withExternal.length)];
        const s = services[i];
        const ips = [...s.loadBalancerIPs, ...s.externalIPs];
        const query: Query = { protocol: s.protocol, destination: rng.pick(ips), port: s.port, origin: 'external', source: `203.0.113.${1 + rng.int(254)}`, sourcePort: sport() };
        out.push({ kind, query, service: i });
        break;
      }
      case 'miss': {
        if (rng.chance(0.5)) {
          let addr = 0;
          for (let t = 0; t < MISS_TRIES; t++) {
            addr = (SERVICE_NET + 1 + rng.int(SERVICE_HOSTS)) >>> 0;
            if (!clusterIPs.has(addr)) break;
          }
          out.push({ kind, service: -1, query: { protocol: 'tcp', destination: ipv4(addr), port: 80, origin: 'pod', source: podSource(rng, node), sourcePort: sport() } });
        } else {
          // Below the NodePort range (30000-32767), so never a node port or a health-check port.
          const port = 1024 + rng.int(28976);
          out.push({ kind, service: -1, query: { protocol: 'tcp', destination: nodeIP, port, origin: 'external', source: `203.0.113.${1 + rng.int(254)}`, sourcePort: sport() } });
        }
        break;
      }
    }
  }
  return out;
}

/** Packets per kind, for the report. */
export function trafficCounts(packets: readonly TrafficPacket[]): Partial<Record<PacketKind, number>> {
  const out: Partial<Record<PacketKind, number>> = {};
  for (const p of packets) out[p.kind] = (out[p.kind] ?? 0) + 1;
  return out;
}
