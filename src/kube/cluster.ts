// A synthetic cluster, as kube-proxy on one node sees it: service ports with their addresses,
// policies and endpoints. This is the "truth" a generated dump is rendered from, so tests can
// compare what discovery and explain recover against what was put in.

import { cidrContains, formatAddr, parseCidr, v4 } from '../model/addr.js';
import type { Cidr } from '../model/addr.js';
import type { Service } from '../model/contracts.js';
import { Rng } from '../model/random.js';

export type KubeProtocol = Service['protocol'];
export type TrafficPolicy = Service['externalTrafficPolicy'];

export interface GeneratedEndpoint {
  ip: string;
  port: number;
  /** `ip:port`, the DNAT target and the KUBE-SEP hash input. */
  endpoint: string;
  /** On this node (inside its pod CIDR). */
  local: boolean;
}

/**
 * A generated service port: the contract's Service (what discovery must recover from the dump)
 * with the generator's own endpoint records and the name parts it renders comments from.
 */
export interface GeneratedService extends Omit<Service, 'endpoints'> {
  serviceName: string;
  /** '' for an unnamed port. */
  portName: string;
  /** All ready endpoints cluster-wide, in the order kube-proxy writes them. */
  endpoints: GeneratedEndpoint[];
}

/** The node the dump belongs to, in the shape of DESIGN.md's node context. */
export interface GeneratedNode {
  addresses: string[];
  podCIDRs: string[];
  interfaces: { uplink: string; pods: string };
}

export interface ServiceMix {
  /** Fraction of services of type NodePort. */
  nodePort?: number;
  /** Fraction of services of type LoadBalancer (they also get a node port). */
  loadBalancer?: number;
  /** Fraction of services with an external IP. */
  externalIPs?: number;
  /** Fraction of externally reachable services with externalTrafficPolicy Local. */
  etpLocal?: number;
  /** Fraction of services with internalTrafficPolicy Local. */
  itpLocal?: number;
  /** Fraction of services with ClientIP session affinity. */
  affinity?: number;
  /** Fraction of services without any endpoint. */
  noEndpoints?: number;
  /** Fraction of LoadBalancer services with loadBalancerSourceRanges. */
  sourceRanges?: number;
}

/** Used for every key the caller's mix leaves out; pass explicit zeros for a ClusterIP-only set. */
export const DEFAULT_MIX: Required<ServiceMix> = {
  nodePort: 0.2,
  loadBalancer: 0.1,
  externalIPs: 0.02,
  etpLocal: 0.3,
  itpLocal: 0.05,
  affinity: 0.1,
  noEndpoints: 0.02,
  sourceRanges: 0.5,
};

export interface ClusterOptions {
  services: number;
  /** Endpoints per service (services picked as no-endpoint get none). */
  endpoints: number;
  seed?: number;
  mix?: ServiceMix;
  /** This node's pod CIDR (default 10.244.0.0/24); must lie inside clusterCIDR. */
  podCIDR?: string;
  /** The cluster's pod CIDR (default 10.244.0.0/16): kube-proxy's local-traffic detector. */
  clusterCIDR?: string;
  /** The service CIDR cluster IPs come from (default 10.96.0.0/12). */
  serviceCIDR?: string;
  /** This node's address (default 192.168.0.10). */
  nodeIP?: string;
  /** Nodes the endpoints are spread over, this one included (default 16). */
  nodes?: number;
}

const TCP_PORTS = [80, 443, 8080, 9090, 6379, 5432, 3306, 8443];
const UDP_PORTS = [53, 514, 4789, 8125];
const SCTP_PORTS = [3868, 9899];
const PORT_NAMES = ['http', 'https', 'metrics', 'grpc', 'web'];
const TARGET_PORTS = [8080, 8443, 9376, 5000];
const SOURCE_RANGE_SETS = [['203.0.113.0/25'], ['198.51.100.0/24', '203.0.113.128/25'], ['192.168.0.0/16']];
/** An odd prime: multiplying by it permutes the cluster-IP offsets (see clusterIPAt). */
const SCRAMBLE = 2654435761;

function cidrOrThrow(s: string, what: string): Cidr {
  const c = parseCidr(s);
  if (!c || c.family !== 4) throw new Error(`${what}: expected an IPv4 CIDR, got ${JSON.stringify(s)}`);
  return c;
}

function ipAt(base: Cidr, offset: number): string {
  return formatAddr(v4((base.w[0] + offset) >>> 0));
}

export function resolveMix(mix: ServiceMix | undefined): Required<ServiceMix> {
  return { ...DEFAULT_MIX, ...(mix ?? {}) };
}

/** Defaults the generators share (and name in their rules: the local-traffic detector, the node). */
export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';
export const DEFAULT_NODE_IP = '192.168.0.10';

/** Builds the synthetic cluster; deterministic for a given seed. */
export function generateCluster(opts: ClusterOptions): { services: GeneratedService[]; node: GeneratedNode } {
  const n = Math.max(0, Math.floor(opts.services));
  const m = Math.max(0, Math.floor(opts.endpoints));
  const rng = new Rng(opts.seed ?? 1);
  const mix = resolveMix(opts.mix);
  const podCIDR = cidrOrThrow(opts.podCIDR ?? '10.244.0.0/24', 'podCIDR');
  const clusterCIDR = cidrOrThrow(opts.clusterCIDR ?? DEFAULT_CLUSTER_CIDR, 'clusterCIDR');
  const serviceCIDR = cidrOrThrow(opts.serviceCIDR ?? '10.96.0.0/12', 'serviceCIDR');
  const nodeIP = opts.nodeIP ?? DEFAULT_NODE_IP;
  if (!cidrContains(clusterCIDR, v4(podCIDR.w[0])) || podCIDR.prefix < clusterCIDR.prefix) {
    throw new Error(`podCIDR ${opts.podCIDR} is not inside clusterCIDR ${opts.clusterCIDR}`);
  }
  const serviceSpace = 2 ** (32 - serviceCIDR.prefix) - 2;
  if (n > serviceSpace) throw new Error(`${n} services do not fit the service CIDR (${serviceSpace} addresses)`);

  // Other nodes' pod CIDRs: the blocks of the same size inside the cluster CIDR after this one.
  const blockSize = 2 ** (32 - podCIDR.prefix);
  const blocks = 2 ** (podCIDR.prefix - clusterCIDR.prefix);
  const myBlock = (podCIDR.w[0] - clusterCIDR.w[0]) / blockSize;
  const hostsPerBlock = Math.max(1, blockSize - 3); // skip network, gateway (.1) and broadcast
  const wantedNodes = Math.max(opts.nodes ?? 16, Math.ceil((2 * m) / hostsPerBlock));
  const nodes = Math.min(blocks, Math.max(1, wantedNodes));
  const blockBase = (k: number): number => (clusterCIDR.w[0] + ((myBlock + k) % blocks) * blockSize) >>> 0;

  // Node ports come from 30000-32767 in a seeded order; health-check node ports share the pool.
  const nodePorts = Array.from({ length: 2768 }, (_, i) => 30000 + i);
  for (let i = nodePorts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [nodePorts[i], nodePorts[j]] = [nodePorts[j], nodePorts[i]];
  }
  let nextNodePort = 0;
  const takeNodePort = (): number | undefined => nodePorts[nextNodePort++];

  const lbBase = cidrOrThrow('198.18.0.0/16', 'lb');
  const extBase = cidrOrThrow('198.19.0.0/16', 'ext');
  let lbCount = 0;
  let extCount = 0;
  const nsCount = Math.max(1, Math.ceil(n / 20));
  const offsetSeed = rng.int(serviceSpace);

  const services: GeneratedService[] = [];
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    const protocol: GeneratedService['protocol'] = r < 0.85 ? 'tcp' : r < 0.97 ? 'udp' : 'sctp';
    const port = rng.pick(protocol === 'tcp' ? TCP_PORTS : protocol === 'udp' ? UDP_PORTS : SCTP_PORTS);
    const portName = rng.chance(0.3) ? '' : rng.pick(PORT_NAMES);
    const namespace = `ns-${i % nsCount}`;
    const serviceName = `svc-${i}`;
    const name = portName ? `${namespace}/${serviceName}:${portName}` : `${namespace}/${serviceName}`;
    // Cluster IPs: a permutation of the service CIDR's host offsets (i → i·SCRAMBLE mod size).
    const clusterIP = ipAt(serviceCIDR, 1 + ((i * SCRAMBLE + offsetSeed) % serviceSpace));

    const typeRoll = rng.next();
    const isLB = typeRoll < mix.loadBalancer;
    const isNodePort = isLB || typeRoll < mix.loadBalancer + mix.nodePort;
    const nodePort = isNodePort ? takeNodePort() : undefined;
    const loadBalancerIPs = isLB ? [ipAt(lbBase, 1 + lbCount++)] : [];
    const externalIPs = rng.chance(mix.externalIPs) ? [ipAt(extBase, 1 + extCount++)] : [];
    const sourceRanges = isLB && rng.chance(mix.sourceRanges) ? [...rng.pick(SOURCE_RANGE_SETS)] : [];
    const external = nodePort !== undefined || loadBalancerIPs.length > 0 || externalIPs.length > 0;
    const etpLocal = external && rng.chance(mix.etpLocal);
    const itpLocal = rng.chance(mix.itpLocal);
    const affinitySeconds = rng.chance(mix.affinity) ? rng.pick([10800, 10800, 3600, 600]) : undefined;
    const healthCheckNodePort = isLB && etpLocal ? takeNodePort() : undefined;
    const noEndpoints = rng.chance(mix.noEndpoints);

    const endpoints: GeneratedEndpoint[] = [];
    if (!noEndpoints) {
      const targetPort = rng.chance(0.5) ? port : rng.pick(TARGET_PORTS);
      const seen = new Set<number>();
      // Local policies are mostly deployed so that this node has an endpoint; leave some without.
      const forceLocal = (etpLocal || itpLocal) && rng.chance(0.8);
      for (let k = 0; k < m; k++) {
        let addr = 0;
        for (let tries = 0; ; tries++) {
          const node = k === 0 && forceLocal ? 0 : rng.int(nodes);
          addr = (blockBase(node) + 2 + rng.int(hostsPerBlock)) >>> 0;
          if (!seen.has(addr) || tries > 1000) break;
        }
        if (seen.has(addr)) continue;
        seen.add(addr);
        const ip = formatAddr(v4(addr));
        endpoints.push({ ip, port: targetPort, endpoint: `${ip}:${targetPort}`, local: cidrContains(podCIDR, v4(addr)) });
      }
      sortByAddress(endpoints);
    }
    const hasLocal = endpoints.some((e) => e.local);
    const status: GeneratedService['status'] =
      endpoints.length === 0 ? 'no-endpoints' : (etpLocal || itpLocal) && !hasLocal ? 'no-local-endpoints' : 'ok';
    const svc: GeneratedService = {
      name,
      namespace,
      serviceName,
      portName,
      protocol,
      clusterIP,
      port,
      externalIPs,
      loadBalancerIPs,
      sourceRanges,
      externalTrafficPolicy: etpLocal ? 'Local' : 'Cluster',
      internalTrafficPolicy: itpLocal ? 'Local' : 'Cluster',
      endpoints,
      status,
    };
    if (nodePort !== undefined) svc.nodePort = nodePort;
    if (healthCheckNodePort !== undefined) svc.healthCheckNodePort = healthCheckNodePort;
    if (affinitySeconds !== undefined) svc.affinitySeconds = affinitySeconds;
    services.push(svc);
  }
  return {
    services,
    node: {
      addresses: [nodeIP],
      podCIDRs: [`${formatAddr(v4(podCIDR.w[0]))}/${podCIDR.prefix}`],
      interfaces: { uplink: 'eth0', pods: 'cni0' },
    },
  };
}

function sortByAddress(eps: GeneratedEndpoint[]): void {
  const key = new Map<GeneratedEndpoint, number>();
  for (const e of eps) {
    const p = e.ip.split('.');
    key.set(e, (+p[0] * 16777216 + +p[1] * 65536 + +p[2] * 256 + +p[3]) * 65536 + e.port);
  }
  eps.sort((a, b) => (key.get(a) as number) - (key.get(b) as number));
}
