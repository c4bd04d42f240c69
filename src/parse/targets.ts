// `-j TARGET` option tables and builders. Targets that change where a packet goes or what it
// carries are typed; targets that only observe (LOG, NFLOG, …) are no-ops; anything else is kept
// as `unknownTarget` and reported by the walk.

import { parseAddr } from '../model/addr.js';
import type { Addr } from '../model/addr.js';
import type { NatRange, PortRange, Target } from '../model/rule.js';
import { ColumnError } from './errors.js';
import type { OptWord } from './matches.js';
import { parseMarkMask, parsePortRange, parseU32 } from './values.js';

/** Option name → arity, per target. */
const TARGET_OPTIONS: Record<string, Record<string, number>> = {
  ACCEPT: {},
  DROP: {},
  RETURN: {},
  REJECT: { 'reject-with': 1 },
  DNAT: { 'to-destination': 1, random: 0, persistent: 0 },
  SNAT: { 'to-source': 1, random: 0, 'random-fully': 0, persistent: 0 },
  MASQUERADE: { 'to-ports': 1, random: 0, 'random-fully': 0 },
  REDIRECT: { 'to-ports': 1, random: 0 },
  MARK: { 'set-xmark': 1, 'set-mark': 1, 'or-mark': 1, 'and-mark': 1, 'xor-mark': 1 },
  CONNMARK: {
    'set-xmark': 1, 'set-mark': 1, 'or-mark': 1, 'and-mark': 1, 'xor-mark': 1, 'save-mark': 0,
    'restore-mark': 0, nfmask: 1, ctmask: 1, mask: 1,
  },
  LOG: {
    'log-level': 1, 'log-prefix': 1, 'log-tcp-sequence': 0, 'log-tcp-options': 0, 'log-ip-options': 0,
    'log-uid': 0, 'log-macdecode': 0,
  },
  NFLOG: { 'nflog-group': 1, 'nflog-prefix': 1, 'nflog-range': 1, 'nflog-size': 1, 'nflog-threshold': 1 },
  ULOG: { 'ulog-nlgroup': 1, 'ulog-prefix': 1, 'ulog-cprange': 1, 'ulog-qthreshold': 1 },
  TRACE: {},
  AUDIT: { type: 1 },
  CHECKSUM: { 'checksum-fill': 0 },
  TCPMSS: { 'set-mss': 1, 'clamp-mss-to-pmtu': 0 },
  CT: {
    notrack: 0, helper: 1, ctevents: 1, expevents: 1, zone: 1, 'zone-orig': 1, 'zone-reply': 1,
    timeout: 1,
  },
  NOTRACK: {},
  CLASSIFY: { 'set-class': 1 },
  DSCP: { 'set-dscp': 1, 'set-dscp-class': 1 },
  TOS: { 'set-tos': 1, 'and-tos': 1, 'or-tos': 1, 'xor-tos': 1 },
  TTL: { 'ttl-set': 1, 'ttl-dec': 1, 'ttl-inc': 1 },
  HL: { 'hl-set': 1, 'hl-dec': 1, 'hl-inc': 1 },
  SECMARK: { selctx: 1 },
  CONNSECMARK: { save: 0, restore: 0 },
  SET: { 'add-set': 2, 'del-set': 2, 'map-set': 2, timeout: 1, exist: 0, 'map-mark': 0, 'map-prio': 0, 'map-queue': 0 },
};

/** Targets that never change the verdict, the addresses or the marks of the walked packet. */
const NOOP = new Set(['LOG', 'NFLOG', 'ULOG', 'TRACE', 'AUDIT', 'CHECKSUM', 'TCPMSS', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'SECMARK', 'CONNSECMARK', 'SET']);

export function isKnownTarget(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(TARGET_OPTIONS, name);
}

/** Arity of a target option, undefined when the target does not take it (or is unknown). */
export function targetOptionArity(target: string, option: string): number | undefined {
  const t = TARGET_OPTIONS[target];
  if (!t) return undefined;
  return Object.prototype.hasOwnProperty.call(t, option) ? t[option] : undefined;
}

function bad(o: OptWord, what: string): never {
  throw new ColumnError(`invalid ${what} ${JSON.stringify(o.args[0] ?? '')} for --${o.name}`, o.argCols[0] ?? o.col);
}

/**
 * NAT addresses and port ranges, shared between targets (immutable): a kube-proxy dump names each
 * endpoint address in one DNAT per port and a few ports thousands of times.
 */
const NAT_ADDRS = new Map<string, Addr>();
const NAT_PORTS = new Map<string, PortRange>();
const MAX_SHARED = 100_000;

function natAddr(s: string): Addr | null {
  let a = NAT_ADDRS.get(s);
  if (!a) {
    a = parseAddr(s) ?? undefined;
    if (!a) return null;
    if (NAT_ADDRS.size < MAX_SHARED) NAT_ADDRS.set(s, a);
  }
  return a;
}

function natPorts(s: string): PortRange | null {
  let p = NAT_PORTS.get(s);
  if (!p) {
    p = parsePortRange(s, '-') ?? undefined;
    if (!p) return null;
    if (NAT_PORTS.size < MAX_SHARED) NAT_PORTS.set(s, p);
  }
  return p;
}

/** `a[-b][:p[-q]]`, with IPv6 addresses in brackets when a port follows. */
export function parseNatRange(s: string): NatRange | null {
  let addrPart = s;
  let portPart: string | undefined;
  if (s.startsWith('[')) {
    // [v6]-[v6]:ports or [v6]:ports
    const close = s.lastIndexOf(']');
    if (close < 0) return null;
    addrPart = s.slice(0, close + 1).replace(/\[|\]/g, '');
    const rest = s.slice(close + 1);
    if (rest.length) {
      if (rest[0] !== ':') return null;
      portPart = rest.slice(1);
    }
  } else if (s.split(':').length > 2) {
    addrPart = s; // bare IPv6 without port
  } else {
    const k = s.indexOf(':');
    if (k >= 0) {
      addrPart = s.slice(0, k);
      portPart = s.slice(k + 1);
    }
  }
  const r: NatRange = {};
  if (addrPart.length) {
    const dash = addrPart.indexOf('-');
    const lo: Addr | null = natAddr(dash < 0 ? addrPart : addrPart.slice(0, dash));
    const hi: Addr | null = dash < 0 ? lo : natAddr(addrPart.slice(dash + 1));
    if (!lo || !hi || lo.family !== hi.family) return null;
    r.lo = lo;
    r.hi = hi;
  }
  if (portPart !== undefined) {
    const p: PortRange | null = natPorts(portPart);
    if (!p) return null;
    r.ports = p;
  }
  if (!r.lo && !r.ports) return null;
  return r;
}

function markOp(o: OptWord): { value: number; mask: number } {
  const mm = parseMarkMask(o.args[0]) ?? bad(o, 'mark');
  switch (o.name) {
    case 'set-xmark':
      return { value: mm.value, mask: mm.mask };
    case 'set-mark': // zero the mask bits, then OR the value in
      return { value: mm.value, mask: (mm.hasMask ? mm.mask | mm.value : 0xffffffff) >>> 0 };
    case 'or-mark':
      return { value: mm.value, mask: mm.value };
    case 'and-mark':
      return { value: 0, mask: ~mm.value >>> 0 };
    case 'xor-mark':
      return { value: mm.value, mask: 0 };
    default:
      return bad(o, 'mark option');
  }
}

export function buildTarget(name: string, opts: OptWord[]): Target {
  const has = (n: string) => opts.some((o) => o.name === n);
  switch (name) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      return { kind: name };
    case 'REJECT':
      return { kind: 'REJECT', with: opts.find((o) => o.name === 'reject-with')?.args[0] ?? 'icmp-port-unreachable' };
    case 'DNAT':
    case 'SNAT': {
      const key = name === 'DNAT' ? 'to-destination' : 'to-source';
      const ranges = opts.filter((o) => o.name === key).map((o) => parseNatRange(o.args[0]) ?? bad(o, 'address/port range'));
      if (ranges.length === 0) throw new ColumnError(`${name} needs --${key}`, opts[0]?.col ?? 1);
      if (name === 'DNAT') return { kind: 'DNAT', ranges, random: has('random'), persistent: has('persistent') };
      return { kind: 'SNAT', ranges, random: has('random'), randomFully: has('random-fully'), persistent: has('persistent') };
    }
    case 'MASQUERADE':
    case 'REDIRECT': {
      const tp = opts.find((o) => o.name === 'to-ports');
      const ports = tp ? parsePortRange(tp.args[0], '-') ?? bad(tp, 'port range') : undefined;
      if (name === 'REDIRECT') return { kind: 'REDIRECT', ports, random: has('random') };
      return { kind: 'MASQUERADE', ports, random: has('random'), randomFully: has('random-fully') };
    }
    case 'MARK': {
      const o = opts.find((x) => x.name !== undefined);
      if (!o) throw new ColumnError('MARK needs a mark option', 1);
      return { kind: 'MARK', op: markOp(o) };
    }
    case 'CONNMARK': {
      const nf = opts.find((o) => o.name === 'nfmask');
      const ct = opts.find((o) => o.name === 'ctmask');
      const mk = opts.find((o) => o.name === 'mask');
      const maskOf = (o: OptWord | undefined) => (o ? parseU32(o.args[0]) ?? bad(o, 'mask') : undefined);
      const both = maskOf(mk);
      const nfmask = maskOf(nf) ?? both ?? 0xffffffff;
      const ctmask = maskOf(ct) ?? both ?? 0xffffffff;
      if (has('save-mark')) return { kind: 'CONNMARK', mode: 'save', nfmask, ctmask };
      if (has('restore-mark')) return { kind: 'CONNMARK', mode: 'restore', nfmask, ctmask };
      const o = opts.find((x) => x.name.endsWith('-mark') || x.name === 'set-xmark');
      if (!o) throw new ColumnError('CONNMARK needs a mark option', 1);
      return { kind: 'CONNMARK', mode: 'set', op: markOp(o) };
    }
    case 'CT':
      return { kind: 'CT', notrack: has('notrack') };
    case 'NOTRACK':
      return { kind: 'CT', notrack: true };
    default:
      if (NOOP.has(name)) return { kind: 'noop', name };
      return { kind: 'unknownTarget', name, text: `-j ${name}${opts.length ? ' ' + opts.map((o) => `--${o.name} ${o.args.join(' ')}`.trim()).join(' ') : ''}` };
  }
}
