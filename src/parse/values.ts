// Value parsers for rule options: ports, marks, protocols, ICMP types, conntrack states, address
// types. Each returns null on malformed input; the caller turns that into a ParseError at the
// word's column.

import { ADDRTYPE, CT } from '../model/rule.js';
import type { PortRange } from '../model/rule.js';

const SERVICES: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, www: 80, pop3: 110, ntp: 123,
  imap: 143, snmp: 161, ldap: 389, https: 443, syslog: 514, ldaps: 636, imaps: 993, pop3s: 995,
  mysql: 3306, postgresql: 5432, bgp: 179, kerberos: 88, bootps: 67, bootpc: 68, tftp: 69,
};

export function parsePort(s: string): number | null {
  if (s.length === 0) return null;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return SERVICES[s] ?? null;
    v = v * 10 + (c - 48);
    if (v > 65535) return null;
  }
  return v;
}

/** `80`, `80:90`, `:90` (0:90), `80:` (80:65535); also `80-90` as ipset/multiport-style input. */
export function parsePortRange(s: string, sep = ':'): PortRange | null {
  const k = s.indexOf(sep);
  if (k < 0) {
    const p = parsePort(s);
    return p === null ? null : { lo: p, hi: p };
  }
  const a = k === 0 ? 0 : parsePort(s.slice(0, k));
  const b = k === s.length - 1 ? 65535 : parsePort(s.slice(k + 1));
  if (a === null || b === null || a > b) return null;
  return { lo: a, hi: b };
}

/** u32 in decimal or 0x hex. */
export function parseU32(s: string): number | null {
  if (s.length === 0 || s.length > 12) return null;
  let v: number;
  if (s.startsWith('0x') || s.startsWith('0X')) {
    if (s.length === 2 || !/^[0-9a-fA-F]+$/.test(s.slice(2))) return null;
    v = parseInt(s.slice(2), 16);
  } else {
    if (!/^[0-9]+$/.test(s)) return null;
    v = Number(s);
  }
  return v > 0xffffffff ? null : v >>> 0;
}

/** `value[/mask]`; mask defaults to 0xffffffff. */
export function parseMarkMask(s: string): { value: number; mask: number; hasMask: boolean } | null {
  const k = s.indexOf('/');
  const value = parseU32(k < 0 ? s : s.slice(0, k));
  if (value === null) return null;
  if (k < 0) return { value, mask: 0xffffffff, hasMask: false };
  const mask = parseU32(s.slice(k + 1));
  return mask === null ? null : { value, mask, hasMask: true };
}

export { parseProto, protoName } from '../model/protocols.js';

const ICMP4: Record<string, [number, number]> = {
  any: [-1, -1], 'echo-reply': [0, -1], pong: [0, -1], 'destination-unreachable': [3, -1],
  'network-unreachable': [3, 0], 'host-unreachable': [3, 1], 'protocol-unreachable': [3, 2],
  'port-unreachable': [3, 3], 'fragmentation-needed': [3, 4], 'source-route-failed': [3, 5],
  'network-unknown': [3, 6], 'host-unknown': [3, 7], 'network-prohibited': [3, 9],
  'host-prohibited': [3, 10], 'TOS-network-unreachable': [3, 11], 'TOS-host-unreachable': [3, 12],
  'communication-prohibited': [3, 13], 'host-precedence-violation': [3, 14],
  'precedence-cutoff': [3, 15], 'source-quench': [4, -1], redirect: [5, -1],
  'network-redirect': [5, 0], 'host-redirect': [5, 1], 'TOS-network-redirect': [5, 2],
  'TOS-host-redirect': [5, 3], 'echo-request': [8, -1], ping: [8, -1],
  'router-advertisement': [9, -1], 'router-solicitation': [10, -1], 'time-exceeded': [11, -1],
  'ttl-exceeded': [11, -1], 'ttl-zero-during-transit': [11, 0], 'ttl-zero-during-reassembly': [11, 1],
  'parameter-problem': [12, -1], 'ip-header-bad': [12, 0], 'required-option-missing': [12, 1],
  'timestamp-request': [13, -1], 'timestamp-reply': [14, -1], 'address-mask-request': [17, -1],
  'address-mask-reply': [18, -1],
};

const ICMP6: Record<string, [number, number]> = {
  'destination-unreachable': [1, -1], 'no-route': [1, 0], 'communication-prohibited': [1, 1],
  'beyond-scope': [1, 2], 'address-unreachable': [1, 3], 'port-unreachable': [1, 4],
  'failed-policy': [1, 5], 'reject-route': [1, 6], 'packet-too-big': [2, -1],
  'time-exceeded': [3, -1], 'ttl-exceeded': [3, -1], 'ttl-zero-during-transit': [3, 0],
  'ttl-zero-during-reassembly': [3, 1], 'parameter-problem': [4, -1], 'bad-header': [4, 0],
  'unknown-header-type': [4, 1], 'unknown-option': [4, 2], 'echo-request': [128, -1],
  ping: [128, -1], 'echo-reply': [129, -1], pong: [129, -1],
  'router-solicitation': [133, -1], 'router-advertisement': [134, -1],
  'neighbour-solicitation': [135, -1], 'neighbor-solicitation': [135, -1],
  'neighbour-advertisement': [136, -1], 'neighbor-advertisement': [136, -1], redirect: [137, -1],
};

/** `8`, `8/0`, or a name. Returns [type, code] with -1 = any. */
export function parseIcmpType(s: string, v6: boolean): [number, number] | null {
  const named = (v6 ? ICMP6 : ICMP4)[s];
  if (named) return named;
  const k = s.indexOf('/');
  const t = Number(k < 0 ? s : s.slice(0, k));
  const c = k < 0 ? -1 : Number(s.slice(k + 1));
  if (!Number.isInteger(t) || t < 0 || t > 255 || !Number.isInteger(c) || c < -1 || c > 255) return null;
  if (!/^[0-9]+(\/[0-9]+)?$/.test(s)) return null;
  return [t, c];
}

const CTSTATES: Record<string, number> = {
  INVALID: CT.INVALID, NEW: CT.NEW, ESTABLISHED: CT.ESTABLISHED, RELATED: CT.RELATED,
  UNTRACKED: CT.UNTRACKED, SNAT: CT.SNAT, DNAT: CT.DNAT,
};

/** Comma list of conntrack states → CT bits. */
export function parseCtStates(s: string): number | null {
  let bits = 0;
  for (const p of s.split(',')) {
    const b = CTSTATES[p.toUpperCase()];
    if (b === undefined) return null;
    bits |= b;
  }
  return bits;
}

export function parseAddrTypes(s: string): number | null {
  let bits = 0;
  for (const p of s.split(',')) {
    const b = (ADDRTYPE as Record<string, number>)[p.toUpperCase()];
    if (b === undefined) return null;
    bits |= b;
  }
  return bits;
}

/**
 * statistic --probability: the kernel stores lround(p · 2^31) (libxt_statistic), so the exact
 * probability is that integer / 2^31 whatever precision the dump printed.
 */
export function parseProbability(s: string): number | null {
  if (!/^(0|1)?(\.[0-9]+)?$/.test(s) || s === '' || s === '.') return null;
  const p = Number(s);
  if (!(p >= 0 && p <= 1)) return null;
  return Math.round(p * 0x80000000);
}

/** TCP flag names → bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ALL 63, NONE 0). */
export function parseTcpFlags(s: string): number | null {
  const F: Record<string, number> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ALL: 63, NONE: 0 };
  let bits = 0;
  for (const p of s.split(',')) {
    const b = F[p.toUpperCase()];
    if (b === undefined) return null;
    bits |= b;
  }
  return bits;
}
