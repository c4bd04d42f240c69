// `-m set --match-set NAME dir[,dir…]` against real set contents, with the kernel's semantics
// (net/netfilter/ipset/ip_set_hash_*.c, ip_set_bitmap_port.c, ip_set_list_set.c):
//
//  - the match supplies one direction per dimension; fewer directions than the set has dimensions
//    → no match (ip_set_test: opt->dim < set->type->dimension); extra directions are ignored;
//  - a packet of the other family never matches (ip_set_test checks the family first);
//  - port dimensions carry the protocol (tcp:80 ≠ udp:80); ICMP "ports" are type<<8|code; other
//    protocols have port 0 (ip_set_get_ip4_port); bitmap:port has no protocol but only answers
//    for TCP and UDP packets (ip_set_get_ip_port);
//  - net dimensions are longest-prefix: the kernel tries the prefix lengths present in the set from
//    the most specific down and the first element found decides — a `nomatch` element makes the
//    answer "no match" (or "match" under --return-nomatch);
//  - hash:net,iface: the interface is the incoming one for `src`, the outgoing one for `dst`; no
//    interface (e.g. no input device for a locally generated packet) → no match; the prefix walk
//    stops at the most specific network present with ANY interface (see Group.anyIface);
//  - hash:ip,mark: mark & markmask; hash:mac cannot be decided (no MAC in a routed packet);
//  - list:set: the member sets in order, the first that matches wins.
//
// test/kernel/ipset-lookup.test.ts checks all of this against the kernel's own lookup on random
// sets, and test/kernel/ipset-packets.test.ts on the packet path.
//
// Lookup structures are built once per set (WeakMap keyed by the IpSet): one hash map per
// combination of prefix lengths, so a lookup costs one probe per distinct prefix length.

import type { Addr } from '../model/addr.js';
import { maskWord } from '../model/addr.js';
import type { IpSet, IpsetState, SetDim } from '../model/ipset.js';
import { hasAddressDim } from '../model/ipset.js';
import { PROTO } from '../model/rule.js';
import type { WalkPacket } from './types.js';

/**
 * What a set lookup reads of the packet (types.ts WalkPacket). ICMP type/code (the "port" of an
 * ICMP packet) and the mark (hash:ip,mark) may be absent: a set keyed on them is then uncertain.
 */
export type SetPacket = Pick<WalkPacket, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'inIface' | 'outIface'> &
  Partial<Pick<WalkPacket, 'icmpType' | 'icmpCode' | 'mark'>>;

export interface SetMatchOptions {
  /** --return-nomatch: an element flagged `nomatch` makes the match succeed. */
  returnNomatch?: boolean;
}

type Found = 'match' | 'nomatch' | 'none' | 'unknown';

interface Group {
  /** Prefix length per address dimension (in dimension order). */
  prefixes: number[];
  /** Composite key → nomatch flag. */
  exact: Map<string, boolean>;
  /** Entries with a wildcard interface: checked by prefix (few in practice). */
  wildcard: { key: string; iface: string; dim: number; nomatch: boolean }[];
  /**
   * hash:net,iface: keys with the interface replaced by '*'. The kernel stops its prefix walk at
   * the first prefix length where the network exists with ANY interface (hash_netiface's
   * data_equal counts a same-network element in `multi`, which ends mtype_test_cidrs) — so a
   * more specific network on another interface hides a wider one on this interface.
   */
  anyIface: Set<string>;
}

interface SetIndex {
  /** bitmap:port: membership bitmap (no protocol). */
  portBitmap?: Uint8Array;
  groups: Group[];
  /** A dimension landfall's packets cannot supply (mac): lookups are uncertain. */
  unsupported: boolean;
}

const indexes = new WeakMap<IpSet, SetIndex>();

function addrKey(a: { w: readonly number[] }, family: 4 | 6, prefix: number): string {
  if (family === 4) return ((a.w[0] & maskWord(prefix, 0)) >>> 0).toString(36);
  let s = '';
  for (let k = 0; k < 4; k++) s += ((a.w[k] & maskWord(prefix, k)) >>> 0).toString(36) + '.';
  return s;
}

function netmaskOption(set: IpSet): number | undefined {
  const nm = set.options['netmask'];
  if (nm === undefined) return undefined;
  const n = Number(nm);
  return Number.isInteger(n) ? n : undefined;
}

function markmaskOption(set: IpSet): number {
  const m = set.options['markmask'];
  const v = m === undefined ? NaN : Number(m);
  return Number.isFinite(v) ? v >>> 0 : 0xffffffff;
}

function buildIndex(set: IpSet): SetIndex {
  // Packets carry no MAC address here: hash:mac / hash:ip,mac lookups stay uncertain.
  const idx: SetIndex = { groups: [], unsupported: set.dims.some((d) => d === 'mac') };
  const markmask = markmaskOption(set);
  if (set.type === 'bitmap:port') {
    const bm = new Uint8Array(65536);
    for (const e of set.entries) {
      const p = e.parts[0];
      if (p?.kind === 'port') bm.fill(1, p.lo, p.hi + 1);
    }
    idx.portBitmap = bm;
    return idx;
  }
  const nm = netmaskOption(set);
  const bySig = new Map<string, Group>();
  for (const e of set.entries) {
    const prefixes: number[] = [];
    // Each part contributes one or more key fragments (port ranges expand like the kernel's adds).
    let keys: string[] = [''];
    let anyKeys: string[] = [''];
    let wildIface: { iface: string; dim: number } | null = null;
    e.parts.forEach((part, dim) => {
      let frags: string[];
      switch (part.kind) {
        case 'addr': {
          let prefix = part.cidr.prefix;
          if (set.dims[dim] === 'ip' && nm !== undefined && nm < prefix) prefix = nm;
          prefixes.push(prefix);
          frags = [addrKey(part.cidr, set.family, prefix)];
          break;
        }
        case 'port':
          frags = [];
          for (let p = part.lo; p <= part.hi; p++) frags.push(`${part.proto}:${p}`);
          break;
        case 'iface':
          if (part.wildcard) {
            wildIface = { iface: part.name, dim };
            frags = ['*'];
          } else frags = [(part.physdev ? 'physdev:' : '') + part.name];
          break;
        case 'mac':
          frags = [part.mac];
          break;
        case 'mark':
          // The kernel stores mark & markmask and masks the packet's mark the same way.
          frags = [String((part.value & markmask) >>> 0)];
          break;
        default:
          frags = [];
      }
      const next: string[] = [];
      for (const k of keys) for (const f of frags) next.push(k + '|' + f);
      keys = next;
      const anyFrags = part.kind === 'iface' ? ['*'] : frags;
      const nextAny: string[] = [];
      for (const k of anyKeys) for (const f of anyFrags) nextAny.push(k + '|' + f);
      anyKeys = nextAny;
    });
    const sig = prefixes.join(',');
    let g = bySig.get(sig);
    if (!g) {
      g = { prefixes, exact: new Map(), wildcard: [], anyIface: new Set() };
      bySig.set(sig, g);
    }
    // A duplicate add is an error for the kernel unless -exist, which updates the element
    // (nomatch included): the last one wins, as after `ipset restore -exist`.
    for (const k of keys) {
      const w = wildIface as { iface: string; dim: number } | null;
      if (w) {
        g.wildcard = g.wildcard.filter((x) => !(x.key === k && x.iface === w.iface));
        g.wildcard.push({ key: k, iface: w.iface, dim: w.dim, nomatch: e.nomatch });
      } else g.exact.set(k, e.nomatch);
    }
    if (set.dims.includes('iface')) for (const k of anyKeys) g.anyIface.add(k);
  }
  // Kernel order: most specific prefix first, dimension by dimension.
  idx.groups = [...bySig.values()].sort((a, b) => {
    for (let i = 0; i < a.prefixes.length; i++) if (a.prefixes[i] !== b.prefixes[i]) return b.prefixes[i] - a.prefixes[i];
    return 0;
  });
  return idx;
}

function indexOf(set: IpSet): SetIndex {
  let idx = indexes.get(set);
  if (!idx) {
    idx = buildIndex(set);
    indexes.set(set, idx);
  }
  return idx;
}

/** The packet's (proto, port) as ipset sees it, or null when unknown (ICMP without type). */
function packetPort(pkt: SetPacket, dir: 'src' | 'dst'): string | null {
  const p = pkt.proto;
  if (p === PROTO.tcp || p === PROTO.udp || p === PROTO.sctp || p === 136 /* udplite */) {
    return `${p}:${dir === 'src' ? pkt.sport : pkt.dport}`;
  }
  if (p === PROTO.icmp || p === PROTO.icmpv6) {
    if (pkt.icmpType === undefined) return null;
    return `${p}:${((pkt.icmpType & 255) << 8) | ((pkt.icmpCode ?? 0) & 255)}`;
  }
  return `${p}:0`;
}

function lookupHash(set: IpSet, idx: SetIndex, dirs: ('src' | 'dst')[], pkt: SetPacket): Found {
  if (idx.unsupported) return 'unknown';
  // Key fragments that do not depend on the prefix group.
  const fixed: (string | null)[] = [];
  const addrs: Addr[] = [];
  for (let d = 0; d < set.dims.length; d++) {
    const dim = set.dims[d];
    const dir = dirs[d];
    if (dim === 'ip' || dim === 'net') {
      addrs[d] = dir === 'src' ? pkt.src : pkt.dst;
      fixed.push(null);
    } else if (dim === 'port') {
      const k = packetPort(pkt, dir);
      if (k === null) return 'unknown';
      fixed.push(k);
    } else if (dim === 'iface') {
      const name = (dir === 'src' ? pkt.inIface : pkt.outIface)?.name;
      if (!name) return 'none';
      fixed.push(name);
    } else if (dim === 'mark') {
      if (pkt.mark === undefined) return 'unknown';
      fixed.push(String((pkt.mark & markmaskOption(set)) >>> 0));
    } else return 'unknown';
  }
  for (const g of idx.groups) {
    let key = '';
    let wkey = '';
    let a = 0;
    let iface: string | null = null;
    for (let d = 0; d < set.dims.length; d++) {
      const f = fixed[d];
      const frag = f === null ? addrKey(addrs[d], set.family, g.prefixes[a++]) : f;
      key += '|' + frag;
      if (set.dims[d] === 'iface') {
        iface = frag;
        wkey += '|*';
      } else wkey += '|' + frag;
    }
    const hit = g.exact.get(key);
    if (hit !== undefined) return hit ? 'nomatch' : 'match';
    if (iface !== null) {
      for (const w of g.wildcard) {
        if (w.key === wkey && iface.startsWith(w.iface)) return w.nomatch ? 'nomatch' : 'match';
      }
      // The network exists here on other interfaces only: the kernel's walk ends without a match.
      if (g.anyIface.has(wkey)) return 'none';
    }
  }
  return 'none';
}

/**
 * Whether the packet matches set `name` in directions `dirs`; null when the set (or a member of a
 * list:set that would decide) is not supplied, or the packet lacks what the set keys on — the walk
 * then treats the condition as uncertain.
 */
export function setMatch(
  sets: IpsetState,
  name: string,
  dirs: ('src' | 'dst')[],
  pkt: SetPacket,
  opts: SetMatchOptions = {},
): boolean | null {
  return matchDepth(sets, name, dirs, pkt, opts, 0);
}

function matchDepth(sets: IpsetState, name: string, dirs: ('src' | 'dst')[], pkt: SetPacket, opts: SetMatchOptions, depth: number): boolean | null {
  const set = sets.sets.get(name);
  if (!set) return null;
  if (set.type === 'list:set') {
    // ipset refuses list:set inside list:set, so depth > 1 only happens with a hand-made model.
    if (depth > 8) return null;
    let unknown = false;
    for (const e of set.entries) {
      const m = e.parts[0];
      if (m?.kind !== 'set') continue;
      const r = matchDepth(sets, m.name, dirs, pkt, opts, depth + 1);
      if (r === true) return true; // whatever the unknown members hold, the list matches
      if (r === null) unknown = true;
    }
    return unknown ? null : false;
  }
  // A set without an address dimension (hash:mac, bitmap:port, an nft set of ports or
  // interfaces) is family-less (NFPROTO_UNSPEC); one with addresses has one family.
  if (set.family !== pkt.family && hasAddressDim(set)) return false;
  if (dirs.length < set.dims.length) return false;
  const idx = indexOf(set);
  if (idx.portBitmap) {
    if (pkt.proto !== PROTO.tcp && pkt.proto !== PROTO.udp) return false;
    return idx.portBitmap[dirs[0] === 'src' ? pkt.sport : pkt.dport] === 1;
  }
  const found = lookupHash(set, idx, dirs, pkt);
  switch (found) {
    case 'match':
      return true;
    case 'nomatch':
      return !!opts.returnNomatch;
    case 'none':
      return false;
    default:
      return null;
  }
}
