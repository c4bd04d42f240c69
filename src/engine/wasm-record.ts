// Turns the WASM walk's integer output (layout.ts O_* region) into the WalkRecord of types.ts,
// with the reference walk's exact texts for notes and assumptions (src/engine/matches.ts,
// reference-walk.ts, assume.ts): the differential tests compare them string for string.

import type { Addr } from '../model/addr.js';
import { formatAddr, formatEndpoint } from '../model/addr.js';
import type { Iface, Ruleset } from '../model/ruleset.js';
import type { Verdict } from '../model/contracts.js';
import * as L from '../compile/layout.js';

import { assumptionKey, conditionText, keyedReason, type WalkAssumption } from './assume.js';
import { formatIface } from './packet.js';
import { routeFailNote } from '../compile/routing.js';
import type { DecisionRecord, StepRef, WalkPacket, WalkRecord } from './types.js';

const VERDICTS: Verdict[] = ['accept', 'drop', 'reject'];
const NAT_WHAT = ['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT'];
const LO: Iface = { name: 'lo', prefix: false };

export function verdictOf(code: number): Verdict {
  return VERDICTS[code];
}

/** An address from 4 words of an Int32Array. */
export function addrAt(i32: Int32Array, at: number, family: 4 | 6): Addr {
  if (family === 4) return { family, w: [i32[at] >>> 0, 0, 0, 0] };
  return { family, w: [i32[at] >>> 0, i32[at + 1] >>> 0, i32[at + 2] >>> 0, i32[at + 3] >>> 0] };
}

/** An IFACE block (layout IF_*) at word index `at`. */
export function ifaceAt(i32: Int32Array, at: number): Iface {
  const meta = i32[at];
  const len = meta & 0xff;
  let name = '';
  for (let i = 0; i < len; i++) name += String.fromCharCode((i32[at + 1 + (i >> 2)] >>> ((i & 3) * 8)) & 0xff);
  return { name, prefix: (meta & L.IF_PREFIX_BIT) !== 0 };
}

/** Rule steps interned per engine (a power of two): see DecodeContext.ruleSteps. */
export const RULE_STEP_SLOTS = 1 << 14;

export interface DecodeContext {
  rs: Ruleset;
  /**
   * Interned, frozen path steps by rule / chain id: explain replays a packet's walks many times
   * and every walk repeats most steps, so steps are made once instead of per walk. Rule steps are
   * direct-mapped (RULE_STEP_SLOTS, slot = id mod size, `ruleStepIds` holds 1 + the id a slot
   * has): one per rule ever walked (660k at 20k services) would be kept for the engine's life.
   */
  ruleSteps: StepRef[];
  ruleStepIds: Int32Array;
  policySteps: StepRef[];
  /** IPVS real servers by global index: [service, real] (src/compile/ipvs.ts). */
  ipvsReals: [number, number][];
  strings: string[];
  /** wasm memory as words and as f64. */
  i32: Int32Array;
  f64: Float64Array;
  /** Interned records: see decodeCache(). */
  cache?: DecodeCache;
}

/**
 * Parts of walk records that repeat from walk to walk of one packet, shared instead of made per
 * walk (explain replays a packet once per outcome, and the garbage of a walk record is most of
 * its cost): two-branch decisions by (probabilities, branch taken), direct-mapped; the last
 * source and destination addresses; empty lists. Not frozen (V8 reads frozen arrays more slowly),
 * but records are read, never changed, by every consumer.
 */
interface DecodeCache {
  decP0: Float64Array;
  decP1: Float64Array;
  decTaken: Int32Array;
  dec: (DecisionRecord | null)[];
  src: Addr | null;
  dst: Addr | null;
}
const DEC_SLOTS = 1 << 10;
const EMPTY: never[] = [];

function decodeCache(ctx: DecodeContext): DecodeCache {
  return (ctx.cache ??= {
    decP0: new Float64Array(DEC_SLOTS),
    decP1: new Float64Array(DEC_SLOTS),
    decTaken: new Int32Array(DEC_SLOTS).fill(-1),
    dec: new Array<DecisionRecord | null>(DEC_SLOTS).fill(null),
    src: null,
    dst: null,
  });
}

/** A two-branch decision whose probabilities are f64 `first`, `first + 1` (word `w` = 2 × first). */
function decision2(c: DecodeCache, f64: Float64Array, i32: Int32Array, first: number, taken: number): DecisionRecord {
  const p0 = f64[first];
  const p1 = f64[first + 1];
  const w = first * 2;
  const slot = (i32[w] ^ i32[w + 1] ^ Math.imul(i32[w + 2] ^ i32[w + 3], 31) ^ Math.imul(taken, 0x9e3779b1)) & (DEC_SLOTS - 1);
  const hit = c.dec[slot];
  if (hit !== null && c.decTaken[slot] === taken && Object.is(c.decP0[slot], p0) && Object.is(c.decP1[slot], p1)) return hit;
  const d: DecisionRecord = { probs: [p0, p1], taken };
  c.dec[slot] = d;
  c.decP0[slot] = p0;
  c.decP1[slot] = p1;
  c.decTaken[slot] = taken;
  return d;
}

/** The address at word `at`, the cached one when its words are the same. */
function sameAddr(cached: Addr | null, i32: Int32Array, at: number, family: 4 | 6): Addr | null {
  if (cached === null || cached.family !== family) return null;
  const w = cached.w;
  if (w[0] !== i32[at] >>> 0) return null;
  if (family === 6 && (w[1] !== i32[at + 1] >>> 0 || w[2] !== i32[at + 2] >>> 0 || w[3] !== i32[at + 3] >>> 0)) return null;
  return cached;
}


/** An assumption record (layout AS_*) at word index `at`. */
export function assumptionAt(rs: Ruleset, strings: string[], i32: Int32Array, at: number): WalkAssumption {
  const flags = i32[at + L.AS_FLAGS];
  const kind = i32[at + L.AS_KIND];
  const labelId = i32[at + L.AS_LABEL];
  const reasonId = i32[at + L.AS_REASON];
  const family = i32[at + L.AS_FAMILY] as 4 | 6;
  const key = i32.subarray(at + L.AS_KEY, at + L.AS_KEY + L.KEY_WORDS);
  const label = labelId >= 0 ? strings[labelId] : '';
  const a: WalkAssumption = {
    rule: i32[at + L.AS_RULE],
    kind,
    how: flags & L.ASF_DECIDED ? 'decided' : flags & L.ASF_REUSED ? 'reused' : 'note',
    holds: (flags & L.ASF_HOLDS) !== 0,
    key: assumptionKey(kind, label, family, key),
    condition: conditionText(kind, label, family, key, rs),
    reason: reasonId >= 0 ? strings[reasonId] : keyedReason(kind, family, key, rs),
  };
  if (kind === L.A_ORDER) a.order = [key[L.K_PA], key[L.K_PB]];
  return a;
}

function note(ctx: DecodeContext, at: number, fam: 4 | 6): string {
  const i32 = ctx.i32;
  const code = i32[at];
  const arg = i32[at + 1];
  const arg2 = i32[at + 2];
  switch (code) {
    case L.NOTE_STRING:
      return ctx.strings[arg];
    case L.NOTE_PHYSDEV:
      return 'physdev: packets are modelled as routed, never bridged, so positive physdev tests are false';
    case L.NOTE_MASQ_NOADDR:
      return `MASQUERADE: no IPv${arg} node address given, so the source is left as ${formatAddr(addrAt(i32, at + 3, arg as 4 | 6))}`;
    case L.NOTE_REDIRECT_NOADDR:
      return `REDIRECT: no IPv${arg} node address given, so the destination is left as ${formatAddr(addrAt(i32, at + 3, arg as 4 | 6))}`;
    case L.NOTE_NAT_PORT:
      return `${NAT_WHAT[arg]} port range ${i32[at + 3]}-${i32[at + 4]}: port ${arg2} is outside it, ${i32[at + 3]} assumed`;
    case L.NOTE_IPVS_FWD: {
      const [svc, real] = ctx.ipvsReals[arg];
      const r = ctx.rs.ipvs!.services[svc].reals[real];
      return `IPVS ${r.forward} forwarding: the packet keeps destination ${formatAddr(addrAt(i32, at + 3, r.addr.family))} and is sent to real server ${formatEndpoint(r.addr, arg2)}`;
    }
    case L.NOTE_ROUTE:
      return routeFailNote(arg, addrAt(i32, at + 3, fam));
    case L.NOTE_NAT_MULTI:
      return 'NAT with several --to ranges: only the first is used (as kernels since 2.6.11 do)';
    default:
      throw new Error(`wasm engine: unknown note code ${code}`);
  }
}

function outIface(ctx: DecodeContext, code: number, pkt: WalkPacket): string | undefined {
  switch (code) {
    case L.OIF_LO:
      return formatIface(LO);
    case L.OIF_PODS:
      return formatIface(ctx.rs.node.pods);
    case L.OIF_UPLINK:
      return formatIface(ctx.rs.node.uplink);
    case L.OIF_QUERY:
      return pkt.outIface ? formatIface(pkt.outIface) : undefined;
    case L.OIF_LINK:
      return ctx.rs.node.routing!.links[ctx.i32[L.OUT_BYTES / 4 + L.O_OUT_LINK]].name;
    default:
      return undefined;
  }
}

/** Reads the walk output region into a WalkRecord. */
export function decodeWalk(ctx: DecodeContext, pkt: WalkPacket): WalkRecord {
  const i32 = ctx.i32;
  const o = L.OUT_BYTES / 4;
  const fam = pkt.family;
  const np = i32[o + L.O_NPATH];
  const path = new Array<StepRef>(np);
  for (let i = 0; i < np; i++) {
    const at = o + L.O_PATH + i * 2;
    const id = i32[at + 1];
    const kind = i32[at];
    if (kind === L.STEP_RULE) {
      const slot = id & (RULE_STEP_SLOTS - 1);
      if (ctx.ruleStepIds[slot] !== id + 1) {
        ctx.ruleStepIds[slot] = id + 1;
        ctx.ruleSteps[slot] = Object.freeze({ kind: 'rule', rule: id });
      }
      path[i] = ctx.ruleSteps[slot]!;
    }
    else if (kind === L.STEP_IPVS) path[i] = id < 0 ? { kind: 'ipvs', service: -1 - id, real: -1 } : { kind: 'ipvs', service: ctx.ipvsReals[id][0], real: ctx.ipvsReals[id][1] };
    else path[i] = ctx.policySteps[id] ??= Object.freeze({ kind: 'policy', chain: id });
  }
  const c = decodeCache(ctx);
  const nasm = i32[o + L.O_NASM];
  let assumptions: WalkAssumption[] = EMPTY;
  if (nasm > 0) {
    assumptions = [];
    for (let i = 0; i < nasm; i++) assumptions.push(assumptionAt(ctx.rs, ctx.strings, i32, o + L.O_ASM + i * L.ASM_WORDS));
  }
  const nd = i32[o + L.O_NDEC];
  const decisions = new Array<DecisionRecord>(nd);
  const f64 = ctx.f64;
  const pb = L.PROBS_BYTES / 8;
  for (let i = 0; i < nd; i++) {
    const at = o + L.O_DEC + i * 3;
    const first = pb + i32[at];
    const count = i32[at + 1];
    if (count === 2) {
      // statistic / unknown conditions: the usual case, and the same few from walk to walk
      decisions[i] = decision2(c, f64, i32, first, i32[at + 2]);
      continue;
    }
    const probs = new Array<number>(count);
    for (let k = 0; k < count; k++) probs[k] = f64[first + k];
    decisions[i] = { probs, taken: i32[at + 2] };
  }
  const nnotes = i32[o + L.O_NNOTES];
  let notes: string[] = EMPTY;
  if (nnotes > 0) {
    notes = [];
    for (let i = 0; i < nnotes; i++) notes.push(note(ctx, o + L.O_NOTES + i * L.NOTE_WORDS, fam));
  }
  const verdict = verdictOf(i32[o + L.O_VERDICT]);
  const dst = sameAddr(c.dst, i32, o + L.O_DST, fam) ?? (c.dst = addrAt(i32, o + L.O_DST, fam));
  const src = sameAddr(c.src, i32, o + L.O_SRC, fam) ?? (c.src = addrAt(i32, o + L.O_SRC, fam));
  const rec: WalkRecord = {
    verdict,
    dst,
    dport: i32[o + L.O_DPORT],
    src,
    sport: i32[o + L.O_SPORT],
    masquerade: i32[o + L.O_MASQ] !== 0,
    path,
    assumptions,
    rulesEvaluated: i32[o + L.O_RULES],
    decisions,
    notes,
  };
  const rj = i32[o + L.O_REJECT];
  if (verdict === 'reject' && rj >= 0) rec.rejectWith = ctx.strings[rj];
  const oif = outIface(ctx, i32[o + L.O_OUT_IFACE], pkt);
  if (oif !== undefined) rec.outIface = oif;
  return rec;
}
