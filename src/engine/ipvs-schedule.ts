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
import { protoNumber } from '../model/protocols.js';
import type { IpvsState, RealServer, VirtualService } from '../model/ipvs.js';
import type { IpvsServiceNotes } from '../compile/ipvs.js';
import type { WalkPacket } from './types.js';
import { addrFold, hash32, MH_HASH1, mhHashKey } from '../model/ipvs-hash.js';
import { DH_TAB_BITS, dhTable, MH_TAB_SIZE, mhTable, SH_TAB_BITS, SH_TAB_SIZE, shTable } from '../model/ipvs-tables.js';

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
    const k = tupleKey(s.family, protoNumber(s.protocol), s.addr, s.port);
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
  pkt: Pick<WalkPacket, 'family' | 'proto' | 'dst' | 'dport' | 'mark'>,
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
  if (branches.length === 0) notes.push(EMPTY_NOTE);
  return { branches, notes };
}

const EMPTY_NOTE = 'no real server available (none listed, all weight 0 or overloaded): the kernel refuses the connection';

/**
 * The note texts of a virtual service as answers show them ("IPVS <service>: <note>"), for the
 * compiled ruleset (compile/ipvs.ts): they depend only on the service and on whether the packet
 * brought connection counts, never on its addresses, so one probe packet per case renders them.
 */
export function ipvsServiceNotes(state: IpvsState, i: number): IpvsServiceNotes {
  const text = state.services[i].text;
  const rendered = (withConns: boolean): string[] => {
    const probe: WalkPacket = {
      family: state.services[i].family, proto: 6, src: { family: 4, w: [0, 0, 0, 0] }, dst: { family: 4, w: [0, 0, 0, 0] },
      sport: 0, dport: 0, icmpType: 0, icmpCode: 0, origin: 'external', inIface: null, outIface: null, mark: 0, connmark: 0,
      ctstate: 0, recent: new Map(), activeConnections: withConns ? new Map([['\0', 0]]) : new Map(),
    };
    return scheduleDetailed(state, i, probe).notes.filter((n) => n !== EMPTY_NOTE).map((n) => `IPVS ${text}: ${n}`);
  };
  return { withoutCounts: rendered(false), withCounts: rendered(true), empty: `IPVS ${text}: ${EMPTY_NOTE}` };
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
