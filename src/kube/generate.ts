// `generateIptables`: kube-proxy-shaped iptables-save dumps of N services × M endpoints, for
// tests, benches, the CLI (`landfall generate`) and the chain-scaling report. Deterministic by
// seed. The returned services are the truth the dump was rendered from.

import { DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_IP, generateCluster } from './cluster.js';
import type { GeneratedNode, GeneratedService, ServiceMix } from './cluster.js';
import { renderIptables } from './render.js';
import type { DumpStyle } from './render.js';

export type { GeneratedEndpoint, GeneratedNode, GeneratedService, ServiceMix } from './cluster.js';
export { DEFAULT_MIX, generateCluster } from './cluster.js';
export { renderIptables } from './render.js';
export type { DumpStyle, RenderOptions } from './render.js';

export interface GenerateOptions {
  services: number;
  endpoints: number;
  seed?: number;
  /** Fractions of each service kind; keys left out take DEFAULT_MIX's value. */
  mix?: ServiceMix;
  masqueradeAll?: boolean;
  /** This node's pod CIDR (default 10.244.0.0/24). */
  podCIDR?: string;
  /** The cluster pod CIDR, kube-proxy's local-traffic detector (default 10.244.0.0/16). */
  clusterCIDR?: string;
  /** This node's IP (default 192.168.0.10). */
  nodeIP?: string;
  /** 'save' (default): as iptables-save prints it; 'restore': as kube-proxy writes it. */
  style?: DumpStyle;
  /**
   * Whether the kube-proxy nfacct counters exist (default true, as on current nodes). Loading such a
   * dump with iptables-restore needs the counters first (`nfacct add localhost_nps_accepted_pkts`,
   * `nfacct add ct_state_invalid_dropped_pkts`); false leaves the two `-m nfacct` rules out.
   */
  nfacct?: boolean;
  /** kube-proxy's localhost NodePorts (default true): KUBE-FIREWALL and the 127.0.0.0/8 NodePort rules. */
  localhostNodePorts?: boolean;
}

export interface GeneratedDump {
  text: string;
  services: GeneratedService[];
  /** The node context matching the dump (pass it as the ruleset's `node`). */
  node: GeneratedNode;
}

export function generateIptables(opts: GenerateOptions): GeneratedDump {
  const clusterCIDR = opts.clusterCIDR ?? DEFAULT_CLUSTER_CIDR;
  const nodeIP = opts.nodeIP ?? DEFAULT_NODE_IP;
  const { services, node } = generateCluster({ ...opts, clusterCIDR, nodeIP });
  const text = renderIptables(services, {
    style: opts.style ?? 'save',
    masqueradeAll: opts.masqueradeAll,
    clusterCIDR,
    nodeIP,
    nfacct: opts.nfacct,
    localhostNodePorts: opts.localhostNodePorts,
  });
  return { text, services, node };
}
