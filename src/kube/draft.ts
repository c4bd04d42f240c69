// The empty service draft every discovery (iptables, nftables mode) starts from before it reads
// the rules: one definition, so a field added to Service is initialised once.

export function blankDraft<P extends string>(name: string, protocol: P) {
  return {
    name,
    protocol,
    clusterIP: '',
    port: 0,
    externalIPs: [] as string[],
    loadBalancerIPs: [] as string[],
    unclassified: [] as string[],
    itpLocal: false,
    etpLocal: false,
    noEndpoints: false,
    noLocalEndpoints: false,
  };
}
