// Turns the WASM walk's integer output (layout.ts O_* region) into the WalkRecord of types.ts,
// with the reference walk's exact texts for uncertain reasons and notes (src/engine/matches.ts,
// reference-walk.ts): the differential tests compare them string for string.

import type { Addr } from '../model/addr.js';
import { formatAddr, formatEndpoint } from '../model/addr.js';
import type { Iface, Ruleset } from '../model/ruleset.js';
import type { Verdict } from '../model/contracts.js';
import * as L from '../compile/layout.js';

// Layout constants as module locals (see src/engine/wasm.ts).
const {
  IF_PREFIX_BIT,
  NOTE_IPVS_FWD,
  NOTE_MASQ_NOADDR,
  NOTE_NAT_MULTI,
  NOTE_NAT_PORT,
  NOTE_PHYSDEV,
  NOTE_REDIRECT_NOADDR,
  NOTE_STRING,
  NOTE_WORDS,
  OIF_LO,
  OIF_PODS,
  OIF_QUERY,
  OIF_UPLINK,
  OUT_BYTES,
  O_DEC,
  O_DPORT,
  O_DST,
  O_MASQ,
  O_NDEC,
  O_NNOTES,
  O_NOTES,
  O_NPATH,
  O_NUNC,
  O_OUT_IFACE,
  O_PATH,
  O_REJECT,
  O_RULES,
  O_SPORT,
  O_SRC,
  O_UNC,
  O_VERDICT,
  PROBS_BYTES,
  RS_BASE_BYTES,
  STEP_IPVS,
  STEP_RULE,
  UNC_NO_MATCH_BIT,
  UNC_WORDS,
  U_ADDRTYPE_LIMIT,
  U_IFACE,
  U_ORDER,
  U_OWNER_HOST,
  U_REASON
} = L;
import { orderReason } from './order.js';
import { formatIface } from './packet.js';
import type { DecisionRecord, StepRef, WalkPacket, WalkRecord, WalkUncertain } from './types.js';

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
  return { name, prefix: (meta & IF_PREFIX_BIT) !== 0 };
}

export interface DecodeContext {
  rs: Ruleset;
  /**
   * Interned, frozen path steps by rule / chain id: explain replays a packet's walks many times
   * and every walk repeats most steps, so steps are made once instead of per walk.
   */
  ruleSteps: StepRef[];
  policySteps: StepRef[];
  /** IPVS real servers by global index: [service, real] (src/compile/ipvs.ts). */
  ipvsReals: [number, number][];
  strings: string[];
  /** wasm memory as words and as f64. */
  i32: Int32Array;
  f64: Float64Array;
}

function reason(ctx: DecodeContext, code: number, arg: number, arg2: number): string {
  switch (code) {
    case U_REASON:
      return ctx.strings[arg];
    case U_IFACE: {
      const pattern = ifaceAt(ctx.i32, RS_BASE_BYTES / 4 + arg);
      const have = ifaceAt(ctx.i32, arg2 / 4);
      return `interface ${have.name}+ may or may not be ${pattern.name}${pattern.prefix ? '+' : ''}`;
    }
    case U_ADDRTYPE_LIMIT:
      return 'addrtype --limit-iface: which interface holds the local address is not known';
    case U_OWNER_HOST:
      return 'owner: the sending socket of a host packet is not known';
    default:
      throw new Error(`wasm engine: unknown uncertain code ${code}`);
  }
}

function note(ctx: DecodeContext, at: number): string {
  const i32 = ctx.i32;
  const code = i32[at];
  const arg = i32[at + 1];
  const arg2 = i32[at + 2];
  switch (code) {
    case NOTE_STRING:
      return ctx.strings[arg];
    case NOTE_PHYSDEV:
      return 'physdev: packets are modelled as routed, never bridged, so positive physdev tests are false';
    case NOTE_MASQ_NOADDR:
      return `MASQUERADE: no IPv${arg} node address given, so the source is left as ${formatAddr(addrAt(i32, at + 3, arg as 4 | 6))}`;
    case NOTE_REDIRECT_NOADDR:
      return `REDIRECT: no IPv${arg} node address given, so the destination is left as ${formatAddr(addrAt(i32, at + 3, arg as 4 | 6))}`;
    case NOTE_NAT_PORT:
      return `${NAT_WHAT[arg]} port range ${i32[at + 3]}-${i32[at + 4]}: port ${arg2} is outside it, ${i32[at + 3]} assumed`;
    case NOTE_IPVS_FWD: {
      const [svc, real] = ctx.ipvsReals[arg];
      const r = ctx.rs.ipvs!.services[svc].reals[real];
      return `IPVS ${r.forward} forwarding: the packet keeps destination ${formatAddr(addrAt(i32, at + 3, r.addr.family))} and is sent to real server ${formatEndpoint(r.addr, arg2)}`;
    }
    case NOTE_NAT_MULTI:
      return 'NAT with several --to ranges: only the first is used (as kernels since 2.6.11 do)';
    default:
      throw new Error(`wasm engine: unknown note code ${code}`);
  }
}

function outIface(ctx: DecodeContext, code: number, pkt: WalkPacket): string | undefined {
  switch (code) {
    case OIF_LO:
      return formatIface(LO);
    case OIF_PODS:
      return formatIface(ctx.rs.node.pods);
    case OIF_UPLINK:
      return formatIface(ctx.rs.node.uplink);
    case OIF_QUERY:
      return pkt.outIface ? formatIface(pkt.outIface) : undefined;
    default:
      return undefined;
  }
}

/** Reads the walk output region into a WalkRecord. */
export function decodeWalk(ctx: DecodeContext, pkt: WalkPacket): WalkRecord {
  const i32 = ctx.i32;
  const o = OUT_BYTES / 4;
  const fam = pkt.family;
  const path: StepRef[] = [];
  for (let i = 0, n = i32[o + O_NPATH]; i < n; i++) {
    const at = o + O_PATH + i * 2;
    const id = i32[at + 1];
    if (i32[at] === STEP_RULE) path.push((ctx.ruleSteps[id] ??= Object.freeze({ kind: 'rule', rule: id })));
    else if (i32[at] === STEP_IPVS) {
      if (id < 0) path.push({ kind: 'ipvs', service: -1 - id, real: -1 });
      else path.push({ kind: 'ipvs', service: ctx.ipvsReals[id][0], real: ctx.ipvsReals[id][1] });
    }
    else path.push((ctx.policySteps[id] ??= Object.freeze({ kind: 'policy', chain: id })));
  }
  const uncertain: WalkUncertain[] = [];
  for (let i = 0, n = i32[o + O_NUNC]; i < n; i++) {
    const at = o + O_UNC + i * UNC_WORDS;
    const w0 = i32[at];
    if (i32[at + 1] === U_ORDER) {
      const a = i32[at + 2];
      const b = i32[at + 3];
      uncertain.push({ rule: -1, reason: orderReason(ctx.rs, a, b), assumed: w0 & UNC_NO_MATCH_BIT ? 'no match' : 'match', order: [a, b] });
      continue;
    }
    uncertain.push({
      rule: w0 & ~UNC_NO_MATCH_BIT,
      reason: reason(ctx, i32[at + 1], i32[at + 2], i32[at + 3]),
      assumed: w0 & UNC_NO_MATCH_BIT ? 'no match' : 'match',
    });
  }
  const decisions: DecisionRecord[] = [];
  const pb = PROBS_BYTES / 8;
  for (let i = 0, n = i32[o + O_NDEC]; i < n; i++) {
    const at = o + O_DEC + i * 3;
    const first = i32[at];
    const count = i32[at + 1];
    const probs = new Array<number>(count);
    for (let k = 0; k < count; k++) probs[k] = ctx.f64[pb + first + k];
    decisions.push({ probs, taken: i32[at + 2] });
  }
  const notes: string[] = [];
  for (let i = 0, n = i32[o + O_NNOTES]; i < n; i++) notes.push(note(ctx, o + O_NOTES + i * NOTE_WORDS));
  const verdict = verdictOf(i32[o + O_VERDICT]);
  const rec: WalkRecord = {
    verdict,
    dst: addrAt(i32, o + O_DST, fam),
    dport: i32[o + O_DPORT],
    src: addrAt(i32, o + O_SRC, fam),
    sport: i32[o + O_SPORT],
    masquerade: i32[o + O_MASQ] !== 0,
    path,
    uncertain,
    rulesEvaluated: i32[o + O_RULES],
    decisions,
    notes,
  };
  const rj = i32[o + O_REJECT];
  if (verdict === 'reject' && rj >= 0) rec.rejectWith = ctx.strings[rj];
  const oif = outIface(ctx, i32[o + O_OUT_IFACE], pkt);
  if (oif !== undefined) rec.outIface = oif;
  return rec;
}
