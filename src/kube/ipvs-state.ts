// What kube-proxy's IPVS mode keeps in the kernel besides iptables, for a synthetic cluster:
// the ipsets (pkg/proxy/ipvs/ipset.go ipsetInfo, in that creation order) and the IPVS virtual
// servers (one per ClusterIP:port, NodeIP:nodePort, externalIP:port and LB-IP:port; rr; real
// servers endpoint:targetPort, masq, weight 1; eTP/iTP=Local keep only this node's endpoints).
// Rendered as `ipset save` and `ipvsadm-save -n` print them.

import type { GeneratedEndpoint, GeneratedService } from './cluster.js';
import { cidrContains, parseAddr, parseCidr } from '../model/addr.js';
import { protoNumber } from '../model/protocols.js';

export interface IpsetDef {
  name: string;
  type: 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';
  comment: string;
}

/** ipsetInfo, in kube-proxy's order; `ipset save` prints sets in creation order. */
export const KUBE_IPSETS: readonly IpsetDef[] = [
  { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose' },
  { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', comment: 'Kubernetes service cluster ip + port for masquerade purpose' },
  { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', comment: 'Kubernetes service external ip + port for masquerade and filter purpose' },
  { name: 'KUBE-EXTERNAL-IP-LOCAL', type: 'hash:ip,port', comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local' },
  { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  { name: 'KUBE-LOAD-BALANCER-FW', type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange' },
  { name: 'KUBE-LOAD-BALANCER-LOCAL', type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local' },
  { name: 'KUBE-LOAD-BALANCER-SOURCE-IP', type: 'hash:ip,port,ip', comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose' },
  { name: 'KUBE-LOAD-BALANCER-SOURCE-CIDR', type: 'hash:ip,port,net', comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose' },
  { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port for masquerade purpose' },
  { name: 'KUBE-NODE-PORT-LOCAL-TCP', type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local' },
  { name: 'KUBE-NODE-PORT-UDP', type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port for masquerade purpose' },
  { name: 'KUBE-NODE-PORT-LOCAL-UDP', type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local' },
  { name: 'KUBE-NODE-PORT-SCTP-HASH', type: 'hash:ip,port', comment: 'Kubernetes nodeport SCTP port for masquerade purpose with type \'hash ip:port\'' },
  { name: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH', type: 'hash:ip,port', comment: 'Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type \'hash ip:port\'' },
  { name: 'KUBE-HEALTH-CHECK-NODE-PORT', type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  { name: 'KUBE-IPVS-IPS', type: 'hash:ip', comment: 'Addresses on kube-ipvs0 dummy interface' },
];

export type IpsetContents = Map<string, Set<string>>;

/** The entries of every kube-proxy set for these services (entry text as Entry.String() prints it). */
export function buildIpsets(services: readonly GeneratedService[], nodeIP: string): IpsetContents {
  const sets: IpsetContents = new Map(KUBE_IPSETS.map((d) => [d.name, new Set<string>()]));
  const add = (name: string, entry: string): void => {
    (sets.get(name) as Set<string>).add(entry);
  };
  const node = parseAddr(nodeIP);
  for (const s of services) {
    const pp = `${s.protocol}:${s.port}`;
    const local = s.externalTrafficPolicy === 'Local';
    add('KUBE-CLUSTER-IP', `${s.clusterIP},${pp}`);
    add('KUBE-IPVS-IPS', s.clusterIP);
    // Hairpin: a local endpoint reaching itself through the service is masqueraded.
    for (const e of s.endpoints) if (e.local) add('KUBE-LOOP-BACK', `${e.ip},${s.protocol}:${e.port},${e.ip}`);
    for (const ip of s.externalIPs) {
      add(local ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', `${ip},${pp}`);
      add('KUBE-IPVS-IPS', ip);
    }
    for (const ip of s.loadBalancerIPs) {
      add('KUBE-LOAD-BALANCER', `${ip},${pp}`);
      add('KUBE-IPVS-IPS', ip);
      if (local) add('KUBE-LOAD-BALANCER-LOCAL', `${ip},${pp}`);
      if (s.sourceRanges.length > 0) {
        add('KUBE-LOAD-BALANCER-FW', `${ip},${pp}`);
        for (const r of s.sourceRanges) add('KUBE-LOAD-BALANCER-SOURCE-CIDR', `${ip},${pp},${r}`);
        // The node may reach its own LB address when a source range covers the node.
        const allowNode = node !== null && s.sourceRanges.some((r) => {
          const c = parseCidr(r);
          return c !== null && cidrContains(c, node);
        });
        if (allowNode) add('KUBE-LOAD-BALANCER-SOURCE-IP', `${ip},${pp},${ip}`);
      }
    }
    if (s.nodePort !== undefined) {
      if (s.protocol === 'sctp') {
        add('KUBE-NODE-PORT-SCTP-HASH', `${nodeIP},sctp:${s.nodePort}`);
        if (local) add('KUBE-NODE-PORT-LOCAL-SCTP-HASH', `${nodeIP},sctp:${s.nodePort}`);
      } else {
        const P = s.protocol.toUpperCase();
        add(`KUBE-NODE-PORT-${P}`, String(s.nodePort));
        if (local) add(`KUBE-NODE-PORT-LOCAL-${P}`, String(s.nodePort));
      }
    }
    if (s.healthCheckNodePort !== undefined) add('KUBE-HEALTH-CHECK-NODE-PORT', String(s.healthCheckNodePort));
  }
  return sets;
}

/** `ipset save` text. Hash sets: family inet hashsize 1024 maxelem 65536; bitmap:port: range 0-65535. */
export function renderIpsets(sets: IpsetContents): string {
  const out: string[] = [];
  for (const d of KUBE_IPSETS) {
    out.push(d.type === 'bitmap:port' ? `create ${d.name} ${d.type} range 0-65535` : `create ${d.name} ${d.type} family inet hashsize 1024 maxelem 65536`);
    // Insertion (service) order: deterministic by seed; the kernel's own order is hash order anyway.
    for (const e of sets.get(d.name) as Set<string>) out.push(`add ${d.name} ${e}`);
  }
  out.push('');
  return out.join('\n');
}

const IPVS_FLAG: Record<GeneratedService['protocol'], string> = { tcp: '-t', udp: '-u', sctp: '--sctp-service' };

/** One virtual server kube-proxy creates, with the endpoints it binds as real servers. */
export interface VirtualServerTruth {
  service: string;
  kind: 'clusterIP' | 'nodePort' | 'externalIP' | 'loadBalancer';
  protocol: GeneratedService['protocol'];
  address: string;
  port: number;
  reals: GeneratedEndpoint[];
  persistentSeconds?: number;
}

/** The virtual servers of each service, in kube-proxy's sync order. */
export function buildVirtualServers(services: readonly GeneratedService[], nodeIP: string): VirtualServerTruth[] {
  const out: VirtualServerTruth[] = [];
  for (const s of services) {
    const all = s.endpoints;
    const local = s.endpoints.filter((e) => e.local);
    const internal = s.internalTrafficPolicy === 'Local' ? local : all;
    const external = s.externalTrafficPolicy === 'Local' ? local : all;
    const base = { service: s.name, protocol: s.protocol } as const;
    const p = s.affinitySeconds !== undefined ? { persistentSeconds: s.affinitySeconds } : {};
    out.push({ ...base, kind: 'clusterIP', address: s.clusterIP, port: s.port, reals: internal, ...p });
    for (const ip of s.externalIPs) out.push({ ...base, kind: 'externalIP', address: ip, port: s.port, reals: external, ...p });
    for (const ip of s.loadBalancerIPs) out.push({ ...base, kind: 'loadBalancer', address: ip, port: s.port, reals: external, ...p });
    if (s.nodePort !== undefined) out.push({ ...base, kind: 'nodePort', address: nodeIP, port: s.nodePort, reals: external, ...p });
  }
  return out;
}


function v4Number(ip: string): number {
  const p = ip.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

/**
 * libipvs ipvs_cmp_services() / ipvs_cmp_dests(), which ipvsadm sorts its output with (unless
 * --nosort): protocol, then the IPv4 address as a wrapping signed difference, then the port.
 */
function cmpService(a: VirtualServerTruth, b: VirtualServerTruth): number {
  return protoNumber(a.protocol) - protoNumber(b.protocol) || (v4Number(a.address) - v4Number(b.address)) | 0 || a.port - b.port;
}

function cmpReal(a: GeneratedEndpoint, b: GeneratedEndpoint): number {
  return (v4Number(a.ip) - v4Number(b.ip)) | 0 || a.port - b.port;
}

/** `ipvsadm-save -n` text, sorted as ipvsadm prints it: `-A` per virtual server, then its `-a` lines. */
export function renderIpvsadm(vss: readonly VirtualServerTruth[]): string {
  const out: string[] = [];
  for (const v of [...vss].sort(cmpService)) {
    const spec = `${IPVS_FLAG[v.protocol]} ${v.address}:${v.port}`;
    out.push(v.persistentSeconds !== undefined ? `-A ${spec} -s rr -p ${v.persistentSeconds}` : `-A ${spec} -s rr`);
    for (const e of [...v.reals].sort(cmpReal)) out.push(`-a ${spec} -r ${e.ip}:${e.port} -m -w 1`);
  }
  out.push('');
  return out.join('\n');
}
