// Service discovery: the kube-proxy services a node's rules implement, recovered from the model
// (typed matches and targets), not from the raw text.
//
// The chain graph is the backbone: a service port's KUBE-SVC/SVL/EXT/FW chains share one hash
// (names.ts), KUBE-SERVICES jumps to them with the cluster/external/LB address and port, and the
// KUBE-SEP chains they reach hold the DNAT targets. Comments add the name ("ns/name:port cluster
// IP") when present; in large-cluster mode the per-endpoint rules carry none, which changes nothing
// here. The filter table adds what has no nat rules at all: services without endpoints (REJECT),
// Local policies without local endpoints (DROP), health-check node ports.
//
// Handled formats: current kube-proxy (≥1.26: EXT/SVL/FW, KUBE-PROXY-FIREWALL, "-> ip:port"
// comments), and the 1.2x shapes still found on nodes (KUBE-XLB for eTP=Local, plain
// "ns/name:port" endpoint comments, KUBE-MARK-MASQ rules in KUBE-SERVICES, KUBE-FW for every LB).
// IPVS mode keeps its services in virtual servers and ipsets instead, nftables mode in the
// kube-proxy nft table: separate discoveries (ipvs-services.ts, nft-services.ts) whose results
// discoverServices adds.

import { formatAddr, formatCidr, formatEndpoint } from '../model/addr.js';
import type { Addr, Family } from '../model/addr.js';
import type { Service, ServiceEndpoint } from '../model/contracts.js';
import type { Chain, FamilyRules, Match, NatRange, Rule, Table } from '../model/rule.js';
import { ADDRTYPE, PROTO } from '../model/rule.js';
import type { NodeContext, Ruleset } from '../model/ruleset.js';
import { discoverIpvsServices } from './ipvs-services.js';
import { discoverNftServices } from './nft-services.js';
import { kubeChainKind, parseKubeChain, servicePortHash } from './names.js';
import { endpointOnNode } from './node-local.js';
import type { KubeChainKind } from './names.js';
import { thresholdProbability } from './probability.js';
import { blankDraft, serviceOf, type ServiceDraft } from './draft.js';

/**
 * All kube-proxy services of a loaded node — iptables mode from the rules of both families, IPVS
 * mode from the virtual servers and ipsets, nftables mode from the kube-proxy nft tables — sorted
 * by name, protocol, port and cluster IP.
 */
export function discoverServices(rs: Pick<Ruleset, 'v4' | 'v6' | 'node'> & Partial<Pick<Ruleset, 'ipvs' | 'ipsets' | 'nftSyntax'>>): Service[] {
  const out: Service[] = [];
  for (const fam of [rs.v4, rs.v6]) if (fam) out.push(...discoverIptablesServices(fam, rs.node));
  if (rs.nftSyntax) out.push(...discoverNftServices(rs.nftSyntax, rs.node));
  if (rs.ipvs) out.push(...discoverIpvsServices({ ipvs: rs.ipvs, ipsets: rs.ipsets ?? { sets: new Map(), supplied: false }, node: rs.node }));
  return out.sort(compareServices);
}

function compareServices(a: Service, b: Service): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.clusterIP < b.clusterIP ? -1 : a.clusterIP > b.clusterIP ? 1 : 0;
}

/** A draft (draft.ts) with the service port hash its KUBE-SVC/SEP chain names carry. */
interface Draft extends ServiceDraft {
  hash: string;
}

const SUFFIXES: [string, 'cluster' | 'external' | 'lb'][] = [
  [' cluster IP', 'cluster'],
  [' external IP', 'external'],
  [' loadbalancer IP', 'lb'],
];
const NO_ENDPOINTS = ' has no endpoints';
const NO_LOCAL = ' has no local endpoints';
const HEALTH_CHECK = ' health check node port';
const NOT_ACCEPTED = ' traffic not accepted by ';

/** Services implemented by one family's iptables-mode kube-proxy rules. */
export function discoverIptablesServices(fam: FamilyRules, node: NodeContext): Service[] {
  const nat = fam.tables.get('nat');
  const filter = fam.tables.get('filter');
  const drafts = new Map<string, Draft>();
  const draft = (hash: string, protocol: Service['protocol'] | undefined): Draft => {
    let d = drafts.get(hash);
    if (!d) {
      d = { hash, ...blankDraft('', protocol ?? 'tcp') };
      drafts.set(hash, d);
    }
    return d;
  };

  if (nat) readNatEntryPoints(nat, draft);
  if (filter) readFilterRules(filter, draft, (hash) => drafts.get(hash));
  const index = nat ? indexNat(nat, localTest(node)) : undefined;
  const found: LadderRead = { slots: [], probability: [], local: [], affinitySeconds: undefined };
  return [...drafts.values()].map((d) => finish(d, index, fam.family, found));
}

/** A service port's own nat chains (KUBE-<kind>-<its hash>). */
interface OwnChains {
  SVC?: Chain;
  SVL?: Chain;
  EXT?: Chain;
  XLB?: Chain;
  FW?: Chain;
}


/**
 * The nat table's kube-proxy chains, read in one pass in the table's own order: per-service chains
 * by hash, and every KUBE-SEP chain's endpoint. A dump lists chains by name (and the parser
 * allocates them in that order) while services reach their SEP chains in hash order; reading each
 * SEP chain where it lies, once, instead of chasing it from its service, is what makes large dumps
 * cheap.
 */
interface NatIndex {
  chains: Map<string, Chain>;
  own: Map<string, OwnChains>;
  /** Every KUBE-SEP chain by name: its slot in `text`/`local`, or -1 when it has no DNAT. */
  seps: Map<string, number>;
  /** A SEP chain's endpoint (`ip:port`), by slot. */
  text: string[];
  /**
   * Whether a slot's endpoint is on this node; undefined when the node context says nothing.
   * Settled here, where the address was just read, rather than when a service reaches it.
   */
  local: boolean[] | undefined;
}

function indexNat(nat: Table, onNode: ((addr: Addr) => boolean) | undefined): NatIndex {
  const own = new Map<string, OwnChains>();
  const seps = new Map<string, number>();
  const text: string[] = [];
  const local: boolean[] | undefined = onNode ? [] : undefined;
  // forEach, not for-of over the entries: no [name, chain] array for each of 100k+ chains.
  nat.chains.forEach((chain, name) => {
    const kind = kubeChainKind(name);
    if (kind === null) return;
    if (kind === 'SEP') {
      const range = sepDnat(chain);
      if (range) {
        const slot = text.length;
        seps.set(name, slot);
        text.push(formatEndpoint(range.lo as Addr, range.ports?.lo));
        if (onNode) local!.push(onNode(range.lo as Addr));
      } else seps.set(name, -1);
      return;
    }
    const hash = name.slice(name.length - 16);
    let o = own.get(hash);
    if (!o) own.set(hash, (o = {}));
    o[kind] = chain;
  });
  return { chains: nat.chains, own, seps, text, local };
}

/** Whether an endpoint address is on this node; undefined when the node context says nothing. */
function localTest(node: NodeContext): ((addr: Addr) => boolean) | undefined {
  return node.podCIDRs.length > 0 || node.addresses.length > 0 ? (addr) => endpointOnNode(addr, node) : undefined;
}

type DraftOf = (hash: string, protocol: Service['protocol'] | undefined) => Draft;

/** KUBE-SERVICES and KUBE-NODEPORTS in nat: which addresses and ports lead to which service chains. */
function readNatEntryPoints(nat: Table, draftOf: DraftOf): void {
  for (const r of nat.chains.get('KUBE-SERVICES')?.rules ?? []) {
    const target = kubeTarget(r);
    if (!target || target.kind === 'SEP') continue;
    const d = draftOf(target.hash, protocolOf(r));
    const comment = commentOf(r);
    let role: 'cluster' | 'external' | 'lb' | undefined;
    if (comment) {
      for (const [suffix, kind] of SUFFIXES) {
        if (comment.endsWith(suffix)) {
          role = kind;
          setName(d, comment.slice(0, -suffix.length));
        }
      }
    }
    // No comment: the first SVC/SVL jump is the cluster IP, an FW jump an LB IP, the rest external.
    role ??= target.kind === 'FW' ? 'lb' : (target.kind === 'SVC' || target.kind === 'SVL') && !d.clusterIP ? 'cluster' : 'external';
    const dst = dstHost(r);
    if (!dst) continue;
    const proto = protocolOf(r);
    if (proto) d.protocol = proto;
    if (role === 'cluster') {
      d.clusterIP = dst;
      d.port = dportOf(r) ?? d.port;
      d.internalChain = targetChain(r);
      if (target.kind === 'SVL') d.itpLocal = true;
    } else if (role === 'lb') addUnique(d.loadBalancerIPs, dst);
    else addUnique(d.externalIPs, dst);
    if (!d.port) d.port = dportOf(r) ?? 0;
  }
  for (const r of nat.chains.get('KUBE-NODEPORTS')?.rules ?? []) {
    const target = kubeTarget(r);
    const port = dportOf(r);
    if (!target || target.kind === 'SEP' || port === undefined) continue;
    const d = draftOf(target.hash, protocolOf(r));
    const comment = commentOf(r);
    if (comment) setName(d, comment);
    d.nodePort = port;
  }
}

/** The filter table: services that nat does not show (no endpoints, no local endpoints), health checks, LB firewalls. */
function readFilterRules(filter: Table, draftOf: DraftOf, existing: (hash: string) => Draft | undefined): void {
  const byComment = (r: Rule, suffix: string): Draft | undefined => {
    const c = commentOf(r);
    const proto = protocolOf(r);
    if (!c || !c.endsWith(suffix) || !proto) return undefined;
    const name = c.slice(0, -suffix.length);
    const d = draftOf(servicePortHash(name, proto), proto);
    setName(d, name);
    return d;
  };
  for (const r of filter.chains.get('KUBE-SERVICES')?.rules ?? []) {
    const d = byComment(r, NO_ENDPOINTS) ?? byComment(r, NO_LOCAL);
    const dst = dstHost(r);
    if (!d || !dst) continue;
    if (commentOf(r)?.endsWith(NO_ENDPOINTS)) d.noEndpoints = true;
    else {
      d.itpLocal = true;
      d.noLocalEndpoints = true;
    }
    d.clusterIP = dst;
    d.port = dportOf(r) ?? d.port;
  }
  for (const r of filter.chains.get('KUBE-EXTERNAL-SERVICES')?.rules ?? []) {
    const noEndpoints = byComment(r, NO_ENDPOINTS);
    const d = noEndpoints ?? byComment(r, NO_LOCAL);
    if (!d) continue;
    if (noEndpoints) d.noEndpoints = true;
    else {
      d.etpLocal = true;
      d.noLocalEndpoints = true;
    }
    const port = dportOf(r);
    if (hasAddrtypeDstLocal(r)) {
      if (port !== undefined) d.nodePort = port;
      continue;
    }
    const dst = dstHost(r);
    if (dst && !d.externalIPs.includes(dst) && !d.loadBalancerIPs.includes(dst)) addUnique(d.unclassified, dst);
    if (!d.port && port !== undefined) d.port = port;
  }
  // Health checks are always TCP, whatever the service's protocol: find the service port by name.
  for (const r of filter.chains.get('KUBE-NODEPORTS')?.rules ?? []) {
    const c = commentOf(r);
    const port = dportOf(r);
    if (!c || !c.endsWith(HEALTH_CHECK) || port === undefined) continue;
    const name = c.slice(0, -HEALTH_CHECK.length);
    for (const proto of ['tcp', 'udp', 'sctp'] as const) {
      const d = existing(servicePortHash(name, proto));
      if (d) d.healthCheckNodePort = port;
    }
  }
  for (const r of filter.chains.get('KUBE-PROXY-FIREWALL')?.rules ?? []) {
    const c = commentOf(r);
    const at = c ? c.indexOf(NOT_ACCEPTED) : -1;
    if (!c || at < 0) continue;
    const fw = parseKubeChain(c.slice(at + NOT_ACCEPTED.length));
    const dst = dstHost(r);
    if (!fw || !dst) continue;
    const d = draftOf(fw.hash, protocolOf(r));
    setName(d, c.slice(0, at));
    addUnique(d.loadBalancerIPs, dst);
  }
}

/** `found`: the ladder reader's arrays, emptied and reused for each service. */
function finish(d: Draft, nat: NatIndex | undefined, family: Family, found: LadderRead): Service {
  const own = nat?.own.get(d.hash);
  const svc = own?.SVC;
  const svl = own?.SVL;
  const ext = own?.EXT;
  const xlb = own?.XLB;
  const fw = own?.FW;

  // eTP=Local: KUBE-EXT short-circuits pods and the node itself, then (if any) goes to KUBE-SVL;
  // eTP=Cluster masquerades everything. Before 1.24 the Local chain was KUBE-XLB.
  if (xlb) d.etpLocal = true;
  if (ext) {
    const svlName = `KUBE-SVL-${d.hash}`;
    let toSvl = false;
    let srcLocal = false;
    for (const r of ext.rules) {
      if (targetChain(r) === svlName) toSvl = true;
      else if (!srcLocal && hasAddrtypeSrcLocal(r)) srcLocal = true;
    }
    if (toSvl || srcLocal) d.etpLocal = true;
    if (d.etpLocal && !toSvl) d.noLocalEndpoints = true;
  }

  // Source ranges: KUBE-FW's `-s range -j KUBE-EXT` rules, minus the LB-IP rules kube-proxy adds
  // when the node itself is inside a range (a hairpin from the VIP, not a configured range).
  const sourceRanges: string[] = [];
  for (const r of fw?.rules ?? []) {
    const t = kubeTarget(r);
    const src = r.matches.find((m) => m.kind === 'src' && !m.invert);
    if (!t || t.kind === 'SEP' || !src || src.kind !== 'src') continue;
    const host = src.cidr.prefix === (family === 4 ? 32 : 128) ? formatAddr(src.cidr) : '';
    if (host && d.loadBalancerIPs.includes(host)) continue;
    addUnique(sourceRanges, formatCidr(src.cidr));
  }

  // Addresses only the filter table shows (no endpoints at all): kube-proxy writes external and LB
  // IPs alike there. LoadBalancer services nearly always have a node port, so use that to tell.
  for (const a of d.unclassified) addUnique(d.nodePort !== undefined ? d.loadBalancerIPs : d.externalIPs, a);

  // Endpoints: the ladder of the chain cluster-IP traffic takes, then any endpoint only the
  // external path reaches (local ones via SVL/XLB, or all via SVC under iTP=Local).
  const internal = d.internalChain ? nat?.chains.get(d.internalChain) : undefined;
  found.slots.length = 0;
  found.probability.length = 0;
  found.local.length = 0;
  found.affinitySeconds = undefined;
  found.at = undefined;
  if (nat) {
    if (internal) readLadder(internal, true, internal === svl, nat, found);
    if (svc && svc !== internal) readLadder(svc, false, false, nat, found);
    if (svl && svl !== internal) readLadder(svl, false, true, nat, found);
    if (xlb && xlb !== internal) readLadder(xlb, false, true, nat, found);
  }

  const out: ServiceEndpoint[] = [];
  for (let i = 0; i < found.slots.length; i++) {
    const slot = found.slots[i]!;
    const endpoint = nat!.text[slot]!;
    const probability = found.probability[i]!;
    if (found.local[i]) out.push({ endpoint, probability, local: true });
    else if (nat!.local) out.push({ endpoint, probability, local: nat!.local[slot]! });
    else out.push({ endpoint, probability });
  }
  return serviceOf(d, sourceRanges, found.affinitySeconds, out);
}

/**
 * The endpoints a service's ladders reach, in the order first reached (one per SEP chain, which is
 * one per index slot): summed share, and whether a Local chain reaches it. Parallel arrays, not a
 * map of objects: a service has a handful of endpoints and tens of thousands of services are read.
 */
interface LadderRead {
  slots: number[];
  probability: number[];
  local: boolean[];
  affinitySeconds: number | undefined;
  /** Slot → position, once a service has more endpoints than a scan should cover. */
  at?: Map<number, number>;
}

/** Scanning `slots` beats a map up to about this many endpoints. */
const SCAN_MAX = 32;

/**
 * writeServiceToEndpointRules read back: `recent --rcheck` rules (affinity) are skipped for a first
 * connection; each jump to a KUBE-SEP chain takes its statistic share of what is still falling
 * through (threshold / 2^31, exactly as the kernel compares), an unconditional one takes the rest.
 * Only the ladder cluster-IP traffic takes (`counts`) adds its shares; the others list endpoints
 * only they reach with 0. A SEP chain that is missing or has no DNAT adds no endpoint.
 */
function readLadder(chain: Chain, counts: boolean, local: boolean, nat: NatIndex, into: LadderRead): void {
  let remaining = 1;
  for (const r of chain.rules) {
    const sep = targetChain(r);
    if (sep === undefined) continue;
    // Known SEP chains first: the name check is only needed for a jump to a SEP chain that is missing.
    const slot = nat.seps.get(sep);
    if (slot === undefined && kubeChainKind(sep) !== 'SEP') continue;
    // One pass over the matches: the first `recent` one, and the product of the statistic shares.
    let recent: (Match & { kind: 'recent' }) | undefined;
    let p = 1;
    for (const m of r.matches) {
      if (m.kind === 'recent') recent ??= m;
      else if (m.kind === 'random') p *= m.invert ? 1 - thresholdProbability(m.threshold) : thresholdProbability(m.threshold);
    }
    if (recent && recent.op !== 'set') {
      if (recent.seconds !== undefined) into.affinitySeconds ??= recent.seconds;
      continue;
    }
    const share = remaining * p;
    remaining -= share;
    if (slot === undefined || slot < 0) continue;
    const at = into.at ? (into.at.get(slot) ?? -1) : into.slots.indexOf(slot);
    if (at >= 0) {
      if (counts) into.probability[at] += share;
      if (local) into.local[at] = true;
      continue;
    }
    into.at?.set(slot, into.slots.length);
    into.slots.push(slot);
    into.probability.push(counts ? share : 0);
    into.local.push(local);
    if (!into.at && into.slots.length > SCAN_MAX) into.at = new Map(into.slots.map((s, i) => [s, i]));
  }
}

/** The DNAT range of a KUBE-SEP chain: its first DNAT rule with an address. */
function sepDnat(chain: Chain): NatRange | null {
  const rules = chain.rules;
  for (let i = 0; i < rules.length; i++) {
    const t = rules[i]!.target;
    if (t?.kind !== 'DNAT' || t.ranges.length === 0 || !t.ranges[0].lo) continue;
    return t.ranges[0];
  }
  return null;
}

// ---- small readers over one rule's typed matches and target ----

function targetChain(r: Rule): string | undefined {
  const t = r.target;
  return t && (t.kind === 'jump' || t.kind === 'goto') ? t.chain : undefined;
}

function kubeTarget(r: Rule): { kind: KubeChainKind; hash: string } | null {
  const c = targetChain(r);
  return c ? parseKubeChain(c) : null;
}

function commentOf(r: Rule): string | undefined {
  for (const m of r.matches) if (m.kind === 'comment') return m.text;
  return undefined;
}

function protocolOf(r: Rule): Service['protocol'] | undefined {
  for (const m of r.matches) {
    if (m.kind !== 'proto' || m.invert) continue;
    if (m.proto === PROTO.tcp) return 'tcp';
    if (m.proto === PROTO.udp) return 'udp';
    if (m.proto === PROTO.sctp) return 'sctp';
  }
  return undefined;
}

function dportOf(r: Rule): number | undefined {
  for (const m of r.matches) if (m.kind === 'dport' && !m.invert && m.range.lo === m.range.hi) return m.range.lo;
  return undefined;
}

/** The single destination address of a rule (`-d x/32`), formatted. */
function dstHost(r: Rule): string | undefined {
  for (const m of r.matches) {
    if (m.kind !== 'dst' || m.invert) continue;
    if (m.cidr.prefix !== (m.cidr.family === 4 ? 32 : 128)) return undefined;
    return formatAddr(m.cidr);
  }
  return undefined;
}

function hasAddrtypeDstLocal(r: Rule): boolean {
  return r.matches.some((m) => m.kind === 'addrtype' && m.dst !== undefined && !m.dst.invert && (m.dst.types & ADDRTYPE.LOCAL) !== 0);
}

function hasAddrtypeSrcLocal(r: Rule): boolean {
  return r.matches.some((m) => m.kind === 'addrtype' && m.src !== undefined && !m.src.invert && (m.src.types & ADDRTYPE.LOCAL) !== 0);
}

function setName(d: Draft, name: string): void {
  if (!d.name && name) d.name = name;
}

function addUnique(xs: string[], x: string): void {
  if (!xs.includes(x)) xs.push(x);
}
