// The kube-proxy scenarios the kernel decides and landfall's explain must predict, on the node of
// fixtures/kube-proxy-node.txt (node IP 192.168.0.2, pods 10.244.0.0/16, clients 203.0.113.0/24).
import type { Origin, Protocol } from '../../src/model/contracts.js';

export interface Scenario {
  name: string;
  origin: Origin;
  protocol: Extract<Protocol, 'tcp' | 'udp'>;
  destination: string;
  port: number;
  source: string;
  /** Connections: enough for every predicted endpoint to expect ≥ 30 hits; a few for DROP/REJECT. */
  count: number;
  /** Per connection; long where an answer is expected, so a busy machine cannot fake a DROP. */
  timeoutMs: number;
}

/** A pod that is not an endpoint of anything. */
export const POD = '10.244.3.3';
export const NODE_IP = '192.168.0.2';
export const CLIENT = '203.0.113.10';

export const SCENARIOS: Scenario[] = [
  // 1200 connections: enough power to catch a 1/3 → 1/4 probability error (chi-square ≈ 37).
  { name: 'ClusterIP from a pod: 3 endpoints by statistic, no masquerade', origin: 'pod', protocol: 'tcp', destination: '10.96.0.10', port: 80, source: POD, count: 1200, timeoutMs: 3_000 },
  { name: 'ClusterIP from the host: masqueraded (! -s podCIDR)', origin: 'host', protocol: 'tcp', destination: '10.96.0.10', port: 80, source: NODE_IP, count: 150, timeoutMs: 3_000 },
  { name: 'ClusterIP from outside: masqueraded', origin: 'external', protocol: 'tcp', destination: '10.96.0.10', port: 80, source: CLIENT, count: 150, timeoutMs: 3_000 },
  { name: 'UDP ClusterIP (DNS) from a pod', origin: 'pod', protocol: 'udp', destination: '10.96.0.53', port: 53, source: POD, count: 120, timeoutMs: 3_000 },
  { name: 'UDP ClusterIP (DNS) from outside: masqueraded', origin: 'external', protocol: 'udp', destination: '10.96.0.53', port: 53, source: CLIENT, count: 120, timeoutMs: 3_000 },
  { name: 'NodePort from outside: masqueraded', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30080, source: CLIENT, count: 150, timeoutMs: 3_000 },
  { name: 'NodePort on 127.0.0.1 from the host (route_localnet, nfacct rule)', origin: 'host', protocol: 'tcp', destination: '127.0.0.1', port: 30080, source: '127.0.0.1', count: 150, timeoutMs: 3_000 },
  { name: 'LoadBalancer IP from inside loadBalancerSourceRanges', origin: 'external', protocol: 'tcp', destination: '192.0.2.20', port: 443, source: CLIENT, count: 100, timeoutMs: 3_000 },
  { name: 'LoadBalancer IP from outside loadBalancerSourceRanges: DROP', origin: 'external', protocol: 'tcp', destination: '192.0.2.20', port: 443, source: '203.0.113.200', count: 4, timeoutMs: 1_000 },
  { name: 'LoadBalancer NodePort ignores the source ranges', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30443, source: '203.0.113.200', count: 100, timeoutMs: 3_000 },
  { name: 'eTP=Local NodePort from outside: local endpoint only, source kept', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30081, source: CLIENT, count: 40, timeoutMs: 3_000 },
  { name: 'eTP=Local NodePort from a pod: every endpoint (short-circuit)', origin: 'pod', protocol: 'tcp', destination: NODE_IP, port: 30081, source: POD, count: 100, timeoutMs: 3_000 },
  { name: 'eTP=Local NodePort from the host: every endpoint, masqueraded', origin: 'host', protocol: 'tcp', destination: NODE_IP, port: 30081, source: NODE_IP, count: 100, timeoutMs: 3_000 },
  { name: 'no endpoints, ClusterIP: REJECT', origin: 'pod', protocol: 'tcp', destination: '10.96.0.40', port: 80, source: POD, count: 5, timeoutMs: 3_000 },
  { name: 'no endpoints, NodePort from outside: REJECT', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30082, source: CLIENT, count: 5, timeoutMs: 3_000 },
  { name: 'eTP=Local without local endpoints, NodePort from outside: DROP', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30083, source: CLIENT, count: 4, timeoutMs: 1_000 },
  { name: 'eTP=Local without local endpoints, NodePort from a pod: served', origin: 'pod', protocol: 'tcp', destination: NODE_IP, port: 30083, source: POD, count: 20, timeoutMs: 3_000 },
  { name: 'hairpin: an endpoint calling its own service is masqueraded only when it lands on itself', origin: 'pod', protocol: 'tcp', destination: '10.96.0.10', port: 80, source: '10.244.1.5', count: 300, timeoutMs: 3_000 },
  { name: 'NodePort from a pod: masqueraded (KUBE-EXT marks everything)', origin: 'pod', protocol: 'tcp', destination: NODE_IP, port: 30080, source: POD, count: 150, timeoutMs: 3_000 },
  // The endpoint is the node itself (a host-network apiserver): DNAT to a local address means the
  // INPUT path, where nat POSTROUTING (and so KUBE-POSTROUTING's MASQUERADE) never runs.
  { name: 'endpoint on the node itself, from a pod: delivered locally', origin: 'pod', protocol: 'tcp', destination: '10.96.0.1', port: 443, source: POD, count: 20, timeoutMs: 3_000 },
  { name: 'endpoint on the node itself, from outside: marked for masquerade, but INPUT has no MASQUERADE', origin: 'external', protocol: 'tcp', destination: '10.96.0.1', port: 443, source: CLIENT, count: 20, timeoutMs: 3_000 },
  { name: 'endpoint on the node itself, from the host: out and back over lo, masqueraded', origin: 'host', protocol: 'tcp', destination: '10.96.0.1', port: 443, source: NODE_IP, count: 20, timeoutMs: 3_000 },
];

/** prod/sticky:http (ClientIP affinity): endpoint → its KUBE-SEP chain, the `recent` list name. */
export const STICKY = {
  destination: '10.96.0.50',
  port: 80,
  sep: { '10.244.1.14:8080': 'KUBE-SEP-WTYEJGAR26FWOFR5', '10.244.1.15:8080': 'KUBE-SEP-JKKT63ZH2VGQGIK4' } as Record<string, string>,
};
