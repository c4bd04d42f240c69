// Encodes one rule's matches and target into the op / target-argument words of layout.ts.
// Matches are kept in the model's order so the walk meets decision points (statistic, uncertain
// conditions) in exactly the order the reference walk does.

import type { Addr, Cidr } from '../model/addr.js';
import { maskWord } from '../model/addr.js';
import type { Match, NatRange, Target } from '../model/rule.js';
import * as L from './layout.js';

import type { StringTable, Words } from './words.js';
import { ADDRTYPE_LIMIT_REASON, ipvsLabel, matchLabel, OWNER_HOST_REASON, ownerLabel, policyLabel, setLabel } from './labels.js';

/** Matches that never decide, note, or touch state: a rule whose key mismatches before any other kind is skippable. */
function isPure(kind: Match['kind']): boolean {
  switch (kind) {
    case 'src': case 'dst': case 'proto': case 'sport': case 'dport': case 'multiport': case 'tcpFlags':
    case 'icmpType': case 'mark': case 'connmark': case 'ctstate': case 'ctaddr': case 'ctport': case 'ctdir':
    case 'ctproto': case 'comment': case 'nfacct': case 'fragment': case 'iprange':
      return true;
    default:
      return false;
  }
}

const CT_FIELD = { origsrc: 0, origdst: 1, replsrc: 2, repldst: 3 } as const;

export interface EncodeContext {
  w: Words;
  /** The target kind (L.T_*) of the last encodeTarget call (its argument word is the return value). */
  tk: number;
  strings: StringTable;
  /** Statistic-nth counters: next free one, and the one of the rule being encoded. */
  nth: { next: number; rule: number; counter: number };
  /** Flat id of the rule being encoded, and its dump line (labels of unmodelled options). */
  rule: number;
  line: number;
  /** The ruleset has IPVS virtual services (the ipvs match depends on the scheduled one). */
  ipvs: boolean;
  /** recent list name → list id (the walk's recent table is keyed by it). */
  recentId(name: string): number;
  /** The ipsets the user supplied: name → set id (src/compile/sets.ts). */
  sets: ReadonlyMap<string, number>;
  /** Set when a match or target needs the host (ipset, recent, ipvs). */
  host: { used: boolean };
}

function head(kind: number, invert: boolean, len: number): number {
  return kind | (invert ? L.OP_INV_BIT : 0) | (len << L.OP_LEN_SHIFT);
}

function pushRange(w: Words, lo: number, hi: number): void {
  w.push((lo & 0xffff) | ((hi & 0xffff) << 16));
}

/** [family-sized address words + masks] of a CIDR as the family's op expects. */
function pushCidr(w: Words, c: Cidr): void {
  if (c.family === 4) {
    w.push(c.w[0]);
    w.push(maskWord(c.prefix, 0));
  } else {
    for (let k = 0; k < 4; k++) w.push(c.w[k]);
    for (let k = 0; k < 4; k++) w.push(maskWord(c.prefix, k));
  }
}

function push4(w: Words, a: Addr): void {
  for (let k = 0; k < 4; k++) w.push(a.w[k]);
}

/**
 * Interface name bytes packed little-endian into 4 words. Names that do not fit (over 16 bytes
 * or non-ASCII) return null: the caller then hands the rule to the host.
 */
export function ifaceWords(name: string): number[] | null {
  if (name.length > 16) return null;
  const out = [0, 0, 0, 0];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 127 || c === 0) return null;
    out[i >> 2] |= c << ((i & 3) * 8);
  }
  return out;
}

/** Writes an IFACE block (layout L.IFACE_WORDS) at the end of `w`; false when the name cannot be encoded. */
export function pushIface(w: Words, name: string, prefix: boolean): boolean {
  const bytes = ifaceWords(name);
  if (!bytes) return false;
  w.push(name.length | (prefix ? L.IF_PREFIX_BIT : 0) | L.IF_PRESENT_BIT);
  for (const b of bytes) w.push(b);
  w.push(0);
  return true;
}

function encodeMatch(ctx: EncodeContext, m: Match): boolean {
  const { w } = ctx;
  const at = w.length;
  const inv = 'invert' in m ? m.invert : false;
  switch (m.kind) {
    case 'src':
    case 'dst': {
      const six = m.cidr.family === 6;
      const kind = m.kind === 'src' ? (six ? L.M_SRC6 : L.M_SRC4) : six ? L.M_DST6 : L.M_DST4;
      w.push(head(kind, inv, six ? 9 : 3));
      pushCidr(w, m.cidr);
      return true;
    }
    case 'proto':
      w.push(head(L.M_PROTO, inv, 2));
      w.push(m.proto);
      return true;
    case 'inIface':
    case 'outIface':
      w.push(head(m.kind === 'inIface' ? L.M_IN_IFACE : L.M_OUT_IFACE, inv, 1 + L.IFACE_WORDS));
      if (!pushIface(w, m.name, m.prefix)) {
        w.truncate(at);
        return false;
      }
      return true;
    case 'fragment':
      w.push(head(L.M_FRAGMENT, inv, 1));
      return true;
    case 'sport':
    case 'dport':
      w.push(head(m.kind === 'sport' ? L.M_SPORT : L.M_DPORT, inv, 2));
      pushRange(w, m.range.lo, m.range.hi);
      return true;
    case 'multiport':
      w.push(head(L.M_MULTIPORT, inv, 3 + m.ports.length));
      w.push(m.dir === 'src' ? 0 : m.dir === 'dst' ? 1 : 2);
      w.push(m.ports.length);
      for (const p of m.ports) pushRange(w, p.lo, p.hi);
      return true;
    case 'tcpFlags':
      w.push(head(L.M_TCPFLAGS, inv, 3));
      w.push(m.mask);
      w.push(m.comp);
      return true;
    case 'icmpType':
      w.push(head(L.M_ICMPTYPE, inv, 4));
      w.push(m.type);
      w.push(m.code);
      w.push(m.v6 ? 1 : 0);
      return true;
    case 'mark':
    case 'connmark':
      w.push(head(m.kind === 'mark' ? L.M_MARK : L.M_CONNMARK, inv, 3));
      w.push(m.value);
      w.push(m.mask);
      return true;
    case 'ctstate':
      w.push(head(L.M_CTSTATE, inv, 2));
      w.push(m.states);
      return true;
    case 'ctaddr':
      w.push(head(L.M_CTADDR, inv, 11));
      w.push(CT_FIELD[m.field]);
      for (let k = 0; k < 4; k++) w.push(m.cidr.w[k]);
      for (let k = 0; k < 4; k++) w.push(maskWord(m.cidr.prefix, k));
      w.push(m.cidr.family);
      return true;
    case 'ctport':
      w.push(head(L.M_CTPORT, inv, 3));
      w.push(CT_FIELD[m.field]);
      pushRange(w, m.range.lo, m.range.hi);
      return true;
    case 'ctdir':
      w.push(head(L.M_CTDIR, inv, 2));
      w.push(m.reply ? 1 : 0);
      return true;
    case 'ctproto':
      w.push(head(L.M_CTPROTO, inv, 2));
      w.push(m.proto);
      return true;
    case 'addrtype': {
      let f = 0;
      if (m.src) f |= L.AT_HAS_SRC | (m.src.invert ? L.AT_SRC_INV : 0);
      if (m.dst) f |= L.AT_HAS_DST | (m.dst.invert ? L.AT_DST_INV : 0);
      if (m.limitIfaceIn) f |= L.AT_LIMIT_IN;
      if (m.limitIfaceOut) f |= L.AT_LIMIT_OUT;
      w.push(head(L.M_ADDRTYPE, false, 5));
      w.push(f);
      w.push(m.src ? m.src.types : 0);
      w.push(m.dst ? m.dst.types : 0);
      w.push(ctx.strings.id(ADDRTYPE_LIMIT_REASON));
      return true;
    }
    case 'random':
      w.push(head(L.M_RANDOM, inv, 2));
      w.push(m.threshold);
      return true;
    case 'nth':
      w.push(head(L.M_NTH, inv, 4));
      w.push(m.every);
      w.push(m.packet);
      // One counter per rule (the reference keys its trace counters by rule id).
      if (ctx.nth.rule !== ctx.rule) {
        ctx.nth.rule = ctx.rule;
        ctx.nth.counter = ctx.nth.next++;
      }
      w.push(ctx.nth.counter);
      return true;
    case 'recent': {
      w.push(head(L.M_RECENT, inv, 10));
      w.push(ctx.recentId(m.name));
      w.push(m.op === 'rcheck' ? L.RC_RCHECK : m.op === 'update' ? L.RC_UPDATE : m.op === 'set' ? L.RC_SET : L.RC_REMOVE);
      w.push(m.seconds ?? -1);
      w.push(m.hitcount ?? -1);
      w.push(m.side === 'src' ? 0 : 1);
      for (let k = 0; k < 4; k++) w.push(m.mask ? m.mask.w[k] : -1);
      return true;
    }
    case 'iprange':
      w.push(head(L.M_IPRANGE, inv, 11));
      w.push(m.dir === 'src' ? 0 : 1);
      push4(w, m.lo);
      push4(w, m.hi);
      w.push(m.lo.family);
      return true;
    case 'nfproto':
      w.push(head(L.M_NFPROTO, inv, 2));
      w.push(m.family);
      return true;
    case 'comment':
    case 'nfacct':
      return true; // always match: nothing to evaluate
    default:
      return false; // the rest are encoded by encodeSpecial
  }
}

/** Matches whose evaluation the walk reports (notes, uncertain) or that the host owns. */
function encodeSpecial(ctx: EncodeContext, m: Match): void {
  const { w } = ctx;
  switch (m.kind) {
    case 'physdev': {
      // bit pairs (present, inverted) for in, out, isIn, isOut, isBridged
      let f = 0;
      const parts = [m.in, m.out, m.isIn, m.isOut, m.isBridged];
      parts.forEach((p, i) => {
        if (p) f |= (1 | (p.invert ? 2 : 0)) << (2 * i);
      });
      w.push(head(L.M_PHYSDEV, false, 2));
      w.push(f);
      return;
    }
    case 'owner': {
      const crit = [m.uid, m.gid, m.socketExists].filter((c) => c !== undefined);
      w.push(head(L.M_OWNER, false, 4));
      w.push(crit.every((c) => c.invert) ? 1 : 0);
      w.push(ctx.strings.id(ownerLabel(m)));
      w.push(ctx.strings.id(OWNER_HOST_REASON));
      return;
    }
    case 'limit':
      w.push(head(L.M_LIMIT, false, 2));
      // The note's full text is known here; the walk only says "note string #n" (once per walk).
      w.push(ctx.strings.id(`${m.module}: rate limits are not modelled; assumed within the limit (${m.text})`));
      return;
    case 'policy':
      w.push(head(L.M_POLICY, m.invert, 4));
      w.push(m.unmodelled ? L.POL_UNMODELLED : m.pol === 'none' ? L.POL_NONE : L.POL_IPSEC);
      w.push(ctx.strings.id('policy match option not modelled'));
      w.push(ctx.strings.id(policyLabel(m, ctx.line)));
      return;
    case 'unknown':
      w.push(head(L.M_UNKNOWN, false, 3));
      w.push(ctx.strings.id(m.reason || `-m ${m.module} not modelled`));
      w.push(ctx.strings.id(matchLabel(m.module, m.text)));
      return;
    case 'set': {
      // set id -1: a set missing from the dump, undecidable whatever the packet (setMatch → null)
      const id = ctx.sets.get(m.name) ?? -1;
      let dirs = 0;
      m.dirs.forEach((d, i) => {
        if (d === 'dst' && i < 31) dirs |= 1 << i;
      });
      w.push(head(L.M_SET, m.invert, 7));
      w.push(id);
      w.push(dirs);
      w.push(m.dirs.length);
      w.push(m.returnNomatch ? 1 : 0);
      // setMatch() → null (a list:set member missing, a mac dimension): the same reason as a missing set
      w.push(ctx.strings.id(`ipset ${m.name} not supplied`));
      w.push(ctx.strings.id(setLabel(m.name, m.dirs, m.returnNomatch)));
      return;
    }
    case 'ipvs': {
      if (ctx.ipvs && !m.unmodelled) {
        // xt_ipvs against the virtual service the IPVS stage chose (assembly/match.ts)
        let f = 0;
        if (m.ipvs) f |= L.IPM_IPVS | (m.ipvs.invert ? L.IPM_IPVS_INV : 0);
        if (m.vaddr) f |= L.IPM_VADDR | (m.vaddr.invert ? L.IPM_VADDR_INV : 0);
        if (m.vproto) f |= L.IPM_VPROTO | (m.vproto.invert ? L.IPM_VPROTO_INV : 0);
        if (m.vport) f |= L.IPM_VPORT | (m.vport.invert ? L.IPM_VPORT_INV : 0);
        if (m.vdir) f |= L.IPM_VDIR | (m.vdir.invert ? L.IPM_VDIR_INV : 0) | (m.vdir.reply ? L.IPM_VDIR_REPLY : 0);
        w.push(head(L.M_IPVS, false, 13));
        w.push(f);
        w.push(m.vaddr ? m.vaddr.cidr.family : 0);
        for (let k = 0; k < 4; k++) w.push(m.vaddr ? m.vaddr.cidr.w[k] : 0);
        for (let k = 0; k < 4; k++) w.push(m.vaddr ? maskWord(m.vaddr.cidr.prefix, k) : 0);
        w.push(m.vproto ? m.vproto.proto : 0);
        w.push(m.vport ? m.vport.port : 0);
        return;
      }
      if (m.unmodelled) {
        w.push(head(L.M_UNKNOWN, false, 3));
        w.push(ctx.strings.id('ipvs match option not modelled'));
        w.push(ctx.strings.id(ipvsLabel(ctx.line)));
        return;
      }
      // No virtual service exists, so IPVS handles no packet: --ipvs fails, so does every other
      // criterion (xt_ipvs), and a bare `! --ipvs` holds.
      const others = m.vaddr || m.vproto || m.vport || m.vdir;
      const holds = !(m.ipvs && !m.ipvs.invert) && !others;
      w.push(head(L.M_CONST, false, 2));
      w.push(holds ? 1 : 0);
      return;
    }
    default:
      break;
  }
  // ipvs with IPVS state, and interface names that do not fit: the host evaluates these.
  ctx.host.used = true;
  w.push(head(L.M_HOST, false, 1));
}

/**
 * The fixed IP-header part of a rule (ipt_entry's ip fields), and an nft rule's `meta nfproto`
 * (an inet table's family test): pure tests of the packet, taken first, so a rule the header
 * already rejects asks nothing unknown (an interface the input does not name) and takes no branch.
 */
function isHeader(kind: Match['kind']): boolean {
  switch (kind) {
    case 'nfproto': case 'src': case 'dst': case 'proto': case 'inIface': case 'outIface': case 'fragment':
      return true;
    default:
      return false;
  }
}

/**
 * The kernel's evaluation order, the one definition the compiler and the reference walk
 * (src/engine/reference-index.ts) share: the fixed IP-header part first (addresses, protocol,
 * interfaces, fragment, nft's nfproto) in dump order, then the -m modules in dump order. The
 * kernel checks ipt_entry's ip fields before any match, so later modules are only reached when
 * the header holds; a decision (statistic, an unknown) is never taken for a packet it rejects.
 */
export function kernelOrder(ms: Match[]): Match[] {
  // Dumps print the header part first, so the common case needs no copy.
  let seenModule = false;
  let reorder = false;
  for (let i = 0; i < ms.length; i++) {
    if (!isHeader(ms[i]!.kind)) seenModule = true;
    else if (seenModule) {
      reorder = true;
      break;
    }
  }
  if (!reorder) return ms;
  return [...ms.filter((m) => isHeader(m.kind)), ...ms.filter((m) => !isHeader(m.kind))];
}

/** Appends the matches' ops (already in kernel order) at the end of ctx.w; returns the op count. */
export function encodeMatches(ctx: EncodeContext, ordered: Match[]): number {
  const { w } = ctx;
  let n = 0;
  for (let i = 0; i < ordered.length; i++) {
    const m = ordered[i]!;
    const before = w.length;
    if (!encodeMatch(ctx, m)) encodeSpecial(ctx, m);
    if (w.length === before) continue;
    // The walk steps from op to op by the length in the head word: it must be what was written.
    const len = w.get(before) >>> L.OP_LEN_SHIFT;
    if (len !== w.length - before) throw new Error(`compile: ${m.kind} op declares ${len} words, wrote ${w.length - before}`);
    n++;
  }
  return n;
}

/** Addresses in the range (exact: the uncertain reason prints the count; a bigint for IPv6). */
function natCount(r: NatRange): number | bigint {
  if (!r.lo || !r.hi) return 1;
  if (r.lo.family === 4) {
    // one word each: the difference of two u32s is exact in a double
    const n = (r.hi.w[0] >>> 0) - (r.lo.w[0] >>> 0) + 1;
    return n < 1 ? 1 : n;
  }
  let lo = 0n;
  let hi = 0n;
  for (let k = 0; k < 4; k++) {
    lo = (lo << 32n) | BigInt(r.lo.w[k] >>> 0);
    hi = (hi << 32n) | BigInt(r.hi.w[k] >>> 0);
  }
  const n = hi - lo + 1n;
  return n < 1n ? 1n : n;
}

function pushNat(ctx: EncodeContext, ranges: NatRange[], what: number): number {
  const { w } = ctx;
  const at = w.alloc(L.NAT_WORDS);
  w.set(at + L.NR_NRANGES, ranges.length);
  w.set(at + L.NR_WHAT, what);
  const r = ranges[0];
  if (!r) return at;
  w.set(at + L.NR_FLAGS, (r.lo ? L.NRF_ADDR : 0) | (r.ports ? L.NRF_PORTS : 0));
  const n = natCount(r);
  w.set(at + L.NR_COUNT, n > L.NAT_MAX_BRANCHES ? L.NAT_MAX_BRANCHES + 1 : Number(n));
  if (n > L.NAT_MAX_BRANCHES) w.set(at + L.NR_REASON, ctx.strings.id(`NAT range of ${n} addresses: only the first is followed`));
  for (let k = 0; k < 4; k++) {
    w.set(at + L.NR_LO + k, r.lo ? r.lo.w[k] : 0);
    w.set(at + L.NR_HI + k, r.hi ? r.hi.w[k] : r.lo ? r.lo.w[k] : 0);
  }
  w.set(at + L.NR_PLO, r.ports ? r.ports.lo : 0);
  w.set(at + L.NR_PHI, r.ports ? r.ports.hi : 0);
  return at;
}

/** The target's argument word, its kind in ctx.tk; `chainId` resolves a jump/goto's chain in the rule's table. */
export function encodeTarget(ctx: EncodeContext, t: Target | null, chainId: (t: { chain: string }) => number): number {
  const { w, strings } = ctx;
  if (!t) return kind(ctx, L.T_NONE, 0);
  switch (t.kind) {
    case 'ACCEPT':
      return kind(ctx, L.T_ACCEPT, 0);
    case 'DROP':
      return kind(ctx, L.T_DROP, 0);
    case 'RETURN':
      return kind(ctx, L.T_RETURN, 0);
    case 'REJECT':
      return kind(ctx, L.T_REJECT, strings.id(t.with));
    case 'jump':
    case 'goto': {
      const id = chainId(t);
      if (id < 0) return kind(ctx, L.T_MISSING_CHAIN, strings.id(`target chain ${t.chain} does not exist`));
      return kind(ctx, t.kind === 'jump' ? L.T_JUMP : L.T_GOTO, id);
    }
    case 'DNAT':
      return kind(ctx, L.T_DNAT, pushNat(ctx, t.ranges, L.NAT_WHAT_DNAT));
    case 'SNAT':
      return kind(ctx, L.T_SNAT, pushNat(ctx, t.ranges, L.NAT_WHAT_SNAT));
    case 'MASQUERADE':
      return kind(ctx, L.T_MASQUERADE, pushNat(ctx, t.ports ? [{ ports: t.ports }] : [], L.NAT_WHAT_MASQUERADE));
    case 'REDIRECT':
      return kind(ctx, L.T_REDIRECT, pushNat(ctx, t.ports ? [{ ports: t.ports }] : [], L.NAT_WHAT_REDIRECT));
    case 'MARK': {
      const at = w.push(t.op.value);
      w.push(t.op.mask);
      return kind(ctx, L.T_MARK, at);
    }
    case 'CONNMARK': {
      if (t.mode === 'set') {
        const at = w.push(t.op.value);
        w.push(t.op.mask);
        return kind(ctx, L.T_CONNMARK_SET, at);
      }
      const at = w.push(t.nfmask);
      w.push(t.ctmask);
      return kind(ctx, t.mode === 'save' ? L.T_CONNMARK_SAVE : L.T_CONNMARK_RESTORE, at);
    }
    case 'noop':
      return kind(ctx, L.T_NOOP, 0);
    case 'CT':
      return kind(ctx, t.notrack ? L.T_NOTRACK : L.T_NOOP, 0);
    case 'unknownTarget':
      return kind(ctx, L.T_UNKNOWN, strings.id(`target ${t.name} not modelled; assumed to continue`));
  }
}

/** Records the target kind; returns the argument word. */
function kind(ctx: EncodeContext, tk: number, arg: number): number {
  ctx.tk = tk;
  return arg;
}

/**
 * The index keys of a rule (matches in kernel order) that an index run may skip: its first `-d`
 * is an exact, non-inverted address (dst), or its first --dport is one non-inverted port (dport),
 * and every match before it is pure — so when the packet's key differs the rule fails at that
 * match without deciding, noting or counting anything but itself.
 */
export function indexKeys(ordered: Match[], addressesKnown: boolean, out: IndexKeys): void {
  let dst: Key | null = null;
  let dport: number | null = null;
  let dstDone = false;
  let dportDone = false;
  for (let i = 0; i < ordered.length; i++) {
    const m = ordered[i]!;
    if (m.kind === 'dst' && !dstDone) {
      const full = m.cidr.family === 4 ? 32 : 128;
      if (!m.invert && m.cidr.prefix === full) dst = m.cidr.w;
      dstDone = true;
    } else if (m.kind === 'dport' && !dportDone) {
      if (!m.invert && m.range.lo === m.range.hi) dport = m.range.lo;
      dportDone = true;
    }
    if (dstDone && dportDone) break;
    // addrtype decides on its own unless --limit-iface-* or unknown node addresses make a
    // locality question (an unknown condition, which a skipped rule must not ask)
    const pure = isPure(m.kind) || (m.kind === 'addrtype' && !m.limitIfaceIn && !m.limitIfaceOut && addressesKnown);
    if (!pure) break;
  }
  out.dst = dst;
  out.dport = dport;
}

/** indexKeys' answer (one object reused for every rule). */
export interface IndexKeys {
  dst: Key | null;
  dport: number | null;
}

export type Key = readonly [number, number, number, number];
