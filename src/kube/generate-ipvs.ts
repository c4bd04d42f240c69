// `generateIpvs`: a consistent kube-proxy IPVS-mode node — iptables-save, ipvsadm-save -n and
// ipset save text for N services × M endpoints — from the same synthetic cluster the iptables-mode
// generator uses (so the two modes can be compared service for service). Deterministic by seed;
// linear in services × endpoints, joined once (20,000 services render in well under a second).

import { DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_IP, generateCluster, type GeneratedNode, type GeneratedService } from './cluster.js';
import type { GenerateOptions } from './generate.js';
import { renderIpvsIptables } from './ipvs-iptables.js';
import { buildIpsets, buildVirtualServers, renderIpsets, renderIpvsadm, type VirtualServerTruth } from './ipvs-state.js';

export type { VirtualServerTruth } from './ipvs-state.js';

/** The cluster options both generators take (the IPVS node has no dump-style knobs). */
export type GenerateIpvsOptions = Pick<GenerateOptions, 'services' | 'endpoints' | 'seed' | 'mix' | 'masqueradeAll' | 'podCIDR' | 'clusterCIDR' | 'nodeIP'>;

export interface GeneratedIpvsNode {
  /** iptables-save text (filter + nat). */
  iptables: string;
  /** ipvsadm-save -n text. */
  ipvs: string;
  /** ipset save text. */
  ipsets: string;
  /** The truth the dumps were rendered from. */
  services: GeneratedService[];
  /** Every virtual server with the real servers kube-proxy bound to it. */
  virtualServers: VirtualServerTruth[];
  /**
   * The node context: its own address plus every address kube-proxy binds on kube-ipvs0
   * (cluster, external and LB IPs), which the kernel treats as local.
   */
  node: GeneratedNode;
}

export function generateIpvs(opts: GenerateIpvsOptions): GeneratedIpvsNode {
  const clusterCIDR = opts.clusterCIDR ?? DEFAULT_CLUSTER_CIDR;
  const nodeIP = opts.nodeIP ?? DEFAULT_NODE_IP;
  const { services, node } = generateCluster({ ...opts, clusterCIDR, nodeIP });
  const sets = buildIpsets(services, nodeIP);
  const virtualServers = buildVirtualServers(services, nodeIP);
  const vips = [...(sets.get('KUBE-IPVS-IPS') as Set<string>)];
  return {
    iptables: renderIpvsIptables(sets, { clusterCIDR, masqueradeAll: opts.masqueradeAll }),
    ipvs: renderIpvsadm(virtualServers),
    ipsets: renderIpsets(sets),
    services,
    virtualServers,
    node: { ...node, addresses: [...node.addresses, ...vips] },
  };
}
