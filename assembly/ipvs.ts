// The IPVS stage in wasm: the twin of src/engine/ipvs-schedule.ts (findVirtualService,
// scheduleDetailed and its sh/dh/mh selection) and of the reference walk's ipvs() step, over the
// IPVS block the compiler wrote (src/compile/ipvs.ts; layout IV_* / VS_* / RL_*).

import * as L from '../src/compile/layout';
import { ld, rw } from './mem';
import * as S from './state';
import { probeTable } from './ipset';

const KEY: usize = memory.data(8 * 4);
const BR_REAL: usize = L.BR_BYTES;
const BR_PROB: usize = L.BR_BYTES + L.MAX_REALS * 4;

@inline function ipvs(): i32 {
  return rw(L.H_IPVS);
}

function probe(table: i32, mask: i32, kw: i32): i32 {
  return probeTable(table, mask, kw, KEY, -1);
}

function tupleLookup(iv: i32, port: i32): i32 {
  store<i32>(KEY, S.family);
  store<i32>(KEY, S.proto, 4);
  for (let k = 0; k < 4; k++) store<i32>(KEY + 8 + (<usize>k << 2), load<i32>(S.DST + (<usize>k << 2)));
  store<i32>(KEY, port, 24);
  return probe(rw(iv + L.IV_TUPLE), rw(iv + L.IV_TUPLE_MASK), L.TUPLE_SLOT - 1);
}

/** findVirtualService(): fwmark first, exact tuple, FTP data, port-0 catch-all; -1 none. */
export function findService(): i32 {
  const iv = ipvs();
  if (iv == 0) return -1;
  if (S.mark != 0) {
    store<i32>(KEY, S.family);
    store<i32>(KEY, <i32>S.mark, 4);
    const f = probe(rw(iv + L.IV_FW), rw(iv + L.IV_FW_MASK), L.FW_SLOT - 1);
    if (f >= 0) return f;
  }
  const p = S.proto;
  if (p != 6 && p != 17 && p != 132) return -1;
  const exact = tupleLookup(iv, S.dport);
  if (exact >= 0) return exact;
  const flags = rw(iv + L.IV_FLAGS);
  if (p == 6 && (flags & L.IVF_FTP) != 0 && (S.dport == 20 || S.dport >= 1024)) {
    const ftp = tupleLookup(iv, 21);
    if (ftp >= 0) return ftp;
  }
  if ((flags & L.IVF_NULLPORT) != 0) {
    const any = tupleLookup(iv, 0);
    if (any >= 0) return any;
  }
  return -1;
}

// ---- connection counts (ipvs-schedule.ts connCounts) ----

let connQuery: bool = false;
let connDump: bool = false;

function active(rl: i32): f64 {
  if (connQuery) {
    const c = ld(S.pktAddr, L.P_CONNS);
    const first = c & 0xffff;
    const n = c >>> 16;
    const g = rw(rl + L.RL_GLOBAL);
    for (let i = first; i < first + n; i++) {
      const at = L.CONN_BYTES + (<usize>i << 3);
      if (load<i32>(at) == g) return <f64>load<i32>(at, 4);
    }
    return 0;
  }
  return connDump ? <f64>rw(rl + L.RL_ACT) : 0;
}

@inline function inactive(rl: i32): f64 {
  return !connQuery && connDump ? <f64>rw(rl + L.RL_INACT) : 0;
}

function available(rl: i32): bool {
  if (rw(rl + L.RL_WEIGHT) <= 0) return false;
  const up = rw(rl + L.RL_UPPER);
  return !(up > 0 && active(rl) + inactive(rl) >= <f64>up);
}

// ---- branches ----

let nbr: i32 = 0;

function proportional(reals: i32, n: i32, byWeight: bool): void {
  nbr = 0;
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const rl = reals + i * L.RL_WORDS;
    if (!available(rl)) continue;
    const x: f64 = byWeight ? <f64>rw(rl + L.RL_WEIGHT) : 1;
    if (x <= 0) continue;
    store<i32>(BR_REAL + (<usize>nbr << 2), i);
    store<f64>(BR_PROB + (<usize>nbr << 3), x);
    nbr++;
    total += x;
  }
  for (let i = 0; i < nbr; i++) {
    const at = BR_PROB + (<usize>i << 3);
    store<f64>(at, load<f64>(at) / total);
  }
}

function one(real: i32): void {
  nbr = 0;
  if (real < 0) return;
  store<i32>(BR_REAL, real);
  store<f64>(BR_PROB, 1.0);
  nbr = 1;
}

function lcPick(reals: i32, n: i32): i32 {
  let least = -1;
  let loh: f64 = 0;
  for (let i = 0; i < n; i++) {
    const rl = reals + i * L.RL_WORDS;
    if (!available(rl)) continue;
    const doh = active(rl) * 256 + inactive(rl);
    if (least < 0 || doh < loh) {
      least = i;
      loh = doh;
    }
  }
  return least;
}

/** wlc (wlcOverhead), sed/nq (active + 1); nq takes the first idle server. */
function leastWeighted(reals: i32, n: i32, wlcOverhead: bool, nqIdle: bool): i32 {
  let least = -1;
  let loh: f64 = 0;
  for (let i = 0; i < n; i++) {
    const rl = reals + i * L.RL_WORDS;
    if (!available(rl)) continue;
    if (nqIdle && active(rl) == 0) return i;
    const doh = wlcOverhead ? active(rl) * 256 + inactive(rl) : active(rl) + 1;
    if (least < 0 || loh * <f64>rw(rl + L.RL_WEIGHT) > doh * <f64>rw(reals + least * L.RL_WORDS + L.RL_WEIGHT)) {
      least = i;
      loh = doh;
    }
  }
  return least;
}

function highestWeight(reals: i32, n: i32, ovf: bool): i32 {
  let best = -1;
  for (let i = 0; i < n; i++) {
    const rl = reals + i * L.RL_WORDS;
    if (!available(rl)) continue;
    if (ovf && active(rl) > <f64>rw(rl + L.RL_WEIGHT)) continue;
    if (best < 0 || rw(rl + L.RL_WEIGHT) > rw(reals + best * L.RL_WORDS + L.RL_WEIGHT)) best = i;
  }
  return best;
}

// ---- the kernel's hashes (src/engine/ipvs-hash.ts) ----

@inline function hash32(val: u32, bits: i32): u32 {
  return (val * 0x61c88647) >>> (32 - bits);
}

function addrFold(a: usize): u32 {
  if (S.family == 4) return load<u32>(a);
  return load<u32>(a) ^ load<u32>(a, 4) ^ load<u32>(a, 8) ^ load<u32>(a, 12);
}

/** hsiphash() of one u32 on a 64-bit kernel: SipHash-1-3, low 32 bits of v0^v1^v2^v3. */
export function hsiphashU32(value: u32, k0: u64, k1: u64): u32 {
  let v0: u64 = 0x736f6d6570736575 ^ k0;
  let v1: u64 = 0x646f72616e646f6d ^ k1;
  let v2: u64 = 0x6c7967656e657261 ^ k0;
  let v3: u64 = 0x7465646279746573 ^ k1;
  const b: u64 = (<u64>4 << 56) | <u64>value;
  v3 ^= b;
  for (let r = 0; r < 4; r++) {
    if (r == 1) {
      v0 ^= b;
      v2 ^= 0xff;
    }
    v0 += v1;
    v1 = rotl<u64>(v1, 13);
    v1 ^= v0;
    v0 = rotl<u64>(v0, 32);
    v2 += v3;
    v3 = rotl<u64>(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl<u64>(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl<u64>(v1, 17);
    v1 ^= v2;
    v2 = rotl<u64>(v2, 32);
  }
  return <u32>(v0 ^ v1 ^ v2 ^ v3);
}

const MH_K1: u64 = 2654435761;

@inline function mhSlot(base: u32, off: i32): i32 {
  return <i32>(hsiphashU32(<u32>off + base, MH_K1, MH_K1) % <u32>L.MH_SIZE);
}

/** sh/mh lookup with the optional fallback walk (ipvs-schedule.ts shLike). */
function shLike(reals: i32, table: i32, mh: bool, base: u32, fallback: bool): i32 {
  const size = mh ? L.MH_SIZE : L.SH_SIZE;
  const ihash = mh ? mhSlot(base, 0) : <i32>((hash32(base, 8) + 0) & 255);
  const h = hash32(base, 8);
  const first = rw(table + ihash);
  if (first < 0) return -1;
  if (available(reals + first * L.RL_WORDS)) return first;
  if (!fallback) return -1;
  for (let offset = 0; offset < size; offset++) {
    const roffset = (offset + ihash) % size;
    const slot = mh ? mhSlot(base, roffset) : <i32>((<u32>roffset + h) & 255);
    const d = rw(table + slot);
    if (d < 0) break;
    if (available(reals + d * L.RL_WORDS)) return d;
  }
  return -1;
}

@inline function portsCarried(): bool {
  return S.proto == 6 || S.proto == 17 || S.proto == 132;
}

/** scheduleDetailed()'s branches into the BR region; returns their count. */
function schedule(vs: i32): i32 {
  const reals = rw(vs + L.VS_REALS);
  const n = rw(vs + L.VS_NREALS);
  const flags = rw(vs + L.VS_FLAGS);
  // More real servers than the branch scratch (or one decision's share of the probability list)
  // holds: the host schedules this packet.
  if (n > L.MAX_REALS || n > L.MAX_PROBS / 2) {
    S.setStatus(L.ST_HOST);
    nbr = 0;
    return 0;
  }
  connQuery = ld(S.pktAddr, L.P_CONNQ) != 0;
  connDump = (flags & L.VSF_DUMP_CONNS) != 0;
  const known = connQuery || connDump;
  switch (rw(vs + L.VS_SCHED)) {
    case L.SCHED_RR:
      proportional(reals, n, false);
      break;
    case L.SCHED_LC:
      if (!known) proportional(reals, n, false);
      else one(lcPick(reals, n));
      break;
    case L.SCHED_WLC:
    case L.SCHED_SED:
    case L.SCHED_NQ: {
      const sched = rw(vs + L.VS_SCHED);
      if (!known) proportional(reals, n, true);
      else one(leastWeighted(reals, n, sched == L.SCHED_WLC, sched == L.SCHED_NQ));
      break;
    }
    case L.SCHED_FO:
      one(highestWeight(reals, n, false));
      break;
    case L.SCHED_OVF:
      one(highestWeight(reals, n, true));
      break;
    case L.SCHED_SH: {
      const port: u32 = (flags & L.VSF_SH_PORT) != 0 && portsCarried() ? <u32>S.sport : 0;
      one(shLike(reals, rw(vs + L.VS_TABLE), false, port + addrFold(S.SRC), (flags & L.VSF_SH_FALLBACK) != 0));
      break;
    }
    case L.SCHED_DH: {
      const d = rw(rw(vs + L.VS_TABLE) + <i32>hash32(addrFold(S.DST), 8));
      one(d >= 0 && available(reals + d * L.RL_WORDS) ? d : -1);
      break;
    }
    case L.SCHED_MH: {
      const port: u32 = (flags & L.VSF_MH_PORT) != 0 && portsCarried() ? <u32>S.sport : 0;
      one(shLike(reals, rw(vs + L.VS_TABLE), true, port + addrFold(S.SRC), (flags & L.VSF_MH_FALLBACK) != 0));
      break;
    }
    default:
      proportional(reals, n, true);
  }
  return nbr;
}

export const IPVS_NONE: i32 = 0;
export const IPVS_SCHEDULED: i32 = 1;
export const IPVS_STOP: i32 = 2;

/** String id of the reject reason when the stage returns IPVS_STOP. */
export function rejectReason(): i32 {
  return rw(ipvs() + L.IV_REJECT);
}

/** The reference walk's ipvs(): schedules the packet when a virtual service matches. */
export function ipvsStage(): i32 {
  const iv = ipvs();
  if (iv == 0 || rw(iv + L.IV_NSVC) == 0) return IPVS_NONE;
  const svc = findService();
  if (svc < 0) return IPVS_NONE;
  S.setIpvsSvc(svc);
  const vs = rw(iv + L.IV_SVCS) + svc * L.VS_WORDS;
  const n = schedule(vs);
  if (S.status != L.ST_OK) return IPVS_STOP;
  const notes = rw(vs + (connQuery ? L.VS_NOTES1 : L.VS_NOTES0));
  for (let i = 0, c = rw(notes); i < c; i++) S.pushNote(L.NOTE_STRING, rw(notes + 1 + i), 0, 0);
  if (n == 0) {
    S.pushNote(L.NOTE_STRING, rw(vs + L.VS_NOTE_EMPTY), 0, 0);
    S.pushStep(L.STEP_IPVS, -1 - svc);
    return IPVS_STOP;
  }
  let pick = 0;
  if (n > 1) {
    let total: f64 = 0;
    for (let i = 0; i < n; i++) total += load<f64>(BR_PROB + (<usize>i << 3));
    S.beginDecision();
    for (let i = 0; i < n; i++) S.stageProb(load<f64>(BR_PROB + (<usize>i << 3)) / total);
    pick = S.decide();
    if (S.status != L.ST_OK) return IPVS_STOP;
  }
  const real = load<i32>(BR_REAL + (<usize>pick << 2));
  const rl = rw(vs + L.VS_REALS) + real * L.RL_WORDS;
  S.pushStep(L.STEP_IPVS, rw(rl + L.RL_GLOBAL));
  const port = rw(rl + L.RL_PORT);
  if (rw(rl + L.RL_FWD) == 0) {
    for (let k = 0; k < 4; k++) store<i32>(S.DST + (<usize>k << 2), rw(rl + L.RL_ADDR + k));
    if (port != 0) S.setPorts(S.sport, port);
    S.setCtstate(S.ctstate | 64); // CT DNAT
  } else {
    for (let k = 0; k < 4; k++) store<i32>(S.EP + (<usize>k << 2), rw(rl + L.RL_ADDR + k));
    S.setEndpoint(port != 0 ? port : S.dport);
    S.pushNote(L.NOTE_IPVS_FWD, rw(rl + L.RL_GLOBAL), S.epPort, S.DST);
  }
  return IPVS_SCHEDULED;
}
