// Unknown conditions as variables (SEMANTICS.md "Unknown conditions"). A condition the input does
// not settle — an ipset whose contents were not given, an unmodelled match, "is this address the
// node's?" when the node's addresses were not given — is keyed by what it tests: its kind, a label
// naming the test (set name and flags, match text) and the packet values it looks at (layout.ts
// K_* key words). Within one walk a key takes one value: the first meeting is a decision point
// (weights [1, 1], so it never weighs on a probability), later meetings reuse it.
//
// Both engines build the same key words (the reference here, the wasm in assembly/assume.ts) and
// the condition and reason texts come from this one formatter, so their records agree by
// construction.

import type { Addr } from '../model/addr.js';
import { formatAddr } from '../model/addr.js';
import type { Iface, Ruleset } from '../model/ruleset.js';
import { orderCondition, orderReason } from './order.js';
import * as L from '../compile/layout.js';
import { ifaceWords } from '../compile/ops.js';

/** Weights of an unknown condition's decision: both values enumerated, neither weighs. */
export const UNKNOWN_WEIGHTS: readonly number[] = [1, 1];

/** How a walk met an unknown condition. */
export type AssumptionHow = 'decided' | 'reused' | 'note';

/** One unknown condition met by a walk (WalkRecord.assumptions). */
export interface WalkAssumption {
  /** Flat rule id of the rule that tests it; -1 for the routing decision. */
  rule: number;
  /** layout A_* kind. */
  kind: number;
  how: AssumptionHow;
  /** The value the walk took (always true for a note). */
  holds: boolean;
  /** The variable's identity: equal keys are one variable. */
  key: string;
  /** Readable condition, e.g. "10.0.0.5 in set A (src)". */
  condition: string;
  /** Why it is unknown, e.g. "ipset A not supplied". */
  reason: string;
  /** An order condition's base chains: [runs first when it holds, the other] (-1 IPVS). */
  order?: [number, number];
}

/** A condition's key words (layout K_*), zeroed. */
export function emptyKey(): number[] {
  return new Array<number>(L.KEY_WORDS).fill(0);
}

export function putAddr(key: number[], at: number, a: Addr): void {
  for (let k = 0; k < 4; k++) key[at + k] = a.w[k] | 0;
}

/** An interface as 5 key words (IFACE meta + name words); false when the name cannot be encoded. */
export function putIface(key: number[], at: number, i: Iface | null): void {
  if (!i) return;
  const b = ifaceWords(i.name);
  if (!b) throw new Error(`interface name ${i.name} cannot be encoded`);
  key[at] = i.name.length | (i.prefix ? L.IF_PREFIX_BIT : 0) | L.IF_PRESENT_BIT;
  for (let k = 0; k < 4; k++) key[at + 1 + k] = b[k] | 0;
}

function ifaceOf(key: ArrayLike<number>, at: number): string {
  const meta = key[at];
  if ((meta & L.IF_PRESENT_BIT) === 0) return '(none)';
  const len = meta & 0xff;
  let name = '';
  for (let i = 0; i < len; i++) name += String.fromCharCode((key[at + 1 + (i >> 2)] >>> ((i & 3) * 8)) & 0xff);
  return meta & L.IF_PREFIX_BIT ? `${name}+` : name;
}

function addrOf(key: ArrayLike<number>, at: number, family: 4 | 6): string {
  const a: Addr = family === 4 ? { family, w: [key[at] >>> 0, 0, 0, 0] } : { family, w: [key[at] >>> 0, key[at + 1] >>> 0, key[at + 2] >>> 0, key[at + 3] >>> 0] };
  return formatAddr(a);
}

function ep(key: ArrayLike<number>, a: number, p: number, family: 4 | 6, proto: number): string {
  const ip = addrOf(key, a, family);
  const ported = proto === 6 || proto === 17 || proto === 132;
  if (!ported) return ip;
  return family === 6 ? `[${ip}]:${key[p]}` : `${ip}:${key[p]}`;
}

/** The variable's identity string (both engines build it from the same parts). */
export function assumptionKey(kind: number, label: string, family: 4 | 6, key: ArrayLike<number>): string {
  let s = `${kind}|${family}|${label}`;
  for (let i = 0; i < L.KEY_WORDS; i++) s += `|${key[i] | 0}`;
  return s;
}

/** The readable condition (`rs` names base chains for an order condition). */
export function conditionText(kind: number, label: string, family: 4 | 6, key: ArrayLike<number>, rs?: Ruleset): string {
  switch (kind) {
    case L.A_ORDER:
      return orderCondition(rs!, key[L.K_PA], key[L.K_PB]);
    case L.A_SET: {
      const [name, dirsText, nomatch] = label.split('|');
      const dirs = dirsText.split(',');
      const suffix = nomatch === '1' ? ' --return-nomatch' : '';
      if (dirs.length === 1) return `${addrOf(key, dirs[0] === 'src' ? L.K_A : L.K_B, family)} in set ${name} (${dirsText})${suffix}`;
      const proto = key[L.K_PROTO];
      const sides: string[] = [];
      if (dirs.includes('src')) sides.push(`src ${ep(key, L.K_A, L.K_PA, family, proto)}`);
      if (dirs.includes('dst')) sides.push(`dst ${ep(key, L.K_B, L.K_PB, family, proto)}`);
      return `the packet (${sides.join(', ')}) is in set ${name} (${dirsText})${suffix}`;
    }
    case L.A_MATCH: {
      const proto = key[L.K_PROTO];
      const mark = key[L.K_MARK] >>> 0;
      return `${label} matches ${ep(key, L.K_A, L.K_PA, family, proto)} → ${ep(key, L.K_B, L.K_PB, family, proto)}${mark ? ` (mark 0x${mark.toString(16)})` : ''}`;
    }
    case L.A_OWNER:
      return label;
    case L.A_IFACE:
      return `interface ${ifaceOf(key, L.K_IFB)} is ${ifaceOf(key, L.K_IFA)}`;
    case L.A_ADDRTYPE_LIMIT:
      return `${addrOf(key, L.K_A, family)} is an address of interface ${ifaceOf(key, L.K_IFA)}`;
    case L.A_LOCAL:
      return `${addrOf(key, L.K_A, family)} is a node address`;
    case L.A_NOTE:
      return label;
    default:
      throw new Error(`unknown assumption kind ${kind}`);
  }
}

/** Why the condition is unknown, for conditions whose reason depends on the key. */
export function keyedReason(kind: number, family: 4 | 6, key: ArrayLike<number>, rs?: Ruleset): string {
  switch (kind) {
    case L.A_ORDER:
      return orderReason(rs!, key[L.K_PA], key[L.K_PB]);
    case L.A_IFACE: {
      const have = ifaceOf(key, L.K_IFB);
      return `interface ${have} may or may not be ${ifaceOf(key, L.K_IFA)}`;
    }
    case L.A_LOCAL:
      return LOCALITY_REASON;
    default:
      throw new Error(`assumption kind ${kind} has a fixed reason`);
  }
}

export const LOCALITY_REASON = "the node's addresses were not given: whether a destination is a node address decides local delivery (INPUT) or forwarding, and addrtype LOCAL";

/** The warning explain adds when a locality question was met. */
export const LOCALITY_WARNING =
  "the node's addresses were not given, so whether an address is the node's own is an assumption in the answer; give node.addresses, or a node snapshot (ip -j addr, ip -j route show table all, ip -j rule) to settle it";

/** A condition read as not holding ("10.0.0.5 not in set A (src)"), for texts that group by case. */
export function negatedCondition(text: string): string {
  const swaps: [string, string][] = [
    [' in set ', ' not in set '],
    [' is in set ', ' is not in set '],
    [' is a node address', ' is not a node address'],
    [' is an address of ', ' is not an address of '],
    [' matches ', ' does not match '],
  ];
  for (const [a, b] of swaps) {
    const i = text.indexOf(a);
    if (i >= 0) return text.slice(0, i) + b + text.slice(i + a.length);
  }
  if (text.startsWith('interface ')) {
    const i = text.lastIndexOf(' is ');
    if (i >= 0) return `${text.slice(0, i)} is not ${text.slice(i + 4)}`;
  }
  return `not (${text})`;
}
