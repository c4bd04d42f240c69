// IPVS virtual-service lookup and real-server scheduling, as net/netfilter/ipvs does it.
//
// Order of real servers matters to the hashing schedulers (sh, dh, mh): the kernel builds their
// tables from svc->destinations, its own list (list_add_rcu: most recently added first). ipvsadm
// prints that list sorted by address and port unless --nosort, so the dump's order is the kernel's
// only when the dump proves --nosort (IpvsState.realOrder, set by the parser); otherwise the
// per-client choice is unknown and the shares over all clients are returned, with a note.
//
// Availability (shared by every scheduler): a real server with weight <= 0 never receives new
// connections; one whose upper threshold (-x) is reached is OVERLOADed. landfall only knows active
// connections (the query's map), so overload is judged on those (the kernel adds inactive ones).

import { formatEndpoint, type Addr } from '../model/addr.js';
import { PROTO } from '../model/rule.js';
import type { IpvsState, RealServer, VirtualService } from '../model/ipvs.js';
import type { WalkPacket } from './types.js';
import { addrFold, hash32, MH_HASH1, MH_HASH2, mhHashKey } from './ipvs-hash.js';

export interface ScheduleBranch {
  /** Index into service.reals. */
  real: number;
  prob: number;
}

export interface ScheduleResult {
  /** Explain branches in ipvsadm order; [] when the kernel finds no real server (→ reject). */
  branches: ScheduleBranch[];
  /** Why the answer has this shape (approximations, persistence, forwarding). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Virtual service lookup

interface ServiceIndex {
  byFwmark: Map<string, number>;
  byTuple: Map<string, number>;
  hasFtp: boolean;
  hasNullPort: boolean;
}

const serviceIndexes = new WeakMap<IpvsState, ServiceIndex>();

const PROTO_NUM: Record<string, number> = { tcp: PROTO.tcp, udp: PROTO.udp, sctp: PROTO.sctp };

function tupleKey(family: number, proto: number, a: Addr, port: number): string {
  return `${family}|${proto}|${a.w[0]},${a.w[1]},${a.w[2]},${a.w[3]}|${port}`;
}

function serviceIndex(state: IpvsState): ServiceIndex {
  let idx = serviceIndexes.get(state);
  if (idx) return idx;
  idx = { byFwmark: new Map(), byTuple: new Map(), hasFtp: false, hasNullPort: false };
  state.services.forEach((s, i) => {
    if (s.protocol === 'fwmark') {
      const k = `${s.family}|${(s.fwmark ?? 0) >>> 0}`;
      if (!idx!.byFwmark.has(k)) idx!.byFwmark.set(k, i);
      return;
    }
    if (!s.addr || s.port === undefined) return;
    const k = tupleKey(s.family, PROTO_NUM[s.protocol], s.addr, s.port);
    if (!idx!.byTuple.has(k)) idx!.byTuple.set(k, i);
    // ip_vs_ctl.c counts these to enable the FTP-data and catch-all-port fallbacks below.
    if (s.port === 21) idx!.hasFtp = true;
    if (s.port === 0) idx!.hasNullPort = true;
  });
  serviceIndexes.set(state, idx);
  return idx;
}

/**
 * ip_vs_service_find(): the fwmark table first (when the packet has a non-zero mark), then the
 * exact <protocol, vaddr, vport> entry, then — TCP only, for ports 20 or >= 1024 (the FTP data
 * heuristic, with the default ip_unprivileged_port_start) — the VIP's port-21 service, then the
 * VIP's port-0 catch-all service. Returns the index in state.services, -1 when none.
 */
export function findVirtualService(
  state: IpvsState,
  pkt: { family: 4 | 6; proto: number; dst: Addr; dport: number; mark: number },
): number {
  const idx = serviceIndex(state);
  const mark = pkt.mark >>> 0;
  if (mark !== 0) {
    const f = idx.byFwmark.get(`${pkt.family}|${mark}`);
    if (f !== undefined) return f;
  }
  if (pkt.proto !== PROTO.tcp && pkt.proto !== PROTO.udp && pkt.proto !== PROTO.sctp) return -1;
  const exact = idx.byTuple.get(tupleKey(pkt.family, pkt.proto, pkt.dst, pkt.dport));
  if (exact !== undefined) return exact;
  if (pkt.proto === PROTO.tcp && idx.hasFtp && (pkt.dport === 20 || pkt.dport >= 1024)) {
    const ftp = idx.byTuple.get(tupleKey(pkt.family, pkt.proto, pkt.dst, 21));
    if (ftp !== undefined) return ftp;
  }
  if (idx.hasNullPort) {
    const any = idx.byTuple.get(tupleKey(pkt.family, pkt.proto, pkt.dst, 0));
    if (any !== undefined) return any;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Hash tables of the hashing schedulers (exported so the WASM engine can precompute them)

export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;
export const DH_TAB_BITS = 8;
export const DH_TAB_SIZE = 1 << DH_TAB_BITS;
/** primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] with the default CONFIG_IP_VS_MH_TAB_INDEX = 12. */
export const MH_TAB_SIZE = 251;
/** IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2. */
const MH_TAB_BITS = 6;

const shCache = new WeakMap<VirtualService, Int32Array>();
const dhCache = new WeakMap<VirtualService, Int32Array>();
const mhCache = new WeakMap<VirtualService, Int32Array>();

/**
 * ip_vs_sh_reassign(): walk the destinations cyclically, giving each `weight` consecutive buckets
 * (a weight-0 server still takes one bucket: `++d_count >= weight` is true at once; it is then
 * refused at lookup time). Entry = index into reals, -1 when the service has no real server.
 */
export function shTable(svc: VirtualService): Int32Array {
  let t = shCache.get(svc);
  if (t) return t;
  t = new Int32Array(SH_TAB_SIZE).fill(-1);
  const n = svc.reals.length;
  if (n > 0) {
    let p = 0;
    let count = 0;
    for (let i = 0; i < SH_TAB_SIZE; i++) {
      t[i] = p;
      if (++count >= svc.reals[p].weight) {
        p = (p + 1) % n;
        count = 0;
      }
    }
  }
  shCache.set(svc, t);
  return t;
}

/** ip_vs_dh_reassign(): plain round-robin over the destinations, weights ignored. */
export function dhTable(svc: VirtualService): Int32Array {
  let t = dhCache.get(svc);
  if (t) return t;
  t = new Int32Array(DH_TAB_SIZE).fill(-1);
  const n = svc.reals.length;
  if (n > 0) for (let i = 0; i < DH_TAB_SIZE; i++) t[i] = i % n;
  dhCache.set(svc, t);
  return t;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** fls(): position of the most significant set bit, 1-based; 0 for 0. */
function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/**
 * The Maglev lookup table exactly as ip_vs_mh_reassign() builds it: per destination an offset
 * (hsiphash key1 % M) and skip (hsiphash key2 % (M-1) + 1) of its address and port, "turns" =
 * (weight / gcd) >> rshift (at least 1 for a non-zero weight) so that heavier servers claim that
 * many slots per round; rounds continue until all M slots are taken. -1 = empty slot (no server
 * with weight > 0). The kernel uses last_weight, which equals weight on a stable node.
 */
export function mhTable(svc: VirtualService): Int32Array {
  let t = mhCache.get(svc);
  if (t) return t;
  t = new Int32Array(MH_TAB_SIZE).fill(-1);
  const reals = svc.reals;
  let g = 0;
  let maxW = 0;
  for (const r of reals) {
    if (r.weight > 0) g = g > 0 ? gcd(r.weight, g) : r.weight;
    if (r.weight > maxW) maxW = r.weight;
  }
  if (g >= 1 && reals.length <= MH_TAB_SIZE) {
    const shift = Math.max(0, fls(Math.floor(maxW / g)) - MH_TAB_BITS);
    const skip = reals.map((r) => (mhHashKey(r.addr, r.port, MH_HASH2, 0) % (MH_TAB_SIZE - 1)) + 1);
    const perm = reals.map((r) => mhHashKey(r.addr, r.port, MH_HASH1, 0) % MH_TAB_SIZE);
    const turns = reals.map((r) => (Math.floor(r.weight / g) >> shift) || (r.weight !== 0 ? 1 : 0));
    const taken = new Uint8Array(MH_TAB_SIZE);
    let n = 0;
    // One pass of the kernel's inner loop per round; a destination with `turns` k fills k slots
    // in a row before the next destination gets its turn.
    outer: while (n < MH_TAB_SIZE) {
      for (let d = 0; d < reals.length; d++) {
        if (turns[d] < 1) continue;
        for (let k = 0; k < turns[d]; k++) {
          let c = perm[d];
          while (taken[c]) {
            perm[d] += skip[d];
            if (perm[d] >= MH_TAB_SIZE) perm[d] -= MH_TAB_SIZE;
            c = perm[d];
          }
          taken[c] = 1;
          t[c] = d;
          if (++n === MH_TAB_SIZE) break outer;
        }
      }
    }
  }
  mhCache.set(svc, t);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Scheduling

function endpointKey(r: RealServer): string {
  return formatEndpoint(r.addr, r.port);
}

/**
 * Connection counts per real server: the query's active-connection map when it has one, else the
 * ActiveConn/InActConn columns of an `ipvsadm -Ln` dump (a snapshot of the kernel's own counters),
 * else nothing known (every count 0, `known` false).
 */
export interface ConnCounts {
  active(r: RealServer): number;
  inactive(r: RealServer): number;
  known: boolean;
  source: 'query' | 'dump' | 'none';
}

export function connCounts(svc: VirtualService, query: Map<string, number>): ConnCounts {
  if (query.size > 0) {
    return { active: (r) => query.get(endpointKey(r)) ?? 0, inactive: () => 0, known: true, source: 'query' };
  }
  if (svc.reals.some((r) => r.activeConns !== undefined)) {
    return { active: (r) => r.activeConns ?? 0, inactive: (r) => r.inactiveConns ?? 0, known: true, source: 'dump' };
  }
  return { active: () => 0, inactive: () => 0, known: false, source: 'none' };
}

const NO_COUNTS: ConnCounts = { active: () => 0, inactive: () => 0, known: false, source: 'none' };

/** IP_VS_DEST_F_OVERLOAD: set once active + inactive connections reach the upper threshold (-x). */
function overloaded(r: RealServer, conns: ConnCounts): boolean {
  return !!r.upperThreshold && r.upperThreshold > 0 && conns.active(r) + conns.inactive(r) >= r.upperThreshold;
}

/** ip_vs_dest_conn_overhead(): (activeconns << 8) + inactconns — lc and wlc. */
function connOverhead(r: RealServer, conns: ConnCounts): number {
  return conns.active(r) * 256 + conns.inactive(r);
}

function available(r: RealServer, conns: ConnCounts): boolean {
  return r.weight > 0 && !overloaded(r, conns);
}

function one(real: number): ScheduleBranch[] {
  return real < 0 ? [] : [{ real, prob: 1 }];
}

/** Probabilities proportional to `w(r)` over the available servers, in dump order. */
function proportional(svc: VirtualService, conns: ConnCounts, w: (r: RealServer) => number): ScheduleBranch[] {
  const out: ScheduleBranch[] = [];
  let total = 0;
  svc.reals.forEach((r, i) => {
    if (!available(r, conns)) return;
    const x = w(r);
    if (x <= 0) return;
    out.push({ real: i, prob: x });
    total += x;
  });
  for (const b of out) b.prob /= total;
  return out;
}

/**
 * The weighted least-connection family (wlc, sed, nq) as in ip_vs_wlc.c / ip_vs_sed.c /
 * ip_vs_nq.c: the first available server whose overhead/weight is strictly smaller than the best
 * so far wins (ties keep the earlier one); compared by cross-multiplication like the kernel.
 */
function leastWeighted(svc: VirtualService, conns: ConnCounts, overhead: (r: RealServer) => number, nqIdle: boolean): number {
  let least = -1;
  let loh = 0;
  for (let i = 0; i < svc.reals.length; i++) {
    const r = svc.reals[i];
    if (!available(r, conns)) continue;
    if (nqIdle && conns.active(r) === 0) return i;
    const doh = overhead(r);
    if (least < 0 || loh * r.weight > doh * svc.reals[least].weight) {
      least = i;
      loh = doh;
    }
  }
  return least;
}

function shLike(
  svc: VirtualService,
  conns: ConnCounts,
  table: Int32Array,
  hashOf: (offset: number) => number,
  size: number,
  fallback: boolean,
): number {
  const ihash = hashOf(0);
  const first = table[ihash];
  if (first < 0) return -1;
  if (available(svc.reals[first], conns)) return first;
  if (!fallback) return -1;
  // *_get_fallback(): walk the table from the original hash, re-hashing with an offset.
  for (let offset = 0; offset < size; offset++) {
    const roffset = (offset + ihash) % size;
    const d = table[hashOf(roffset)];
    if (d < 0) break;
    if (available(svc.reals[d], conns)) return d;
  }
  return -1;
}

function portsCarried(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.sctp;
}

/**
 * sh: ip_vs_sh_hashkey() = (offset + hash_32(port + fold(saddr), 8)) & 255, with the source port
 * only when the service has the sh-port flag (-b sh-port).
 */
export function shSelect(svc: VirtualService, src: Addr, sport: number, proto: number, conns: ConnCounts = NO_COUNTS): number {
  const port = svc.schedFlags.includes('sh-port') && portsCarried(proto) ? sport : 0;
  const base = (port + addrFold(src)) >>> 0;
  const h = hash32(base, SH_TAB_BITS);
  return shLike(svc, conns, shTable(svc), (off) => (off + h) & (SH_TAB_SIZE - 1), SH_TAB_SIZE, svc.schedFlags.includes('sh-fallback'));
}

/** dh: hash_32(fold(daddr), 8) on the packet's destination (the virtual address); no fallback. */
export function dhSelect(svc: VirtualService, dst: Addr, conns: ConnCounts = NO_COUNTS): number {
  const d = dhTable(svc)[hash32(addrFold(dst), DH_TAB_BITS)];
  return d >= 0 && available(svc.reals[d], conns) ? d : -1;
}

/** mh: the Maglev slot hsiphash(offset + port + fold(saddr)) % 251 (mh-port / mh-fallback flags). */
export function mhSelect(svc: VirtualService, src: Addr, sport: number, proto: number, conns: ConnCounts = NO_COUNTS): number {
  const port = svc.schedFlags.includes('mh-port') && portsCarried(proto) ? sport : 0;
  return shLike(svc, conns, mhTable(svc), (off) => mhHashKey(src, port, MH_HASH1, off) % MH_TAB_SIZE, MH_TAB_SIZE, svc.schedFlags.includes('mh-fallback'));
}

/** The full answer: branches plus the notes explaining approximations. */
export function scheduleDetailed(state: IpvsState, service: number, pkt: WalkPacket): ScheduleResult {
  const svc = state.services[service];
  const notes: string[] = [];
  if (!svc) return { branches: [], notes: ['no such virtual service'] };
  const conns = connCounts(svc, pkt.activeConnections);
  const haveConns = conns.known;
  const countsFrom = conns.source === 'query' ? 'the query\'s active connections (inactive assumed 0)' : 'the dump\'s ActiveConn/InActConn counters';
  let branches: ScheduleBranch[];
  const sched = svc.scheduler;
  switch (sched) {
    case 'rr':
      // ip_vs_rr.c cycles through servers with weight > 0 ignoring the weight's size: over many
      // connections each gets an equal share; which one is next depends on the unknown cursor.
      branches = proportional(svc, conns, () => 1);
      break;
    case 'wrr':
      branches = proportional(svc, conns, (r) => r.weight);
      break;
    case 'lc':
      if (!haveConns) {
        notes.push('lc: no connection counts (neither in the query nor in the dump); assuming an equal share among servers with weight > 0');
        branches = proportional(svc, conns, () => 1);
      } else {
        // ip_vs_lc.c: smallest (activeconns << 8) + inactconns, first wins ties.
        notes.push(`lc: chosen from ${countsFrom}`);
        branches = one(lcPick(svc, conns));
      }
      break;
    case 'wlc':
    case 'sed':
    case 'nq':
      if (!haveConns) {
        notes.push(`${sched}: no connection counts (neither in the query nor in the dump); assuming weight-proportional shares`);
        branches = proportional(svc, conns, (r) => r.weight);
      } else {
        notes.push(`${sched}: chosen from ${countsFrom}`);
        const oh =
          sched === 'wlc' ? (r: RealServer) => connOverhead(r, conns) : (r: RealServer) => conns.active(r) + 1;
        branches = one(leastWeighted(svc, conns, oh, sched === 'nq'));
      }
      break;
    case 'fo': {
      // ip_vs_fo.c: the available server with the highest weight (first on ties).
      let best = -1;
      svc.reals.forEach((r, i) => {
        if (available(r, conns) && (best < 0 || r.weight > svc.reals[best].weight)) best = i;
      });
      branches = one(best);
      break;
    }
    case 'ovf': {
      // ip_vs_ovf.c: highest weight among servers whose active connections do not exceed it.
      if (!haveConns) notes.push('ovf: no connection counts (neither in the query nor in the dump); assuming idle servers');
      let best = -1;
      svc.reals.forEach((r, i) => {
        if (!available(r, conns) || conns.active(r) > r.weight) return;
        if (best < 0 || r.weight > svc.reals[best].weight) best = i;
      });
      branches = one(best);
      break;
    }
    case 'sh':
    case 'dh':
    case 'mh':
      if (state.realOrder === 'sorted' && svc.reals.length > 1) {
        // The tables are built from the kernel's destination list; ipvsadm printed its own sorted
        // order, so which server owns which slot is unknown. Over the unknown order a client is
        // equally likely to land on any slot: weight-proportional for sh/mh, equal for dh.
        notes.push(
          `${sched}: the dump lists real servers in ipvsadm's sorted order, not the kernel's; the per-client choice needs a dump taken with --nosort, so shares over all clients are shown`,
        );
        branches = proportional(svc, conns, sched === 'dh' ? () => 1 : (r) => r.weight);
      } else if (sched === 'sh') branches = one(shSelect(svc, pkt.src, pkt.sport, pkt.proto, conns));
      else if (sched === 'dh') branches = one(dhSelect(svc, pkt.dst, conns));
      else branches = one(mhSelect(svc, pkt.src, pkt.sport, pkt.proto, conns));
      break;
    case 'lblc':
    case 'lblcr':
    case 'twos':
      notes.push(
        sched === 'twos'
          ? 'twos: the kernel picks two servers at random (weight-proportional) and keeps the less loaded; modelled as weight-proportional'
          : `${sched}: depends on the kernel's per-destination server cache; modelled as weight-proportional`,
      );
      branches = proportional(svc, conns, (r) => r.weight);
      break;
    default:
      notes.push(`scheduler "${sched}" not modelled (or not in the dump); assuming weight-proportional shares`);
      branches = proportional(svc, conns, (r) => r.weight);
  }
  if (svc.persistent !== undefined) {
    notes.push(
      `persistent ${svc.persistent}s${svc.netmask ? ` (netmask ${svc.netmask})` : ''}: a client with an existing connection template goes back to the same real server; this answer is for a client without one`,
    );
  }
  if (svc.ops) notes.push('one-packet scheduling (-o): every datagram is scheduled on its own; this is the distribution per datagram');
  if (branches.length === 0) notes.push('no real server available (none listed, all weight 0 or overloaded): the kernel refuses the connection');
  return { branches, notes };
}

/** ip_vs_lc.c: the first available server with the smallest overhead. */
function lcPick(svc: VirtualService, conns: ConnCounts): number {
  let least = -1;
  let loh = 0;
  svc.reals.forEach((r, i) => {
    if (!available(r, conns)) return;
    const doh = connOverhead(r, conns);
    if (least < 0 || doh < loh) {
      least = i;
      loh = doh;
    }
  });
  return least;
}

/** Explain branches (index into service.reals, probability) in ipvsadm order; [] → the walk rejects. */
export function schedule(state: IpvsState, service: number, pkt: WalkPacket): { real: number; prob: number }[] {
  return scheduleDetailed(state, service, pkt).branches;
}

/**
 * The notes of scheduleDetailed() (persistence, approximations), plus how each real server that
 * can be chosen is reached when it is not NAT (direct routing / tunnelling keep the destination).
 */
export function scheduleNotes(state: IpvsState, service: number, pkt: WalkPacket): string[] {
  const svc = state.services[service];
  const { branches, notes } = scheduleDetailed(state, service, pkt);
  if (svc) {
    for (const b of branches) {
      const r = svc.reals[b.real];
      if (r.forward === 'gate') notes.push(`${endpointKey(r)}: direct routing (-g): the packet is sent unchanged to the real server's MAC`);
      else if (r.forward === 'ipip') notes.push(`${endpointKey(r)}: tunnelling (-i): the packet is IPIP-encapsulated to the real server`);
    }
  }
  return notes;
}
