// The packet being walked and the walk's outputs. One walk at a time per instance, so the state
// is module globals and small static blocks; nothing is allocated per packet.

import {
  NOTE_WORDS, FORCED_BYTES, MAX_DEC, MAX_NOTES, MAX_PATH, MAX_PROBS, OUT_BYTES, O_DEC, O_NOTES, O_PATH,
  PROBS_BYTES, ST_FORCED, ST_OK, ST_OVERFLOW,
} from '../src/compile/layout';
import { ld } from './mem';

// Addresses as 4 words each: the current tuple and the tuple before NAT (conntrack original).
export const SRC: usize = memory.data(16);
export const DST: usize = memory.data(16);
export const OSRC: usize = memory.data(16);
export const ODST: usize = memory.data(16);
const SCRATCH: usize = memory.data(16);
/** gate/ipip IPVS forwarding: the real server the packet goes to while it keeps its destination. */
export const EP: usize = memory.data(16);
export let hasEp: bool = false;
/** The last routing decision's nexthop (gateway or destination), when the node's routes decided. */
export const NH: usize = memory.data(16);
export let hasNh: bool = false;
export function setHasNh(v: bool): void { hasNh = v; }
export let epPort: i32 = 0;
/** The IPVS virtual service that handled the packet, -1 none. */
export let ipvsSvc: i32 = -1;
/** Input-region address of the packet being walked (its query connection counts). */
export let pktAddr: usize = 0;

export let family: i32 = 4;
export let proto: i32 = 0;
export let origin: i32 = 0;
export let sport: i32 = 0;
export let dport: i32 = 0;
export let osport: i32 = 0;
export let odport: i32 = 0;
export let icmpType: i32 = 0;
export let icmpCode: i32 = 0;
export let mark: u32 = 0;
export let connmark: u32 = 0;
export let ctstate: i32 = 0;
export let masq: i32 = 0;
/** Byte address of the input / output interface block (layout IFACE_WORDS), 0 = none. */
export let inIf: usize = 0;
export let outIf: usize = 0;

export let rulesEval: i32 = 0;
export let status: i32 = ST_OK;

// Recording (walk mode only; trace mode keeps counts at 0 and records nothing).
export let recording: bool = true;
export let npath: i32 = 0;
/** Assumption records of this walk (assembly/assume.ts; kept in trace mode too: the lookup table). */
export let nasm: i32 = 0;
export let ndec: i32 = 0;
export let nnotes: i32 = 0;
export let nprobs: i32 = 0;
export let nforced: i32 = 0;

// Trace mode: mulberry32 state (types.ts mulberry32).
export let rng: u32 = 0;

export function setFamily(v: i32): void { family = v; }
export function setProto(v: i32): void { proto = v; }
export function setOrigin(v: i32): void { origin = v; }
export function setPorts(s: i32, d: i32): void { sport = s; dport = d; }
export function setOrigPorts(s: i32, d: i32): void { osport = s; odport = d; }
export function setIcmp(t: i32, c: i32): void { icmpType = t; icmpCode = c; }
export function setMark(v: u32): void { mark = v; }
export function setConnmark(v: u32): void { connmark = v; }
export function setCtstate(v: i32): void { ctstate = v; }
export function setMasq(v: i32): void { masq = v; }
export function setInIf(v: usize): void { inIf = v; }
export function setOutIf(v: usize): void { outIf = v; }
export function setEndpoint(port: i32): void { hasEp = true; epPort = port; }
export function setIpvsSvc(v: i32): void { ipvsSvc = v; }
export function setPktAddr(v: usize): void { pktAddr = v; }
/** Where routing and the result look: the IPVS endpoint when one was chosen, else the destination. */
export function routeDst(): usize { return hasEp ? EP : DST; }
export function finalDport(): i32 { return hasEp ? epPort : dport; }
export function setStatus(v: i32): void { if (status == ST_OK) status = v; }

export function resetWalk(rec: bool, forcedCount: i32): void {
  rulesEval = 0;
  status = ST_OK;
  recording = rec;
  npath = 0;
  nasm = 0;
  ndec = 0;
  nnotes = 0;
  nprobs = 0;
  nforced = forcedCount;
  masq = 0;
  hasEp = false;
  hasNh = false;
  epPort = 0;
  ipvsSvc = -1;
}

export function countRules(n: i32): void { rulesEval += n; }

export function seedRng(seed: u32): void { rng = seed; }

/** mulberry32 step, bit for bit the JS one. */
export function nextRandom(): u32 {
  rng += 0x6d2b79f5;
  let t = rng;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

// ---- recording ----

export function pushStep(kind: i32, id: i32): void {
  if (!recording) return;
  if (npath >= MAX_PATH) { setStatus(ST_OVERFLOW); return; }
  const base = OUT_BYTES + (<usize>(O_PATH + npath * 2) << 2);
  store<i32>(base, kind);
  store<i32>(base, id, 4);
  npath++;
}

export function setNasm(v: i32): void { nasm = v; }

/**
 * Records a note once per walk (the reference dedups notes by text; equal records are equal
 * text). `block` is a 4-word address block carried with the note (0: none).
 */
export function pushNote(code: i32, arg: i32, arg2: i32, block: usize): void {
  if (!recording) return;
  const b0 = block == 0 ? 0 : load<i32>(block);
  const b1 = block == 0 ? 0 : load<i32>(block, 4);
  const b2 = block == 0 ? 0 : load<i32>(block, 8);
  const b3 = block == 0 ? 0 : load<i32>(block, 12);
  for (let i = 0; i < nnotes; i++) {
    const b = OUT_BYTES + (<usize>(O_NOTES + i * NOTE_WORDS) << 2);
    if (
      load<i32>(b) == code && load<i32>(b, 4) == arg && load<i32>(b, 8) == arg2 &&
      load<i32>(b, 12) == b0 && load<i32>(b, 16) == b1 && load<i32>(b, 20) == b2 && load<i32>(b, 24) == b3
    ) return;
  }
  if (nnotes >= MAX_NOTES) { setStatus(ST_OVERFLOW); return; }
  const base = OUT_BYTES + (<usize>(O_NOTES + nnotes * NOTE_WORDS) << 2);
  store<i32>(base, code);
  store<i32>(base, arg, 4);
  store<i32>(base, arg2, 8);
  store<i32>(base, b0, 12);
  store<i32>(base, b1, 16);
  store<i32>(base, b2, 20);
  store<i32>(base, b3, 24);
  nnotes++;
}

/** A note whose block is two plain numbers (port ranges). */
export function pushNotePorts(code: i32, arg: i32, arg2: i32, lo: i32, hi: i32): void {
  store<i32>(SCRATCH, lo);
  store<i32>(SCRATCH, hi, 4);
  store<i32>(SCRATCH, 0, 8);
  store<i32>(SCRATCH, 0, 12);
  pushNote(code, arg, arg2, SCRATCH);
}

// ---- decisions ----
// A decision's branch probabilities are staged in PROBS (f64) by the caller via stageProb(), then
// decide() picks the branch: the forced one in walk mode (0 past the end), a draw in trace mode.

let stageStart: i32 = 0;
let stageCount: i32 = 0;

export function beginDecision(): void {
  stageStart = nprobs;
  stageCount = 0;
}

export function stageProb(p: f64): void {
  if (stageStart + stageCount >= MAX_PROBS) { setStatus(ST_OVERFLOW); return; }
  store<f64>(PROBS_BYTES + (<usize>(stageStart + stageCount) << 3), p);
  stageCount++;
}

export function decide(): i32 {
  let taken = 0;
  if (recording) {
    if (ndec < nforced) taken = ld(FORCED_BYTES, ndec);
    if (taken < 0 || taken >= stageCount) { setStatus(ST_FORCED); return 0; }
    if (ndec >= MAX_DEC) { setStatus(ST_OVERFLOW); return 0; }
    const base = OUT_BYTES + (<usize>(O_DEC + ndec * 3) << 2);
    store<i32>(base, stageStart);
    store<i32>(base, stageCount, 4);
    store<i32>(base, taken, 8);
    ndec++;
    nprobs = stageStart + stageCount;
    return taken;
  }
  // Trace: u in [0,1); the first non-zero branch whose cumulative probability exceeds u.
  const u = <f64>nextRandom() / 4294967296.0;
  let acc: f64 = 0;
  let last = -1;
  for (let i = 0; i < stageCount; i++) {
    const p = load<f64>(PROBS_BYTES + (<usize>(stageStart + i) << 3));
    if (p <= 0) continue;
    acc += p;
    last = i;
    if (u < acc) return i;
  }
  return last < 0 ? 0 : last;
}

/** Two-branch decision [p, 1-p]. */
export function decide2(p: f64): i32 {
  beginDecision();
  stageProb(p);
  stageProb(1.0 - p);
  return decide();
}
