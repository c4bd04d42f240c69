// Service discovery for kube-proxy's nftables mode: the services of the `ip kube-proxy` /
// `ip6 kube-proxy` table, read from the parsed nft syntax (src/model/nft.ts, libnftables-json
// expressions from either listing form), in the same Service shape iptables and IPVS mode give.
//
// The table says it all without comments: chain names carry the service port
// (`service-HASH-ns/name/proto/port`, `local-…`, `external-…`, `firewall-…`, `endpoint-…__ip/port`),
// the dispatch maps carry the addresses (`service-ips`: cluster, external and LB IPs →
// service/local/external chain; `service-nodeports`; `firewall-ips`: LB IPs with source ranges),
// `cluster-ips` says which addresses are cluster IPs, and `no-endpoint-services` /
// `no-endpoint-nodeports` hold, with the service's name as the element comment, what has nothing
// to serve it (`goto reject-chain`: no endpoints; `drop`: a Local policy without local endpoints).
//
// Endpoint choice, in every shape upstream has shipped: v1.33–v1.35 and any affinity service
// (`numgen random mod N vmap { i : goto endpoint-… }`, the endpoint chain's `dnat to`), v1.36+
// (`dnat ip addr . port to numgen random mod N map { i : IP . PORT }`), v1.37 single endpoint
// (`dnat to IP:PORT` in the service chain). Each numgen value has probability 1/N; a value no
// element maps falls through (no endpoint). Affinity: the `ip saddr @affinity-… goto endpoint-…`
// rules, timeout from the affinity set.
//
// What the table cannot say: external IPs and LB IPs without source ranges go to the same chain
// the same way; as in iptables-mode discovery, a service with a node port is taken to be a
// LoadBalancer (its other addresses are LB IPs), one without as having external IPs.
// Health-check node ports have no nft rules and are not reported.

import { formatAddr, formatCidr, formatEndpoint, parseAddr, parseCidr } from '../model/addr.js';
import type { Addr } from '../model/addr.js';
import type { Service, ServiceEndpoint } from '../model/contracts.js';
import type { NftChain, NftExpr, NftJson, NftRuleset, NftSet, NftTable } from '../model/nft.js';
import { recordOf, tagOf } from '../model/nft.js';
import type { NodeContext } from '../model/ruleset.js';
import { parseNftChain } from './names.js';
import { blankDraft, serviceOf, type ServiceDraft } from './draft.js';
import { endpointOnNode } from './node-local.js';

type Proto = Service['protocol'];

/** A draft (draft.ts) with the table's names for the service port. */
interface Draft extends ServiceDraft {
  /** `ns/name/proto/port` (the chain-name form). */
  key: string;
  firewallChain?: string;
}

const PROTOS: Record<string, Proto> = { tcp: 'tcp', udp: 'udp', sctp: 'sctp', '6': 'tcp', '17': 'udp', '132': 'sctp' };

/** The kube-proxy services of every `kube-proxy` table (ip and ip6) in an nft rule set (unsorted). */
export function discoverNftServices(ruleset: NftRuleset, node: NodeContext): Service[] {
  const out: Service[] = [];
  for (const t of ruleset.tables) if (t.name === 'kube-proxy' && (t.family === 'ip' || t.family === 'ip6')) out.push(...tableServices(t, node));
  return out;
}

function tableServices(table: NftTable, node: NodeContext): Service[] {
  const sets = new Map(table.sets.map((s) => [s.name, s]));
  const drafts = new Map<string, Draft>();
  const draftFor = (key: string): Draft => {
    let d = drafts.get(key);
    if (!d) {
      const [ns, name, proto, port] = key.split('/');
      d = { key, ...blankDraft(port ? `${ns}/${name}:${port}` : `${ns}/${name}`, PROTOS[proto] ?? 'tcp') };
      drafts.set(key, d);
    }
    return d;
  };
  const clusterIPs = new Set<string>();
  for (const e of sets.get('cluster-ips')?.elems ?? []) {
    const a = addrOf(elemKey(e.key));
    if (a) clusterIPs.add(formatAddr(a));
  }

  // Every per-service chain makes its service port known, even one no map element names; per
  // service port, its chains by kind (the last of a kind, as a lookup by name would find).
  const chainsOf = new Map<string, Map<string, NftChain>>();
  for (const c of table.chains) {
    const o = ownerOf(c.name);
    if (!o) continue;
    draftFor(o.key);
    let m = chainsOf.get(o.key);
    if (!m) chainsOf.set(o.key, (m = new Map()));
    m.set(o.kind, c);
  }

  // service-ips: cluster IPs → service-/local- chain; external and LB IPs → external- chain.
  for (const e of sets.get('service-ips')?.elems ?? []) {
    const k = concatParts(elemKey(e.key));
    const target = verdictChain(e.data);
    const o = target ? ownerOf(target) : null;
    if (!k || k.length !== 3 || !o) continue;
    const addr = addrOf(k[0]);
    const port = numberOf(k[2]);
    if (!addr || port === undefined) continue;
    const d = draftFor(o.key);
    const ip = formatAddr(addr);
    if (o.kind === 'service' || o.kind === 'local') {
      d.clusterIP = ip;
      d.port = port;
      d.internalChain = target as string;
      if (o.kind === 'local') d.itpLocal = true;
    } else if (o.kind === 'external') {
      addUnique(d.unclassified, ip);
      if (!d.port) d.port = port;
    }
  }
  // service-nodeports: proto . port → external- chain.
  for (const e of sets.get('service-nodeports')?.elems ?? []) {
    const k = concatParts(elemKey(e.key));
    const target = verdictChain(e.data);
    const o = target ? ownerOf(target) : null;
    const port = k && k.length === 2 ? numberOf(k[1]) : undefined;
    if (o && port !== undefined) draftFor(o.key).nodePort = port;
  }
  // firewall-ips: LB IPs with source ranges → firewall- chain.
  for (const e of sets.get('firewall-ips')?.elems ?? []) {
    const k = concatParts(elemKey(e.key));
    const target = verdictChain(e.data);
    const o = target ? ownerOf(target) : null;
    const addr = k && k.length === 3 ? addrOf(k[0]) : null;
    if (!o || !addr) continue;
    const d = draftFor(o.key);
    addUnique(d.loadBalancerIPs, formatAddr(addr));
    d.firewallChain = target as string;
  }
  // The no-endpoint maps: named by the element comment ("ns/name:port").
  const byComment = (comment: string | undefined, proto: NftJson): Draft | null => {
    const p = PROTOS[String(proto)];
    if (!comment || !p) return null;
    const slash = comment.indexOf('/');
    if (slash < 0) return null;
    const ns = comment.slice(0, slash);
    const [name, port = ''] = comment.slice(slash + 1).split(':');
    return draftFor(`${ns}/${name}/${p}/${port}`);
  };
  for (const e of sets.get('no-endpoint-services')?.elems ?? []) {
    const { key, comment } = elemParts(e.key, e.comment);
    const k = concatParts(key);
    if (!k || k.length !== 3) continue;
    const d = byComment(comment, k[1]);
    const addr = addrOf(k[0]);
    const port = numberOf(k[2]);
    if (!d || !addr || port === undefined) continue;
    const reject = verdictChain(e.data) === 'reject-chain';
    const ip = formatAddr(addr);
    if (reject) d.noEndpoints = true;
    if (clusterIPs.has(ip)) {
      d.clusterIP = ip;
      d.port = port;
      if (!reject) {
        d.itpLocal = true;
        d.noLocalEndpoints = true;
      }
    } else {
      if (!reject) {
        d.etpLocal = true;
        d.noLocalEndpoints = true;
      }
      if (!d.loadBalancerIPs.includes(ip)) addUnique(d.unclassified, ip);
      if (!d.port) d.port = port;
    }
  }
  for (const e of sets.get('no-endpoint-nodeports')?.elems ?? []) {
    const { key, comment } = elemParts(e.key, e.comment);
    const k = concatParts(key);
    if (!k || k.length !== 2) continue;
    const d = byComment(comment, k[0]);
    const port = numberOf(k[1]);
    if (!d || port === undefined) continue;
    d.nodePort = port;
    if (verdictChain(e.data) === 'reject-chain') d.noEndpoints = true;
    else {
      d.etpLocal = true;
      d.noLocalEndpoints = true;
    }
  }

  const look: Lookup = { table, chainsOf, sets, dnats: endpointDnats(table) };
  return [...drafts.values()].map((d) => finish(d, chainsOf.get(d.key) ?? new Map(), look, node));
}

/** The service port a chain belongs to (`service-H-ns/x/tcp/p` → `ns/x/tcp/p`). */
function ownerOf(chain: string): { kind: string; key: string } | null {
  const p = parseNftChain(chain);
  if (!p || p.kind === 'endpoint' || p.kind === 'affinity') return null;
  return p.rest.split('/').length === 4 ? { kind: p.kind, key: p.rest } : null;
}

/**
 * The table's per-service chains and sets by name, and what each chain DNATs to (chainDnat), read
 * once. A map of every chain by name is built only when a name outside those is looked up.
 */
interface Lookup {
  table: NftTable;
  chainsOf: Map<string, Map<string, NftChain>>;
  sets: Map<string, NftSet>;
  dnats: Map<string, Endpoint | null>;
  all?: Map<string, NftChain>;
}

/**
 * The chain of that name (the last one, if the table repeats it). A per-service name is answered
 * from chainsOf: the last chain of its service port and kind is the last chain of its name, unless
 * another name shares that port and kind — then, and for any other name, from the map of all.
 */
function chainNamed(look: Lookup, name: string): NftChain | undefined {
  const o = ownerOf(name);
  if (o) {
    const c = look.chainsOf.get(o.key)?.get(o.kind);
    if (!c) return undefined;
    if (c.name === name) return c;
  }
  if (!look.all) {
    look.all = new Map();
    for (const c of look.table.chains) look.all.set(c.name, c);
  }
  return look.all.get(name);
}

/** An endpoint a ladder step leads to; `key` is its formatted `ip:port`. */
interface Endpoint {
  addr: Addr;
  port: number | undefined;
  key: string;
}

/**
 * Every endpoint chain's DNAT, read in one pass in the table's order: services reach their
 * endpoint chains in an order unrelated to where those lie, and on large tables chasing each one
 * from its service cost more than all the rest of discovery.
 */
function endpointDnats(table: NftTable): Map<string, Endpoint | null> {
  const out = new Map<string, Endpoint | null>();
  for (const c of table.chains) if (c.name.startsWith('endpoint-')) out.set(c.name, chainDnat(c));
  return out;
}

/** chainDnat of a chain by name, from the pass above or (any other chain a vmap names) read now. */
function dnatOfChain(look: Lookup, name: string): Endpoint | null {
  let ep = look.dnats.get(name);
  if (ep === undefined) {
    ep = chainDnat(chainNamed(look, name));
    look.dnats.set(name, ep);
  }
  return ep;
}

function finish(d: Draft, own: Map<string, NftChain>, look: Lookup, node: NodeContext): Service {
  const serviceChain = own.get('service')?.name;
  const localChain = own.get('local')?.name;
  const firewallChain = d.firewallChain ?? own.get('firewall')?.name;

  // eTP=Local: the external chain short-circuits pods and the node (`fib saddr type local`) and
  // sends the rest to the local chain — when there is one; without it, external traffic is dropped.
  const ext = own.get('external');
  if (ext) {
    const gotoLocal = localChain !== undefined && ext.rules.some((r) => r.expr.some((x) => verdictChain(x) === localChain));
    const fibLocal = ext.rules.some((r) => r.expr.some((x) => tagOf(recordOf(bodyOfTag(x, 'match'))?.left ?? null) === 'fib'));
    if (gotoLocal || fibLocal) d.etpLocal = true;
    if (d.etpLocal && !gotoLocal) d.noLocalEndpoints = true;
  }

  // External and LB addresses: firewalled ones are LB IPs; the rest as iptables-mode discovery does.
  for (const a of d.unclassified) if (!d.loadBalancerIPs.includes(a)) addUnique(d.nodePort !== undefined ? d.loadBalancerIPs : d.externalIPs, a);

  // Source ranges: the firewall chain's `ip saddr != { ranges } drop`, minus the LB IPs kube-proxy
  // adds when the node itself is inside a range.
  const sourceRanges: string[] = [];
  for (const r of (firewallChain ? chainNamed(look, firewallChain)?.rules : undefined) ?? []) {
    for (const x of r.expr) {
      const m = recordOf(bodyOfTag(x, 'match'));
      if (!m || m.op !== '!=' || !isPayload(m.left, 'saddr')) continue;
      for (const item of setItems(m.right)) {
        const c = cidrOf(item);
        if (!c) continue;
        const host = c.prefix === (c.family === 4 ? 32 : 128) ? formatAddr(c) : '';
        if (host && d.loadBalancerIPs.includes(host)) continue;
        addUnique(sourceRanges, formatCidr(c));
      }
    }
  }

  // Endpoints: the chain cluster-IP traffic takes decides the probabilities; endpoints only the
  // other policy chain reaches are listed with probability 0 (local ones via the local chain).
  const endpoints = new Map<string, { probability: number; addr: Addr }>();
  let affinitySeconds: number | undefined;
  const internal = d.internalChain ?? (d.itpLocal ? localChain : serviceChain);
  const ladders: { chain: string; counts: boolean; local: boolean }[] = [];
  if (internal && !d.noEndpoints && !(d.itpLocal && d.noLocalEndpoints)) ladders.push({ chain: internal, counts: true, local: internal === localChain });
  for (const [c, local] of [
    [serviceChain, false],
    [localChain, true],
  ] as const) {
    if (c && !ladders.some((l) => l.chain === c)) ladders.push({ chain: c, counts: false, local });
  }
  const localSeen = new Set<string>();
  for (const l of ladders) {
    const chain = chainNamed(look, l.chain);
    if (!chain) continue;
    const ladder = readLadder(chain, look);
    if (ladder.affinitySeconds !== undefined) affinitySeconds ??= ladder.affinitySeconds;
    for (const step of ladder.steps) {
      const key = step.key;
      if (l.local) localSeen.add(key);
      const prev = endpoints.get(key);
      const p = l.counts ? step.probability : 0;
      if (prev) prev.probability += p;
      else endpoints.set(key, { probability: p, addr: step.addr });
    }
  }
  const onNode = node.podCIDRs.length > 0 || node.addresses.length > 0;
  const eps: ServiceEndpoint[] = [];
  for (const [endpoint, { probability, addr }] of endpoints) {
    if (localSeen.has(endpoint)) eps.push({ endpoint, probability, local: true });
    else if (onNode) eps.push({ endpoint, probability, local: endpointOnNode(addr, node) });
    else eps.push({ endpoint, probability });
  }

  return serviceOf(d, sourceRanges, affinitySeconds, eps);
}

interface Ladder {
  steps: (Endpoint & { probability: number })[];
  affinitySeconds?: number;
}

/**
 * writeServiceToEndpointRules read back, for a first connection: affinity lookups are skipped
 * (their timeout noted); the first rule that chooses an endpoint — a numgen vmap to endpoint
 * chains, a DNAT through a numgen map, or a plain DNAT — decides, each numgen value 1/N.
 */
function readLadder(chain: NftChain, look: Lookup): Ladder {
  const steps: Ladder['steps'] = [];
  let affinitySeconds: number | undefined;
  for (const r of chain.rules) {
    // `ip saddr @affinity-X goto endpoint-X`: only a returning client takes it.
    const affinitySet = affinityMatch(r.expr);
    if (affinitySet) {
      const set = look.sets.get((affinitySet.right as string).slice(1));
      if (set?.timeout !== undefined) affinitySeconds ??= set.timeout;
      continue;
    }
    for (const x of r.expr) {
      const vmap = recordOf(bodyOfTag(x, 'vmap'));
      const mod = vmap ? numgenMod(vmap.key) : undefined;
      if (vmap && mod) {
        for (const [value, verdict] of mapPairs(vmap.data)) {
          const target = verdictChain(verdict);
          const ep = target ? dnatOfChain(look, target) : null;
          if (ep && numberOf(value) !== undefined) steps.push({ addr: ep.addr, port: ep.port, key: ep.key, probability: 1 / mod });
        }
        return { steps: merge(steps), ...(affinitySeconds !== undefined ? { affinitySeconds } : {}) };
      }
      const dnat = recordOf(bodyOfTag(x, 'dnat'));
      if (!dnat) continue;
      const map = recordOf(bodyOfTag(dnat.addr, 'map'));
      const n = map ? numgenMod(map.key) : undefined;
      if (map && n) {
        for (const [, target] of mapPairs(map.data)) {
          const parts = concatParts(target);
          const addr = parts ? addrOf(parts[0]) : addrOf(target);
          if (addr) steps.push(stepOf(addr, parts ? numberOf(parts[1]) : undefined, 1 / n));
        }
      } else {
        const ep = dnatTarget(dnat);
        if (ep) steps.push({ addr: ep.addr, port: ep.port, key: ep.key, probability: 1 });
      }
      return { steps: merge(steps), ...(affinitySeconds !== undefined ? { affinitySeconds } : {}) };
    }
  }
  return { steps, ...(affinitySeconds !== undefined ? { affinitySeconds } : {}) };
}

/** Two numgen values on one endpoint: one step with their probabilities added. */
function merge(steps: Ladder['steps']): Ladder['steps'] {
  const by = new Map<string, Ladder['steps'][number]>();
  for (const s of steps) {
    const prev = by.get(s.key);
    if (prev) prev.probability += s.probability;
    else by.set(s.key, { addr: s.addr, port: s.port, key: s.key, probability: s.probability });
  }
  return [...by.values()];
}

function stepOf(addr: Addr, port: number | undefined, probability: number): Ladder['steps'][number] {
  return { addr, port, key: formatEndpoint(addr, port), probability };
}

/** The first `… @affinity-X` match of a rule (an affinity lookup), if any. */
function affinityMatch(expr: NftExpr[]): Record<string, NftJson> | undefined {
  for (const x of expr) {
    const m = recordOf(bodyOfTag(x, 'match'));
    if (m && typeof m.right === 'string' && m.right.startsWith('@affinity-')) return m;
  }
  return undefined;
}

/** The `dnat to A:P` of an endpoint chain. */
function chainDnat(chain: NftChain | undefined): Endpoint | null {
  for (const r of chain?.rules ?? []) {
    for (const x of r.expr) {
      const dnat = recordOf(bodyOfTag(x, 'dnat'));
      const ep = dnat ? dnatTarget(dnat) : null;
      if (ep) return ep;
    }
  }
  return null;
}

function dnatTarget(dnat: Record<string, NftJson>): Endpoint | null {
  const addr = addrOf(dnat.addr);
  if (!addr) return null;
  const port = numberOf(dnat.port);
  return { addr, port, key: formatEndpoint(addr, port) };
}

// ---- small readers over libnftables-json expressions ----

function bodyOfTag(e: NftExpr, tag: string): NftJson | undefined {
  return tagOf(e) === tag ? (e as Record<string, NftJson>)[tag] : undefined;
}

/** `{"numgen": {"mode": "random", "mod": N, "offset": 0}}` → N (offset 0 only: kube-proxy's). */
function numgenMod(e: NftJson | undefined): number | undefined {
  const n = recordOf(bodyOfTag(e ?? null, 'numgen'));
  if (!n || n.mode !== 'random' || (n.offset !== undefined && n.offset !== 0)) return undefined;
  return typeof n.mod === 'number' && n.mod > 0 ? n.mod : undefined;
}

/** A map's `{"set": [[key, value], …]}` as pairs. */
function mapPairs(data: NftJson | undefined): [NftJson, NftJson][] {
  const items = bodyOfTag(data ?? null, 'set');
  if (!Array.isArray(items)) return [];
  const out: [NftJson, NftJson][] = [];
  for (const it of items) if (Array.isArray(it) && it.length === 2) out.push([it[0], it[1]]);
  return out;
}

/** The chain of a `goto`/`jump` verdict (map element data or statement). */
function verdictChain(v: NftJson | undefined): string | undefined {
  for (const tag of ['goto', 'jump']) {
    const b = recordOf(bodyOfTag(v ?? null, tag));
    if (b && typeof b.target === 'string') return b.target;
  }
  return undefined;
}

/** A map key may be wrapped as `{"elem": {"val": …, "comment": …}}`. */
function elemParts(key: NftJson, comment: string | undefined): { key: NftJson; comment: string | undefined } {
  const el = recordOf(bodyOfTag(key, 'elem'));
  if (!el) return { key, comment };
  return { key: el.val ?? null, comment: comment ?? (typeof el.comment === 'string' ? el.comment : undefined) };
}

function elemKey(key: NftJson): NftJson {
  return elemParts(key, undefined).key;
}

function concatParts(e: NftJson): NftJson[] | null {
  const c = bodyOfTag(e, 'concat');
  return Array.isArray(c) ? c : null;
}

function numberOf(v: NftJson | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function addrOf(v: NftJson | undefined): Addr | null {
  return typeof v === 'string' ? parseAddr(v) : null;
}

function cidrOf(v: NftJson): ReturnType<typeof parseCidr> {
  if (typeof v === 'string') return parseCidr(v.includes('/') ? v : `${v}/${v.includes(':') ? 128 : 32}`);
  const p = recordOf(bodyOfTag(v, 'prefix'));
  if (p && typeof p.addr === 'string' && typeof p.len === 'number') return parseCidr(`${p.addr}/${p.len}`);
  return null;
}

/** The items of an anonymous set, or the one value a one-element set lists as. */
function setItems(v: NftJson | undefined): NftJson[] {
  const s = bodyOfTag(v ?? null, 'set');
  if (Array.isArray(s)) return s;
  return v === undefined ? [] : [v];
}

function isPayload(e: NftJson | undefined, field: string): boolean {
  const p = recordOf(bodyOfTag(e ?? null, 'payload'));
  return !!p && (p.protocol === 'ip' || p.protocol === 'ip6') && p.field === field;
}

function addUnique(xs: string[], x: string): void {
  if (!xs.includes(x)) xs.push(x);
}
