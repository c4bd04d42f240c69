// Renders a cluster (GeneratedService[]) into kube-proxy's nftables-mode table
// (pkg/proxy/nftables/proxier.go syncProxyRules), in one of the rule shapes upstream has shipped:
//
// - 'v1.35' (v1.33–v1.35): per-endpoint chains for every endpoint, a `mark-for-masquerade` chain
//   jumped to from the service chain (`ip daddr CIP ip saddr != PODCIDR`), the external chains and
//   each endpoint chain (hairpin), and `numgen random mod N vmap { i : goto endpoint-… }`.
// - 'v1.36': no `mark-for-masquerade` (the mark is set inline: one `ip daddr @cluster-ips` rule in
//   `services`, `mark set mark or 0x4000` in the external chains), hairpin through the
//   `hairpin-connections` set matched in `masquerading`, and endpoint choice inline:
//   `meta l4proto tcp dnat ip addr . port to numgen random mod N map { i : IP . PORT }`.
//   Per-endpoint chains remain only for ClientIP affinity (they record the client).
// - 'v1.37': v1.36, with a single-endpoint service DNATing directly (`dnat to IP:PORT`, no map).
//
// Two renderings of one table: the `nft -f` script in the form of upstream's own expected dumps
// (proxier_test.go: `add table`, sets and maps, chains, rules, elements — every chain declared
// before any rule names it, which `nft -f` requires), and what `nft list ruleset` (nft 1.0.6)
// prints once that script is loaded — `mark set mark or 0x4000` as `meta mark set meta mark |
// 0x00004000`, `dnat ip addr . port to` as `dnat ip to`, elements sorted as the listing sorts
// them. The kernel test loads the script and demands the listing byte for byte.
//
// Shape details that upstream's v1.36 sources available here do not spell out, taken from a
// v1.36.2 node's listing: the hairpin set holds this node's endpoints only, and is created first.

import { cidrContains, parseAddr, parseCidr } from '../model/addr.js';
import { parseProto } from '../model/protocols.js';
import type { GeneratedEndpoint, GeneratedService } from './cluster.js';
import { nftEndpointBase, nftServiceBase } from './names.js';

export type NftShape = 'v1.35' | 'v1.36' | 'v1.37';
export const NFT_SHAPES: readonly NftShape[] = ['v1.35', 'v1.36', 'v1.37'];

export interface NftRenderOptions {
  shape?: NftShape;
  /** kube-proxy --masquerade-all: every cluster-IP connection is marked for masquerade. */
  masqueradeAll?: boolean;
  /** The local-traffic detector's CIDR (kube-proxy --cluster-cidr); '' = no detector. */
  clusterCIDR?: string;
  /** The service CIDR(s): traffic to an unallocated address in them is dropped ('' = no rule). */
  serviceCIDR?: string;
  /** The node IP: NodePorts are accepted on it (`--nodeport-addresses primary`, nftables mode's default). */
  nodeIP?: string;
  /** The masquerade bit (kube-proxy --masquerade-bit, default 14). */
  masqueradeBit?: number;
}

const MASQ_COMMENT_V136 = 'masquerade clusterIP traffic from outside cluster';

interface NftElement {
  key: string[];
  comment?: string;
  value?: string;
}

interface NftSetDef {
  name: string;
  /** Key data types, one per concatenated component. */
  key: string[];
  /** Verdict maps: the value type. */
  map?: 'verdict';
  comment?: string;
  /** `dynamic,timeout` sets (affinity) and their timeout in seconds. */
  timeout?: number;
  elements: NftElement[];
}

interface NftRule {
  /** As kube-proxy writes it (`add rule … TEXT`). */
  text: string;
  /** As `nft list ruleset` prints it back. */
  listed: string;
  comment?: string;
}

interface NftChainDef {
  name: string;
  /** Base chains: `type T hook H priority P` as written, and the priority as the listing spells it. */
  base?: { type: string; hook: string; priority: number; listedPriority: string };
  comment?: string;
  rules: NftRule[];
}

/** One kube-proxy transaction being built: sets and maps, chains with their rules, elements. */
class Table {
  readonly sets: NftSetDef[] = [];
  readonly chains: NftChainDef[] = [];
  private readonly setByName = new Map<string, NftSetDef>();
  private readonly chainByName = new Map<string, NftChainDef>();
  /** Rules in the order they were added, for the script (kube-proxy's write order). */
  private readonly order: [NftChainDef, NftRule][] = [];
  /** Elements in the order they were added. */
  private readonly elementOrder: [NftSetDef, NftElement][] = [];
  private readonly keys = new Map<NftSetDef, Set<string>>();

  constructor(readonly family: 'ip' | 'ip6') {}

  set(def: Omit<NftSetDef, 'elements'>): void {
    const d: NftSetDef = { ...def, elements: [] };
    this.sets.push(d);
    this.setByName.set(d.name, d);
  }

  chain(name: string, extra: Omit<NftChainDef, 'name' | 'rules'> = {}): void {
    if (this.chainByName.has(name)) return;
    const c: NftChainDef = { name, ...extra, rules: [] };
    this.chains.push(c);
    this.chainByName.set(name, c);
  }

  rule(chain: string, text: string, listed: string = text, comment?: string): void {
    const c = this.chainByName.get(chain);
    // Only reachable through a renderer bug: every chain is declared before its rules.
    if (!c) throw new Error(`rule for undeclared chain ${chain}`);
    const r: NftRule = comment ? { text, listed, comment } : { text, listed };
    c.rules.push(r);
    this.order.push([c, r]);
  }

  element(set: string, key: string[], value?: string, comment?: string): void {
    const s = this.setByName.get(set);
    if (!s) throw new Error(`element for undeclared set ${set}`);
    // ensureElem: one element per key (an endpoint shared by two service ports is one hairpin entry).
    const k = key.join(' . ');
    let keys = this.keys.get(s);
    if (!keys) this.keys.set(s, (keys = new Set()));
    if (keys.has(k)) return;
    keys.add(k);
    const e: NftElement = { key };
    if (comment) e.comment = comment;
    if (value) e.value = value;
    s.elements.push(e);
    this.elementOrder.push([s, e]);
  }

  /** The `nft -f` script, in the layout of upstream's expected dumps. */
  script(): string {
    const t = `${this.family} kube-proxy`;
    const out = [`add table ${t} { comment "rules for kube-proxy" ; }`, ''];
    for (const s of this.sets) {
      if (s.map) continue;
      const flags = s.timeout !== undefined ? ` flags dynamic,timeout ; timeout ${s.timeout}s ;` : '';
      out.push(`add set ${t} ${s.name} { type ${s.key.join(' . ')} ;${flags}${s.comment ? ` comment "${s.comment}" ;` : ''} }`);
    }
    out.push('');
    for (const s of this.sets) if (s.map) out.push(`add map ${t} ${s.name} { type ${s.key.join(' . ')} : ${s.map} ; comment "${s.comment}" ; }`);
    out.push('');
    for (const c of this.chains) {
      const spec = c.base ? `type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority} ;` : '';
      const comment = c.comment ? `comment "${c.comment}" ;` : '';
      out.push(`add chain ${t} ${c.name}${spec || comment ? ` { ${spec}${spec && comment ? ' ' : ''}${comment} }` : ''}`);
    }
    out.push('');
    for (const [c, r] of this.order) out.push(`add rule ${t} ${c.name} ${r.text}${r.comment ? ` comment "${r.comment}"` : ''}`);
    out.push('');
    for (const [s, e] of this.elementOrder) {
      out.push(`add element ${t} ${s.name} { ${e.key.join(' . ')}${e.comment ? ` comment "${e.comment}"` : ''}${e.value ? ` : ${e.value}` : ''} }`);
    }
    out.push('');
    return out.join('\n');
  }

  /**
   * What `nft list ruleset` (nft 1.0.6) prints for this table once loaded: sets and maps, then
   * chains, in creation order, blank lines between them; elements in the kernel listing's order
   * (see sortElements), wrapped as nft wraps them.
   */
  listing(): string {
    const blocks: string[] = [];
    // Creation order, as the script creates them: sets, then maps.
    for (const s of [...this.sets.filter((x) => !x.map), ...this.sets.filter((x) => x.map)]) {
      const lines = [`\t${s.map ? 'map' : 'set'} ${s.name} {`, `\t\ttype ${s.key.join(' . ')}${s.map ? ` : ${s.map}` : ''}`];
      if (s.timeout !== undefined) lines.push('\t\tsize 65535', '\t\tflags dynamic,timeout', `\t\ttimeout ${nftTime(s.timeout)}`);
      if (s.comment) lines.push(`\t\tcomment "${s.comment}"`);
      if (s.elements.length > 0) {
        const items = sortElements(s).map((e) => `${e.key.join(' . ')}${e.comment ? ` comment "${e.comment}"` : ''}${e.value ? ` : ${e.value}` : ''}`);
        // nft's calculate_delimiter: two addresses a line; one concatenation (or map element) a line.
        const perLine = s.key.length === 1 && (s.key[0] === 'ipv4_addr' || s.key[0] === 'ipv6_addr') && !s.map ? 2 : 1;
        let text = '\t\telements = { ';
        items.forEach((it, i) => {
          if (i > 0) text += i % perLine === 0 ? ',\n\t\t\t     ' : ', ';
          text += it;
        });
        lines.push(`${text} }`);
      }
      lines.push('\t}');
      blocks.push(lines.join('\n'));
    }
    for (const c of this.chains) {
      const lines = [`\tchain ${c.name} {`];
      if (c.comment) lines.push(`\t\tcomment "${c.comment}"`);
      if (c.base) lines.push(`\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.listedPriority}; policy accept;`);
      for (const r of c.rules) lines.push(`\t\t${r.listed}${r.comment ? ` comment "${r.comment}"` : ''}`);
      lines.push('\t}');
      blocks.push(lines.join('\n'));
    }
    return `table ${this.family} kube-proxy {\n\tcomment "rules for kube-proxy"\n${blocks.join('\n\n')}\n}\n`;
  }
}

/** nft's time format: 10800 → 3h, 600 → 10m, 5400 → 1h30m. */
function nftTime(seconds: number): string {
  const parts: [number, string][] = [
    [Math.floor(seconds / 86400), 'd'],
    [Math.floor((seconds % 86400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ];
  const text = parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('');
  return text || '0s';
}

/** The bytes of one key component as the kernel stores it (concatenation fields padded to 4 bytes). */
function keyBytes(type: string, value: string, pad: boolean): number[] {
  let bytes: number[];
  if (type === 'ipv4_addr') bytes = value.split('.').map(Number);
  else if (type === 'ipv6_addr') {
    const a = parseAddr(value);
    bytes = a ? a.w.flatMap((w) => [w >>> 24, (w >>> 16) & 255, (w >>> 8) & 255, w & 255]) : [];
  } else if (type === 'inet_proto') bytes = [parseProto(value) ?? Number(value)];
  else bytes = [(Number(value) >>> 8) & 255, Number(value) & 255]; // inet_service, big-endian
  while (pad && bytes.length % 4 !== 0) bytes.push(0);
  return bytes;
}


/**
 * The order `nft list` prints elements in: sorted by key value. A single-field key compares as
 * its big-endian value; a concatenation is one host-order (little-endian) integer of the padded
 * fields, so its last byte is the most significant (seen on nft 1.0.6: service-ips groups by
 * port, then protocol, then the address's last octet).
 */
function sortElements(s: NftSetDef): NftElement[] {
  const concat = s.key.length > 1;
  const keyed = s.elements.map((e) => {
    const bytes = e.key.flatMap((v, i) => keyBytes(s.key[i], v, concat));
    return { e, bytes: concat ? bytes.reverse() : bytes };
  });
  keyed.sort((a, b) => {
    for (let i = 0; i < Math.min(a.bytes.length, b.bytes.length); i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
    return a.bytes.length - b.bytes.length;
  });
  return keyed.map((k) => k.e);
}

/** An anonymous set in a rule as nft lists it: one element bare, several sorted by address. */
function listedAnonSet(items: readonly string[]): string {
  if (items.length === 1) return items[0];
  const num = (x: string): bigint => {
    const a = parseAddr(x.split('/')[0]);
    return a ? a.w.reduce((acc, w) => (acc << 32n) | BigInt(w >>> 0), 0n) : 0n;
  };
  return `{ ${[...items].sort((a, b) => (num(a) < num(b) ? -1 : num(a) > num(b) ? 1 : 0)).join(', ')} }`;
}

/** Endpoints in kube-proxy's order: by the string `ip:port` (EndpointsMap keeps them sorted so). */
function byString(eps: readonly GeneratedEndpoint[]): GeneratedEndpoint[] {
  return [...eps].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
}

/** The kube-proxy table for the given services: the `nft -f` script, and what `nft list ruleset` prints for it. */
export function renderNftables(services: readonly GeneratedService[], opts: NftRenderOptions = {}): string {
  return buildTable(services, opts).script();
}

/** Both renderings of one table at once (the generator hands out both). */
export function renderNftablesBoth(services: readonly GeneratedService[], opts: NftRenderOptions = {}): { script: string; listing: string } {
  const t = buildTable(services, opts);
  return { script: t.script(), listing: t.listing() };
}

/** What `nft list ruleset` prints once renderNftables' script is loaded (nft 1.0.6, IPv4). */
export function renderNftablesListing(services: readonly GeneratedService[], opts: NftRenderOptions = {}): string {
  return buildTable(services, opts).listing();
}

function buildTable(services: readonly GeneratedService[], opts: NftRenderOptions): Table {
  const shape = opts.shape ?? 'v1.35';
  const v135 = shape === 'v1.35';
  const v6 = services[0]?.clusterIP.includes(':') ?? false;
  const ipX = v6 ? 'ip6' : 'ip';
  const addrType = v6 ? 'ipv6_addr' : 'ipv4_addr';
  const clusterCIDR = opts.clusterCIDR ?? (v6 ? 'fd00:10:244::/56' : '10.244.0.0/16');
  const serviceCIDR = opts.serviceCIDR ?? (v6 ? 'fd00:10:96::/112' : '10.96.0.0/12');
  const nodeIPText = opts.nodeIP ?? (v6 ? 'fd00:10::10' : '192.168.0.10');
  const nodeIP = parseAddr(nodeIPText);
  const markValue = 1 << (opts.masqueradeBit ?? 14);
  const mark = `0x${markValue.toString(16)}`;
  const markListed = `0x${markValue.toString(16).padStart(8, '0')}`;
  // What `jump mark-for-masquerade` became when v1.36 inlined that chain.
  const markMasq = v135 ? 'jump mark-for-masquerade' : `mark set mark or ${mark}`;
  const markMasqListed = v135 ? markMasq : `meta mark set meta mark | ${markListed}`;
  const t = new Table(ipX);
  const svcKey = [addrType, 'inet_proto', 'inet_service'];

  // ---- setupNFTables ----
  // v1.36 creates the hairpin set first (a v1.36.2 node lists it before cluster-ips).
  if (!v135) t.set({ name: 'hairpin-connections', key: [addrType, addrType, 'inet_proto', 'inet_service'], comment: 'service hairpin connections' });
  t.set({ name: 'cluster-ips', key: [addrType], comment: 'Active ClusterIPs' });
  t.set({ name: 'nodeport-ips', key: [addrType], comment: 'IPs that accept NodePort traffic' });
  t.set({ name: 'firewall-ips', key: svcKey, map: 'verdict', comment: 'destinations that are subject to LoadBalancerSourceRanges' });
  t.set({ name: 'no-endpoint-nodeports', key: ['inet_proto', 'inet_service'], map: 'verdict', comment: 'vmap to drop or reject packets to service nodeports with no endpoints' });
  t.set({ name: 'no-endpoint-services', key: svcKey, map: 'verdict', comment: 'vmap to drop or reject packets to services with no endpoints' });
  t.set({ name: 'service-ips', key: svcKey, map: 'verdict', comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic' });
  t.set({ name: 'service-nodeports', key: ['inet_proto', 'inet_service'], map: 'verdict', comment: 'NodePort traffic' });

  // Base chains and their hooks (v1.34+, backported to 1.33), then the regular top-level chains.
  const base = (type: string, hook: string, priority: number, listedPriority: string) => ({ base: { type, hook, priority, listedPriority } });
  t.chain('cluster-ips-check');
  t.chain('filter-prerouting-pre-dnat', base('filter', 'prerouting', -110, 'dstnat - 10'));
  t.chain('filter-output-pre-dnat', base('filter', 'output', -110, '-110'));
  t.chain('filter-forward', base('filter', 'forward', 0, 'filter'));
  t.chain('filter-input', base('filter', 'input', 0, 'filter'));
  t.chain('filter-output', base('filter', 'output', 0, 'filter'));
  t.chain('firewall-check');
  if (v135) t.chain('mark-for-masquerade');
  t.chain('masquerading');
  t.chain('nat-output', base('nat', 'output', -100, '-100'));
  t.chain('nat-postrouting', base('nat', 'postrouting', 100, 'srcnat'));
  t.chain('nat-prerouting', base('nat', 'prerouting', -100, 'dstnat'));
  t.chain('nodeport-endpoints-check');
  t.chain('reject-chain', { comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' });
  t.chain('services');
  t.chain('service-endpoints-check');

  t.rule('cluster-ips-check', `${ipX} daddr @cluster-ips reject`, undefined, 'Reject traffic to invalid ports of ClusterIPs');
  if (serviceCIDR) t.rule('cluster-ips-check', `${ipX} daddr { ${serviceCIDR} } drop`, `${ipX} daddr ${listedAnonSet(serviceCIDR.split(','))} drop`, 'Drop traffic to unallocated ClusterIPs');
  t.rule('filter-prerouting-pre-dnat', 'ct state new jump firewall-check');
  t.rule('filter-forward', 'ct state new jump service-endpoints-check');
  t.rule('filter-forward', 'ct state new jump cluster-ips-check');
  t.rule('filter-input', 'ct state new jump nodeport-endpoints-check');
  t.rule('filter-input', 'ct state new jump service-endpoints-check');
  t.rule('filter-output', 'ct state new jump service-endpoints-check');
  t.rule('filter-output-pre-dnat', 'ct state new jump firewall-check');
  t.rule('filter-output', 'ct state new jump cluster-ips-check');
  t.rule('firewall-check', `${ipX} daddr . meta l4proto . th dport vmap @firewall-ips`);
  if (v135) {
    t.rule('mark-for-masquerade', `mark set mark or ${mark}`, `meta mark set meta mark | ${markListed}`);
    t.rule('masquerading', `mark and ${mark} == 0 return`, `meta mark & ${markListed} == 0x00000000 return`);
    t.rule('masquerading', `mark set mark xor ${mark}`, `meta mark set meta mark ^ ${markListed}`);
    t.rule('masquerading', 'masquerade fully-random');
  } else {
    t.rule('masquerading', `mark and ${mark} != 0 mark set mark xor ${mark} masquerade fully-random`, `meta mark & ${markListed} != 0x00000000 meta mark set meta mark ^ ${markListed} masquerade fully-random`);
    t.rule('masquerading', `ct status dnat ${ipX} saddr . ${ipX} daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random`);
  }
  t.rule('nat-output', 'jump services');
  t.rule('nat-postrouting', 'jump masquerading');
  t.rule('nat-prerouting', 'jump services');
  t.rule('nodeport-endpoints-check', `${ipX} daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`);
  t.rule('reject-chain', 'reject');
  if (!v135) {
    const from = opts.masqueradeAll ? '' : clusterCIDR ? `${ipX} saddr != ${clusterCIDR} ` : undefined;
    if (from !== undefined) t.rule('services', `${ipX} daddr @cluster-ips ${from}${markMasq}`, `${ipX} daddr @cluster-ips ${from}${markMasqListed}`, MASQ_COMMENT_V136);
  }
  t.rule('services', `${ipX} daddr . meta l4proto . th dport vmap @service-ips`);
  t.rule('services', `${ipX} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`);
  t.element('nodeport-ips', [nodeIPText]);
  t.rule('service-endpoints-check', `${ipX} daddr . meta l4proto . th dport vmap @no-endpoint-services`);

  const nodeInRange = (ranges: readonly string[]): boolean =>
    nodeIP !== null && ranges.some((r) => {
      const c = parseCidr(r);
      return c !== null && cidrContains(c, nodeIP);
    });

  // ---- per service port ----
  for (const svc of services) {
    const p = svc.protocol;
    const nameBase = nftServiceBase(svc.namespace, svc.serviceName, p, svc.portName);
    const chains = { cluster: `service-${nameBase}`, local: `local-${nameBase}`, external: `external-${nameBase}`, firewall: `firewall-${nameBase}` };
    const eps = byString(svc.endpoints);
    const localEps = eps.filter((e) => e.local);
    const externallyAccessible = svc.nodePort !== undefined || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
    const itpLocal = svc.internalTrafficPolicy === 'Local';
    const etpLocal = externallyAccessible && svc.externalTrafficPolicy === 'Local';
    // proxy.CategorizeEndpoints with the ServicePort Uses*Endpoints helpers.
    const usesCluster = !itpLocal || externallyAccessible;
    const usesLocal = itpLocal || etpLocal;
    const hasEndpoints = eps.length > 0;
    const clusterEps = usesCluster ? eps : [];
    const policyLocalEps = usesLocal ? localEps : [];
    const reachable = usesCluster ? clusterEps : policyLocalEps;
    const usesClusterChain = clusterEps.length > 0;
    const usesLocalChain = policyLocalEps.length > 0;
    const internalChain = itpLocal ? chains.local : chains.cluster;
    const hasInternal = hasEndpoints && (!itpLocal || localEps.length > 0);
    const externalPolicyChain = etpLocal ? chains.local : chains.cluster;
    const hasExternal = hasEndpoints && (!etpLocal || localEps.length > 0);
    const usesExternal = hasEndpoints && externallyAccessible;
    const usesFW = svc.loadBalancerIPs.length > 0 && svc.sourceRanges.length > 0;
    const affinity = svc.affinitySeconds !== undefined;
    const noEndpointVerdict = hasEndpoints ? 'drop' : 'goto reject-chain';
    const key = (ip: string): string[] => [ip, p, String(svc.port)];

    // Per-endpoint chains: every endpoint in v1.35; only with affinity (which records the client) after it.
    const endpointChains = v135 || affinity;
    const epNames = new Map<GeneratedEndpoint, { chain: string; affinity: string }>();
    // Endpoint names are SHA-256s: only worked out when a chain or set carries them.
    if (endpointChains) for (const e of reachable) {
      const b = nftEndpointBase(svc.namespace, svc.serviceName, p, svc.portName, e.ip, e.port);
      epNames.set(e, { chain: `endpoint-${b}`, affinity: `affinity-${b}` });
    }
    const named = (e: GeneratedEndpoint): { chain: string; affinity: string } => epNames.get(e) as { chain: string; affinity: string };
    // Chains in the order syncProxyRules ensures them: endpoints, cluster, local, external, firewall.
    if (endpointChains) for (const e of reachable) t.chain(named(e).chain);
    if (usesClusterChain) t.chain(chains.cluster);
    if (usesLocalChain) t.chain(chains.local);
    if (usesExternal) t.chain(chains.external);
    if (usesFW) t.chain(chains.firewall);

    // Elements: cluster IP, external IPs, LB IPs, node port.
    t.element('cluster-ips', [svc.clusterIP]);
    if (hasInternal) t.element('service-ips', key(svc.clusterIP), `goto ${internalChain}`);
    else t.element('no-endpoint-services', key(svc.clusterIP), noEndpointVerdict, svc.name);
    for (const ip of svc.externalIPs) {
      if (hasEndpoints) t.element('service-ips', key(ip), `goto ${chains.external}`);
      if (!hasExternal) t.element('no-endpoint-services', key(ip), noEndpointVerdict, svc.name);
    }
    for (const ip of svc.loadBalancerIPs) {
      if (hasEndpoints) t.element('service-ips', key(ip), `goto ${chains.external}`);
      if (usesFW) t.element('firewall-ips', key(ip), `goto ${chains.firewall}`);
    }
    if (!hasExternal) for (const ip of svc.loadBalancerIPs) t.element('no-endpoint-services', key(ip), noEndpointVerdict, svc.name);
    if (svc.nodePort !== undefined) {
      if (hasEndpoints) t.element('service-nodeports', [p, String(svc.nodePort)], `goto ${chains.external}`);
      if (!hasExternal) t.element('no-endpoint-nodeports', [p, String(svc.nodePort)], noEndpointVerdict, svc.name);
    }
    // v1.36+: a client that lands on itself is masqueraded (`masquerading`, ct status dnat). Only
    // this node's endpoints can be such a client: a v1.36.2 node's listing holds its pods' entries
    // but not the host-network API server endpoint it also DNATs to.
    if (!v135) for (const e of reachable) if (e.local) t.element('hairpin-connections', [e.ip, e.ip, p, String(e.port)]);

    // Internal traffic: mark off-cluster sources (v1.36+ does it once, in `services`).
    if (hasInternal && v135) {
      if (opts.masqueradeAll) t.rule(internalChain, `${ipX} daddr ${svc.clusterIP} jump mark-for-masquerade`);
      else if (clusterCIDR) t.rule(internalChain, `${ipX} daddr ${svc.clusterIP} ${ipX} saddr != ${clusterCIDR} jump mark-for-masquerade`);
    }

    // External traffic.
    if (usesExternal) {
      if (!etpLocal) t.rule(chains.external, markMasq, markMasqListed);
      else {
        if (clusterCIDR) t.rule(chains.external, `${ipX} saddr ${clusterCIDR} goto ${chains.cluster}`, undefined, 'short-circuit pod traffic');
        t.rule(chains.external, `fib saddr type local ${markMasq}`, `fib saddr type local ${markMasqListed}`, 'masquerade local traffic');
        t.rule(chains.external, `fib saddr type local goto ${chains.cluster}`, undefined, 'short-circuit local traffic');
      }
      if (hasExternal) t.rule(chains.external, `goto ${externalPolicyChain}`);
    }

    // LoadBalancerSourceRanges; the LB IPs too when the node is in a range (VIP hairpin from the node).
    if (usesFW) {
      const sources = [...svc.sourceRanges];
      if (nodeInRange(svc.sourceRanges)) sources.push(...svc.loadBalancerIPs);
      t.rule(chains.firewall, `${ipX} saddr != { ${sources.join(' , ')} } drop`, `${ipX} saddr != ${listedAnonSet(sources)} drop`);
    }

    if (affinity) for (const e of reachable) t.set({ name: named(e).affinity, key: [addrType], timeout: svc.affinitySeconds });

    // Endpoint choice (writeServiceToEndpointRules).
    const ladder = (chain: string, list: readonly GeneratedEndpoint[]): void => {
      if (affinity) for (const e of list) t.rule(chain, `${ipX} saddr @${named(e).affinity} goto ${named(e).chain}`);
      if (endpointChains) {
        const vm = list.map((e, i) => `${i} : goto ${named(e).chain}`);
        t.rule(chain, `numgen random mod ${list.length} vmap { ${vm.join(' , ')} }`, `numgen random mod ${list.length} vmap { ${vm.join(', ')} }`);
      } else if (shape === 'v1.37' && list.length === 1) {
        t.rule(chain, `meta l4proto ${p} dnat to ${dnatTarget(list[0], v6)}`);
      } else {
        const m = list.map((e, i) => `${i} : ${e.ip} . ${e.port}`);
        const gen = `numgen random mod ${list.length} map`;
        t.rule(chain, `meta l4proto ${p} dnat ${ipX} addr . port to ${gen} { ${m.join(' , ')} }`, `meta l4proto ${p} dnat ${ipX} to ${gen} { ${m.join(', ')} }`);
      }
    };
    if (usesClusterChain) ladder(chains.cluster, clusterEps);
    if (usesLocalChain) ladder(chains.local, policyLocalEps);

    if (endpointChains) {
      for (const e of reachable) {
        const c = named(e);
        if (v135) t.rule(c.chain, `${ipX} saddr ${e.ip} jump mark-for-masquerade`);
        if (affinity) t.rule(c.chain, `update @${c.affinity} { ${ipX} saddr }`);
        t.rule(c.chain, `meta l4proto ${p} dnat to ${dnatTarget(e, v6)}`);
      }
    }
  }
  return t;
}

function dnatTarget(e: GeneratedEndpoint, v6: boolean): string {
  return v6 ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
