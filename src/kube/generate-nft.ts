// `generateNftables`: kube-proxy nftables-mode rule sets (the `ip kube-proxy` table as an `nft -f`
// script) for N services × M endpoints, from the same synthetic cluster the iptables and IPVS
// generators use, so the three modes can be compared service for service. Deterministic by seed.

import { DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_IP, generateCluster, type GeneratedNode, type GeneratedService } from './cluster.js';
import type { GenerateOptions } from './generate.js';
import { renderNftablesBoth, type NftShape } from './render-nft.js';

export { NFT_SHAPES, renderNftables, renderNftablesListing } from './render-nft.js';
export type { NftRenderOptions, NftShape } from './render-nft.js';

export type GenerateNftOptions = Pick<GenerateOptions, 'services' | 'endpoints' | 'seed' | 'mix' | 'masqueradeAll' | 'podCIDR' | 'clusterCIDR' | 'nodeIP'> & {
  /** Which upstream rule shape to write (default v1.35). */
  shape?: NftShape;
  /** The service CIDR cluster IPs come from (default 10.96.0.0/12). */
  serviceCIDR?: string;
};

export interface GeneratedNftNode {
  /** The `ip kube-proxy` table as kube-proxy writes it: an `nft -f` script. */
  text: string;
  /** What `nft list ruleset` prints once `text` is loaded (itself loadable with `nft -f`). */
  listing: string;
  services: GeneratedService[];
  node: GeneratedNode;
}

export function generateNftables(opts: GenerateNftOptions): GeneratedNftNode {
  const clusterCIDR = opts.clusterCIDR ?? DEFAULT_CLUSTER_CIDR;
  const nodeIP = opts.nodeIP ?? DEFAULT_NODE_IP;
  const serviceCIDR = opts.serviceCIDR ?? '10.96.0.0/12';
  const { services, node } = generateCluster({ ...opts, clusterCIDR, nodeIP, serviceCIDR });
  const { script, listing } = renderNftablesBoth(services, { shape: opts.shape, masqueradeAll: opts.masqueradeAll, clusterCIDR, serviceCIDR, nodeIP });
  return { text: script, listing, services, node };
}
