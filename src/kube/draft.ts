// The service draft every discovery (iptables, nftables mode) fills while it reads the rules, and
// the Service it becomes: one definition, so a field added to Service is initialised and emitted
// once.

import type { Service, ServiceEndpoint } from '../model/contracts.js';

/** What the rules say about one service port, gathered before it becomes a Service. */
export interface ServiceDraft {
  name: string;
  protocol: Service['protocol'];
  clusterIP: string;
  port: number;
  nodePort?: number;
  healthCheckNodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** Addresses that reach the service from outside with nothing to tell external from LB IPs. */
  unclassified: string[];
  /** The chain cluster-IP traffic goes to (KUBE-SVC / KUBE-SVL; nft service-… / local-…). */
  internalChain?: string;
  itpLocal: boolean;
  etpLocal: boolean;
  noEndpoints: boolean;
  noLocalEndpoints: boolean;
}

export function blankDraft(name: string, protocol: Service['protocol']): ServiceDraft {
  return {
    name,
    protocol,
    clusterIP: '',
    port: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    unclassified: [],
    itpLocal: false,
    etpLocal: false,
    noEndpoints: false,
    noLocalEndpoints: false,
  };
}

/** The Service a finished draft describes; keys in DESIGN.md's order (JSON answers print them as built). */
export function serviceOf(d: ServiceDraft, sourceRanges: string[], affinitySeconds: number | undefined, endpoints: ServiceEndpoint[]): Service {
  return {
    name: d.name,
    namespace: d.name.includes('/') ? d.name.slice(0, d.name.indexOf('/')) : '',
    protocol: d.protocol,
    clusterIP: d.clusterIP,
    port: d.port,
    ...(d.nodePort !== undefined ? { nodePort: d.nodePort } : {}),
    ...(d.healthCheckNodePort !== undefined ? { healthCheckNodePort: d.healthCheckNodePort } : {}),
    externalIPs: d.externalIPs,
    loadBalancerIPs: d.loadBalancerIPs,
    sourceRanges,
    externalTrafficPolicy: d.etpLocal ? 'Local' : 'Cluster',
    internalTrafficPolicy: d.itpLocal ? 'Local' : 'Cluster',
    ...(affinitySeconds !== undefined ? { affinitySeconds } : {}),
    endpoints,
    status: d.noEndpoints ? 'no-endpoints' : d.noLocalEndpoints ? 'no-local-endpoints' : 'ok',
  };
}
