// The semantic model of a netfilter ruleset: what the parser produces and both engines consume.
// Every match and target is a typed record; anything the parser could not type is kept as
// `unknown` (matches) or `unknownTarget` so the walk can report it as uncertain instead of
// guessing.

import type { Addr, Cidr, Family } from './addr.js';
import * as K from './kernel-bits.js';
import { IP_PROTOCOLS } from './protocols.js';

export const TABLES = ['raw', 'mangle', 'nat', 'filter', 'security'] as const;
export type TableName = (typeof TABLES)[number];

export const BUILTIN_CHAINS: Record<TableName, readonly string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** IP protocol numbers used by the model (0 = any), from the one name map. */
export const PROTO = {
  any: IP_PROTOCOLS.all,
  icmp: IP_PROTOCOLS.icmp,
  tcp: IP_PROTOCOLS.tcp,
  udp: IP_PROTOCOLS.udp,
  icmpv6: IP_PROTOCOLS.icmpv6,
  sctp: IP_PROTOCOLS.sctp,
} as const;

/** Conntrack state bits (conntrack --ctstate / state --state). */
export const CT = {
  INVALID: K.CT_INVALID,
  NEW: K.CT_NEW,
  ESTABLISHED: K.CT_ESTABLISHED,
  RELATED: K.CT_RELATED,
  UNTRACKED: K.CT_UNTRACKED,
  SNAT: K.CT_SNAT,
  DNAT: K.CT_DNAT,
} as const;

/** addrtype type bits (the kernel's RTN_* as a bitmask). */
export const ADDRTYPE = {
  UNSPEC: K.ADDRTYPE_UNSPEC,
  UNICAST: K.ADDRTYPE_UNICAST,
  LOCAL: K.ADDRTYPE_LOCAL,
  BROADCAST: K.ADDRTYPE_BROADCAST,
  ANYCAST: K.ADDRTYPE_ANYCAST,
  MULTICAST: K.ADDRTYPE_MULTICAST,
  BLACKHOLE: K.ADDRTYPE_BLACKHOLE,
  UNREACHABLE: K.ADDRTYPE_UNREACHABLE,
  PROHIBIT: K.ADDRTYPE_PROHIBIT,
  THROW: K.ADDRTYPE_THROW,
  NAT: K.ADDRTYPE_NAT,
  XRESOLVE: K.ADDRTYPE_XRESOLVE,
} as const;

export interface PortRange {
  lo: number;
  hi: number;
}

/** Where in the dump a piece of syntax came from (1-based line and column). */
export interface Pos {
  line: number;
  column: number;
}

export type Match =
  | { kind: 'src'; invert: boolean; cidr: Cidr }
  | { kind: 'dst'; invert: boolean; cidr: Cidr }
  | { kind: 'proto'; invert: boolean; proto: number }
  /** -i / -o; `prefix` true when the name ended in `+` (then `name` is without the `+`). */
  | { kind: 'inIface'; invert: boolean; name: string; prefix: boolean }
  | { kind: 'outIface'; invert: boolean; name: string; prefix: boolean }
  /** -f: matches second and later fragments; landfall's packets are never fragments. */
  | { kind: 'fragment'; invert: boolean }
  /** tcp/udp/sctp --sport/--dport (also dccp/udplite). */
  | { kind: 'sport'; invert: boolean; range: PortRange }
  | { kind: 'dport'; invert: boolean; range: PortRange }
  | { kind: 'multiport'; invert: boolean; dir: 'src' | 'dst' | 'any'; ports: PortRange[] }
  /** --tcp-flags mask comp (--syn is mask SYN,RST,ACK,FIN comp SYN). Bits: FIN1 SYN2 RST4 PSH8 ACK16 URG32 ECE64 CWR128. */
  | { kind: 'tcpFlags'; invert: boolean; mask: number; comp: number }
  /** icmp/icmpv6 type; code -1 = any code; type -1 = "any". */
  | { kind: 'icmpType'; invert: boolean; v6: boolean; type: number; code: number }
  | { kind: 'mark'; invert: boolean; value: number; mask: number }
  | { kind: 'connmark'; invert: boolean; value: number; mask: number }
  /** conntrack --ctstate or state --state: matches when the packet's state bit is in `states`. */
  | { kind: 'ctstate'; invert: boolean; states: number }
  /** conntrack --ctorigsrc/--ctorigdst/--ctreplsrc/--ctrepldst (addresses of the connection tuple). */
  | { kind: 'ctaddr'; invert: boolean; field: 'origsrc' | 'origdst' | 'replsrc' | 'repldst'; cidr: Cidr }
  /** conntrack --ctorigsrcport etc. */
  | { kind: 'ctport'; invert: boolean; field: 'origsrc' | 'origdst' | 'replsrc' | 'repldst'; range: PortRange }
  /** conntrack --ctdir ORIGINAL|REPLY: a first packet is ORIGINAL. */
  | { kind: 'ctdir'; invert: boolean; reply: boolean }
  /** conntrack --ctproto */
  | { kind: 'ctproto'; invert: boolean; proto: number }
  /** addrtype; a side is absent when not given. types are ADDRTYPE bits. */
  | {
      kind: 'addrtype';
      src?: { invert: boolean; types: number };
      dst?: { invert: boolean; types: number };
      limitIfaceIn: boolean;
      limitIfaceOut: boolean;
    }
  /**
   * statistic --mode random: matches with probability threshold/2^31 (the kernel keeps
   * lround(p·2^31) as a u32 and compares a random u32 >> 1 against it... we keep the integer).
   */
  | { kind: 'random'; invert: boolean; threshold: number }
  /** statistic --mode nth --every n --packet p */
  | { kind: 'nth'; invert: boolean; every: number; packet: number }
  /** recent: one of --rcheck/--update/--set/--remove. */
  | {
      kind: 'recent';
      invert: boolean;
      name: string;
      op: 'rcheck' | 'update' | 'set' | 'remove';
      seconds?: number;
      hitcount?: number;
      reap: boolean;
      rttl: boolean;
      side: 'src' | 'dst';
      mask?: Addr;
    }
  /** set --match-set NAME dir[,dir...]; `returnNomatch` from --return-nomatch. */
  | { kind: 'set'; invert: boolean; name: string; dirs: ('src' | 'dst')[]; returnNomatch: boolean }
  /** comment: always matches; kept for service discovery and for the path text. */
  | { kind: 'comment'; text: string }
  /** nfacct: accounting only, always matches. */
  | { kind: 'nfacct'; name: string }
  | { kind: 'iprange'; invert: boolean; dir: 'src' | 'dst'; lo: Addr; hi: Addr }
  /** physdev: landfall models routed (not bridged) packets, so every positive physdev test is false. */
  | {
      kind: 'physdev';
      in?: { invert: boolean; name: string; prefix: boolean };
      out?: { invert: boolean; name: string; prefix: boolean };
      isIn?: { invert: boolean };
      isOut?: { invert: boolean };
      isBridged?: { invert: boolean };
    }
  /** owner: only meaningful for locally generated packets. */
  | { kind: 'owner'; uid?: { invert: boolean; lo: number; hi: number }; gid?: { invert: boolean; lo: number; hi: number }; socketExists?: { invert: boolean } }
  /** limit / hashlimit: rate limits; treated as matching and reported in warnings. */
  | { kind: 'limit'; module: string; text: string }
  /** policy (IPsec): landfall's packets carry no IPsec policy. */
  | { kind: 'policy'; dir: 'in' | 'out'; pol: 'none' | 'ipsec'; invert: boolean; strict: boolean; unmodelled: boolean }
  /** ipvs (kube-proxy IPVS-mode filters): whether IPVS handled the packet, and its virtual service. */
  | {
      kind: 'ipvs';
      ipvs?: { invert: boolean };
      vaddr?: { invert: boolean; cidr: Cidr };
      vproto?: { invert: boolean; proto: number };
      vport?: { invert: boolean; port: number };
      vdir?: { invert: boolean; reply: boolean };
      unmodelled: boolean;
    }
  /**
   * The packet's family (nft `meta nfproto ipv4|ipv6`, and the implicit family test of an ip / ip6
   * payload match in an inet table). A header match: evaluated before the modules.
   */
  | { kind: 'nfproto'; invert: boolean; family: Family }
  /** Anything landfall does not model: the walk treats it as "may match" and reports it. */
  | { kind: 'unknown'; module: string; text: string; reason: string };

export type MarkOp = { value: number; mask: number }; // new = (old & ~mask) ^ value  (xt_MARK set-xmark)

export interface NatRange {
  /** Address range (inclusive); absent when only ports are given. */
  lo?: Addr;
  hi?: Addr;
  /** Port range (inclusive); absent when not given. */
  ports?: PortRange;
}

export type Target =
  | { kind: 'ACCEPT' }
  | { kind: 'DROP' }
  | { kind: 'RETURN' }
  | { kind: 'REJECT'; with: string }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  | { kind: 'DNAT'; ranges: NatRange[]; random: boolean; persistent: boolean }
  | { kind: 'SNAT'; ranges: NatRange[]; random: boolean; randomFully: boolean; persistent: boolean }
  | { kind: 'MASQUERADE'; ports?: PortRange; random: boolean; randomFully: boolean }
  | { kind: 'REDIRECT'; ports?: PortRange; random: boolean }
  /** MARK in its canonical set-xmark form: mark = (mark & ~mask) ^ value. */
  | { kind: 'MARK'; op: MarkOp }
  /** CONNMARK: set (xmark on the connmark), save (mark→connmark), restore (connmark→mark). */
  | { kind: 'CONNMARK'; mode: 'set'; op: MarkOp }
  | { kind: 'CONNMARK'; mode: 'save' | 'restore'; nfmask: number; ctmask: number }
  /** Non-terminal targets recorded in the path and otherwise ignored (LOG, NFLOG, TRACE, CHECKSUM, TCPMSS, …). */
  | { kind: 'noop'; name: string }
  /** CT --notrack / NOTRACK: the packet becomes UNTRACKED. Other CT options are no-ops. */
  | { kind: 'CT'; notrack: boolean }
  /** A target landfall does not model: reported as uncertain; the walk continues past it. */
  | { kind: 'unknownTarget'; name: string; text: string };

/**
 * A jump/goto target's chain, as its position in its table's `chains` (iteration order), when the
 * producer knows it: the iptables parser sets it at COMMIT on the one target record it makes per
 * chain, so the compiler resolves jumps without looking 100k chain names up. A non-enumerable
 * symbol property: JSON, structuredClone, spread and deep equality do not see it. A reader must
 * check the name it finds there (a table edited after parsing may have moved its chains).
 */
const CHAIN_POSITION = Symbol('landfall.chainPosition');

/** The position recorded by setTargetChainPosition, -1 when none. */
export function targetChainPosition(t: Target): number {
  const p = (t as { [CHAIN_POSITION]?: number })[CHAIN_POSITION];
  return p === undefined ? -1 : p;
}

export function setTargetChainPosition(t: Extract<Target, { kind: 'jump' | 'goto' }>, position: number): void {
  Object.defineProperty(t, CHAIN_POSITION, { value: position, writable: true, configurable: true, enumerable: false });
}

export interface Rule {
  /** 1-based line in the dump. */
  line: number;
  /** The rule as written, without its counter prefix (e.g. `-A KUBE-SVC-X -m … -j KUBE-SEP-Y`). */
  text: string;
  /** The iptables table (TableName) or the nft table's name. */
  table: string;
  chain: string;
  /** 1-based position in its chain. */
  index: number;
  matches: Match[];
  /** null: a rule without a target (only counts). */
  target: Target | null;
  /** iptables: the dump's family; nft: 4 / 6 for an ip / ip6 table, 'inet' for an inet table. */
  family: Family | 'inet';
  /** Rules the kernel evaluates for this one (default 1): 0 for the 2nd… rules lowered from one nft rule. rulesEvaluated sums it. */
  evalCost?: number;
  /** nft rule handle (JSON input, `nft -a`). */
  handle?: number;
}

export const HOOK_NAMES = ['prerouting', 'input', 'forward', 'output', 'postrouting'] as const;
/** A netfilter hook; its index in HOOK_NAMES is the layout's HOOK_* number. */
export type HookName = (typeof HOOK_NAMES)[number];
/** nft chain types (iptables: nat table → nat, mangle OUTPUT → route, everything else filter). */
export type ChainType = 'filter' | 'nat' | 'route';

/** An nft base chain's registration data (Chain.base; src/model/hooks.ts registers it). */
export interface BaseChainSpec {
  hook: HookName;
  type: ChainType;
  priority: number;
}

export interface Chain {
  name: string;
  builtin: boolean;
  /** Built-in chains only. */
  policy?: 'ACCEPT' | 'DROP';
  /** Line of the `:CHAIN POLICY [p:b]` declaration (nft: the chain's line). */
  line: number;
  rules: Rule[];
  /** nft base chains: hook, type and priority (iptables built-in chains derive theirs from table and name). */
  base?: BaseChainSpec;
  /** The policy step's rule text when it is not iptables' `:CHAIN POLICY` (nft: e.g. `policy drop;`). */
  policyText?: string;
}

export interface Table {
  name: TableName;
  family: Family;
  /** Chains by name, in declaration order. */
  chains: Map<string, Chain>;
  /** Line of the `*table` header. */
  line: number;
}

/** One family's tables (iptables-save or ip6tables-save). */
export interface FamilyRules {
  family: Family;
  tables: Map<TableName, Table>;
}

export interface ParseWarning {
  line: number;
  column: number;
  message: string;
}
