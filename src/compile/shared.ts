// The shared compiled form: one SharedArrayBuffer holding everything a worker needs to answer
// explain / trace / services for a ruleset without its dump — the compiled words (layout.ts), the
// rule and chain tables answers render (table, chain, index, line, text as offsets into one UTF-8
// text block), and small JSON sections (string ids, node context, IPVS state, the caller's summary).
// It is what the service hands to every worker (a SharedArrayBuffer costs nothing to send) and
// what the store persists beside the original bytes: a restart reads it back instead of parsing.
//
// Buffer layout (all offsets in bytes, 8-aligned; little-endian Int32 words):
//   header  SH_WORDS words: magic, format version, layout version, counts, words per rule,
//           section table
//   rules   3 words per rule: chain id, line, text offset (bit 31: the text is stored without its
//           `-A <chain> ` prefix, which the chain name restores); a 4th, the nft handle (-1 none),
//           only when some rule has one. A rule's text ends where the next one starts; its index
//           (position in its chain) and family (its table's) are derived, and stored as extras
//           only where they differ
//   chains  CHAIN_META words per chain: name offset, name length, table offset, table length,
//           family (0 ip, 1 ip6, 2 inet), line, policy code, first rule, rule count, source
//           (0 iptables, 1 nft), table id
//   Fields of rules and chains beyond these (nft base-chain specs, policy texts, eval costs, …)
//   travel as sparse JSON in core, so a model field added later still round-trips.
//   text    UTF-8: every rule text, chain name and table name
//   json    JSON sections: core (strings, recent lists, IPVS real map, node, stats), ipvs (the IPVS
//           state: answers show its texts), meta (the caller's small JSON: id, stats, warnings)
//   words   the compiled ruleset (CompiledRuleset.words)
//   blob    the caller's UTF-8 text, read only when asked (the library keeps the services answer)
// The words and the blob come last, so the part before the words (residentBytes) is a form of its
// own: every thread that opens the ruleset copies the words into its wasm instance and reads the
// blob only when asked, so a holder that can read those two back from a file (the service's
// store) keeps just that prefix in memory (residentPart) and opens it with `tail`.
// A buffer whose format or layout version differs from this build's is refused (isCurrent), so
// callers recompile from the original bytes.

import type { Family } from '../model/addr.js';
import type { Chain, Rule } from '../model/rule.js';
import type { ChainInfo, Ruleset } from '../model/ruleset.js';
import { chainKey, keyFamily } from '../model/ruleset.js';
import type { TableFamily } from '../model/hooks.js';
import type { IpvsState } from '../model/ipvs.js';
import type { CompiledRuleset } from './compile.js';
import { LAYOUT_VERSION } from './layout.js';

export const SHARED_MAGIC = 0x48534c46; // "FLSH" little-endian
/** Bump when this file's layout changes (the compiled words have their own LAYOUT_VERSION). */
const SHARED_FORMAT = 3;

const SH_MAGIC = 0;
const SH_FORMAT = 1;
const SH_LAYOUT = 2;
const SH_NRULES = 3;
const SH_NCHAINS = 4;
const SH_RULEW = 5; // words per rule: 3, or 4 with handles
const SH_WORDS_AT = 6; // then (offset, length) pairs for each section below
const SECTIONS = ['rules', 'chains', 'text', 'core', 'ipvs', 'meta', 'words', 'blob'] as const;
type Section = (typeof SECTIONS)[number];
const SH_WORDS = SH_WORDS_AT + SECTIONS.length * 2;

const RM_CHAIN = 0;
const RM_LINE = 1;
const RM_TEXT = 2;
const RM_HANDLE = 3;
const PREFIXED = 0x80000000 | 0;

const CHAIN_META = 11;
const CM_NAME = 0;
const CM_NAMELEN = 1;
const CM_TABLE = 2;
const CM_TABLELEN = 3;
const CM_FAMILY = 4;
const CM_LINE = 5;
const CM_POLICY = 6; // 0 none (user chain), 1 ACCEPT, 2 DROP, 3 built-in without a policy
const CM_FIRST = 7;
const CM_COUNT = 8;
const CM_SOURCE = 9;
const CM_TABLEID = 10;
const TABLE_FAMILIES: readonly TableFamily[] = ['ip', 'ip6', 'inet'];
/** Rule and chain fields the binary tables carry; any other own field goes to the sparse extras. */
function ruleKnown(k: string): boolean {
  switch (k) {
    case 'line': case 'text': case 'table': case 'chain': case 'index': case 'matches': case 'target': case 'family': case 'handle':
      return true;
    default:
      return false;
  }
}
function chainKnown(k: string): boolean {
  switch (k) {
    case 'name': case 'builtin': case 'policy': case 'line': case 'rules':
      return true;
    default:
      return false;
  }
}

function extrasOf(o: object, known: (k: string) => boolean): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  // for-in, not Object.entries: no key/value arrays for each of 650k rules (model objects have no
  // enumerable inherited fields); a known field's value is not even read.
  for (const k in o) {
    if (known(k)) continue;
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/** JSON with Map/Set/typed arrays kept (the node context may grow such fields). */
function replacer(_k: string, v: unknown): unknown {
  if (v instanceof Map) return { $map: [...v] };
  if (v instanceof Set) return { $set: [...v] };
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return { $ta: v.constructor.name, v: Array.from(v as unknown as ArrayLike<number>) };
  return v;
}
const TYPED: Record<string, new (a: number[]) => unknown> = { Int32Array, Uint32Array, Uint8Array, Float64Array, Int16Array, Uint16Array };
function reviver(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.$map)) return new Map(o.$map as [unknown, unknown][]);
    if (Array.isArray(o.$set)) return new Set(o.$set);
    if (typeof o.$ta === 'string' && Array.isArray(o.v) && TYPED[o.$ta]) return new TYPED[o.$ta]!(o.v as number[]);
  }
  return v;
}

interface Core {
  strings: string[];
  recentLists: string[];
  ipvsReals: [number, number][];
  ipvsByEndpoint: [string, number[]][];
  ipvsOk: boolean;
  node: unknown;
  warnings: Ruleset['warnings'];
  stats: CompiledRuleset['stats'];
  registrations: Ruleset['registrations'];
  /** Sparse: rule / chain id → its fields beyond the binary tables. */
  ruleExtras: [number, Record<string, unknown>][];
  chainExtras: [number, Record<string, unknown>][];
}

const align8 = (n: number) => (n + 7) & ~7;

/**
 * The text block: each rule's text (without its `-A <chain> ` prefix where it has one), then each
 * chain's name and table name, end to end; `offs` holds each part's byte offset and the end.
 */
interface TextBlock {
  bytes: number;
  offs: Int32Array;
  /** Offsets counted one byte per character: writing finds out whether every part was ASCII. */
  assumesAscii: boolean;
  /** The exact block's joined text (written as one string). */
  joined?: string;
}

/** A rule's text as the block keeps it. */
function ownText(t: string, prefixed: boolean, chars: number): string {
  return prefixed ? t.slice(t.length - chars) : t;
}

/**
 * The text block with UTF-8 byte offsets, as one joined string (the fallback when some text is
 * not ASCII: the format's offsets and bytes are those of this construction).
 */
function exactText(rs: Ruleset, prefixed: Uint8Array): TextBlock {
  const nrules = rs.rules.length;
  const nchains = rs.chains.length;
  const parts: string[] = new Array(nrules + nchains * 2);
  for (let i = 0; i < nrules; i++) {
    const r = rs.rules[i]!;
    parts[i] = prefixed[i] ? r.text.slice(3 + r.chain.length + 1) : r.text;
  }
  for (let i = 0; i < nchains; i++) {
    const ch = rs.chains[i]!;
    parts[nrules + 2 * i] = ch.chain.name;
    parts[nrules + 2 * i + 1] = String(ch.table);
  }
  const joined = parts.join('');
  const bytes = Buffer.byteLength(joined, 'utf8');
  const ascii = bytes === joined.length;
  const offs = new Int32Array(parts.length + 1);
  for (let i = 0, at = 0; i < parts.length; i++) {
    offs[i] = at;
    at += ascii ? parts[i]!.length : Buffer.byteLength(parts[i]!, 'utf8');
    offs[i + 1] = at;
  }
  return { bytes, offs, assumesAscii: false, joined };
}

/** What packShared writes besides the words and the text. */
interface Packed {
  prefixed: Uint8Array;
  handles: boolean;
  json: Record<'core' | 'ipvs' | 'meta' | 'blob', string>;
}

/**
 * Packs a parsed ruleset and its compiled form. `meta` is small JSON and `blob` any text the
 * caller wants to travel with it (the library packs its summary and the services answer).
 */
export function packShared(rs: Ruleset, c: CompiledRuleset, meta: unknown = null, blob = ''): SharedArrayBuffer {
  const nrules = rs.rules.length;
  const nchains = rs.chains.length;
  const core: Core = {
    strings: c.strings,
    recentLists: c.recentLists,
    ipvsReals: c.ipvs.reals,
    ipvsByEndpoint: [...c.ipvs.byEndpoint],
    ipvsOk: c.ipvs.ok,
    node: rs.node,
    warnings: rs.warnings,
    stats: c.stats,
    registrations: rs.registrations,
    ruleExtras: [],
    chainExtras: [],
  };
  // One pass over the chains: each one's first rule (numberRules numbers a chain's rules
  // consecutively in chain order), family as its rules carry it, name and table lengths, and
  // fields beyond the binary table.
  const firstOf = new Int32Array(nchains);
  const familyOfChain: (Family | 'inet')[] = new Array(nchains);
  const nameChars = new Int32Array(2 * nchains);
  for (let c = 0, next = 0; c < nchains; c++) {
    const ci = rs.chains[c]!;
    firstOf[c] = next;
    familyOfChain[c] = familyOf(ci.family);
    next += ci.chain.rules.length;
    nameChars[2 * c] = ci.chain.name.length;
    nameChars[2 * c + 1] = String(ci.table).length;
    const x = extrasOf(ci.chain, chainKnown);
    if (x) core.chainExtras.push([c, x]);
  }
  // One pass over the rules: their text parts (character offsets: bytes when all is ASCII, the
  // usual case), their fields beyond the binary tables, and whether any has an nft handle.
  // iptables rule texts repeat their chain's name: `-A KUBE-SEP-… -s …` (a third of a kube-proxy dump).
  const offs = new Int32Array(nrules + 2 * nchains + 1);
  const prefixed = new Uint8Array(nrules);
  const ruleChain = rs.ruleChain;
  let handles = false;
  let at = 0;
  for (let i = 0; i < nrules; i++) {
    const r = rs.rules[i]! as Rule & { handle?: number };
    const t = r.text;
    const cut = 3 + r.chain.length;
    offs[i] = at;
    if (t.startsWith('-A ') && t.startsWith(r.chain, 3) && t.charCodeAt(cut) === 32) {
      prefixed[i] = 1;
      at += t.length - cut - 1;
    } else at += t.length;
    let x = extrasOf(r, ruleKnown);
    const c = ruleChain[i]!;
    if (r.index !== i - firstOf[c]! + 1) (x ??= {}).index = r.index;
    if (r.family !== familyOfChain[c]) (x ??= {}).family = r.family;
    if (x) core.ruleExtras.push([i, x]);
    if (typeof r.handle === 'number') handles = true;
  }
  for (let i = 0; i < 2 * nchains; i++) {
    offs[nrules + i] = at;
    at += nameChars[i]!;
  }
  offs[nrules + 2 * nchains] = at;
  const packed: Packed = {
    prefixed,
    handles,
    json: {
      core: JSON.stringify(core, replacer),
      ipvs: JSON.stringify(rs.ipvs ?? null, replacer),
      meta: JSON.stringify(meta ?? null),
      blob,
    },
  };
  return (
    assemble(rs, c, packed, { bytes: at, offs, assumesAscii: true }) ??
    assemble(rs, c, packed, exactText(rs, prefixed))!
  );
}

/** Lays out and writes the buffer; null when the text block assumed ASCII and some text was not. */
function assemble(rs: Ruleset, c: CompiledRuleset, p: Packed, text: TextBlock): SharedArrayBuffer | null {
  const nrules = rs.rules.length;
  const nchains = rs.chains.length;
  const rw = p.handles ? 4 : 3;
  const jsonBytes = {
    core: Buffer.byteLength(p.json.core, 'utf8'),
    ipvs: Buffer.byteLength(p.json.ipvs, 'utf8'),
    meta: Buffer.byteLength(p.json.meta, 'utf8'),
    blob: Buffer.byteLength(p.json.blob, 'utf8'),
  };
  const sizes: Record<Section, number> = {
    words: c.words.byteLength,
    rules: nrules * rw * 4,
    chains: nchains * CHAIN_META * 4,
    text: text.bytes,
    ...jsonBytes,
  };
  const at = {} as Record<Section, number>;
  let total = align8(SH_WORDS * 4);
  for (const s of SECTIONS) {
    at[s] = total;
    total = align8(total + sizes[s]);
  }
  const sab = new SharedArrayBuffer(total);
  const buf = Buffer.from(sab);
  const { offs } = text;
  const ascii = text.assumesAscii;
  // A non-ASCII part encodes to more bytes than its length, which the write below tells apart
  // from an ASCII one as long as 4 bytes follow the block (a cut-off write stops less than a
  // character short of the buffer's end).
  if (ascii && total - (at.text + text.bytes) < 4) return null;
  const rm = new Int32Array(sab, at.rules, nrules * rw);
  const ruleChain = rs.ruleChain;
  for (let i = 0; i < nrules; i++) {
    const r = rs.rules[i]! as Rule & { handle?: number };
    const b = i * rw;
    rm[b + RM_CHAIN] = ruleChain[i]!;
    rm[b + RM_LINE] = r.line;
    rm[b + RM_TEXT] = offs[i]! | (p.prefixed[i] ? PREFIXED : 0);
    if (rw > RM_HANDLE) rm[b + RM_HANDLE] = typeof r.handle === 'number' ? r.handle : -1;
    if (ascii) {
      // Each part straight into the buffer, no joined copy. When one is not ASCII (the write may
      // run on past the block, up to the buffer's end) this buffer is dropped and the whole form
      // redone with exactText.
      const s = ownText(r.text, p.prefixed[i] === 1, offs[i + 1]! - offs[i]!);
      if (buf.write(s, at.text + offs[i]!, 'utf8') !== s.length) return null;
    }
  }
  if (!ascii) buf.write(text.joined!, at.text, text.bytes, 'utf8');
  const hdr = new Int32Array(sab, 0, SH_WORDS);
  hdr[SH_MAGIC] = SHARED_MAGIC;
  hdr[SH_FORMAT] = SHARED_FORMAT;
  hdr[SH_LAYOUT] = LAYOUT_VERSION;
  hdr[SH_NRULES] = nrules;
  hdr[SH_NCHAINS] = nchains;
  hdr[SH_RULEW] = rw;
  SECTIONS.forEach((s, i) => {
    hdr[SH_WORDS_AT + 2 * i] = at[s];
    hdr[SH_WORDS_AT + 2 * i + 1] = sizes[s];
  });
  new Int32Array(sab, at.words, c.words.length).set(c.words);
  // JSON and the blob encoded straight into the buffer (no intermediate Buffer of each).
  for (const s of ['core', 'ipvs', 'meta', 'blob'] as const) buf.write(p.json[s], at[s], jsonBytes[s], 'utf8');

  const cm = new Int32Array(sab, at.chains, nchains * CHAIN_META);
  let next = 0;
  for (let i = 0; i < nchains; i++) {
    const ci = rs.chains[i]!;
    const { chain, family, source, tableId } = ci;
    const b = i * CHAIN_META;
    const n = nrules + 2 * i;
    if (ascii) {
      const table = String(ci.table);
      if (buf.write(chain.name, at.text + offs[n]!, 'utf8') !== chain.name.length) return null;
      if (buf.write(table, at.text + offs[n + 1]!, 'utf8') !== table.length) return null;
    }
    cm[b + CM_NAME] = offs[n]!;
    cm[b + CM_NAMELEN] = offs[n + 1]! - offs[n]!;
    cm[b + CM_TABLE] = offs[n + 1]!;
    cm[b + CM_TABLELEN] = offs[n + 2]! - offs[n + 1]!;
    cm[b + CM_FAMILY] = TABLE_FAMILIES.indexOf(family);
    cm[b + CM_SOURCE] = source === 'nft' ? 1 : 0;
    cm[b + CM_TABLEID] = tableId;
    cm[b + CM_LINE] = chain.line;
    cm[b + CM_POLICY] = !chain.builtin ? 0 : chain.policy === 'ACCEPT' ? 1 : chain.policy === 'DROP' ? 2 : 3;
    // numberRules numbers a chain's rules consecutively in chain order.
    cm[b + CM_FIRST] = next;
    cm[b + CM_COUNT] = chain.rules.length;
    next += chain.rules.length;
  }
  return sab;
}

/** True when the buffer is a shared form this build can read (else: recompile from the bytes). */
export function isCurrent(buf: SharedArrayBuffer | ArrayBuffer): boolean {
  if (buf.byteLength < SH_WORDS * 4) return false;
  const hdr = new Int32Array(buf, 0, SH_WORDS);
  return hdr[SH_MAGIC] === SHARED_MAGIC && hdr[SH_FORMAT] === SHARED_FORMAT && hdr[SH_LAYOUT] === LAYOUT_VERSION;
}

function checked(buf: SharedArrayBuffer | ArrayBuffer): Int32Array {
  if (!isCurrent(buf)) throw new Error('shared ruleset: wrong magic, format or layout version');
  return new Int32Array(buf, 0, SH_WORDS);
}

/** Where a section lies in the whole form (byte offset, byte length); the header alone settles it. */
export function sectionOf(buf: SharedArrayBuffer | ArrayBuffer, s: 'words' | 'blob'): { at: number; length: number } {
  const hdr = checked(buf);
  const i = SECTIONS.indexOf(s);
  return { at: hdr[SH_WORDS_AT + 2 * i]!, length: hdr[SH_WORDS_AT + 2 * i + 1]! };
}

/** Bytes of the resident part: everything before the words (see the header comment). */
export function residentBytes(buf: SharedArrayBuffer | ArrayBuffer): number {
  return sectionOf(buf, 'words').at;
}

/** True when `buf` holds the whole form (words and blob), not just its resident part. */
export function isWhole(buf: SharedArrayBuffer | ArrayBuffer): boolean {
  const b = sectionOf(buf, 'blob');
  return buf.byteLength >= b.at + b.length;
}

/** The resident part of a whole form, copied into its own buffer (the whole one can then be dropped). */
export function residentPart(sab: SharedArrayBuffer): SharedArrayBuffer {
  const n = residentBytes(sab);
  const out = new SharedArrayBuffer(n);
  new Uint8Array(out).set(new Uint8Array(sab, 0, n));
  return out;
}

/** The `blob` section as a view into a whole form (no copy, no decoding): bytes to send as they are. */
export function sharedBlob(sab: SharedArrayBuffer): Uint8Array {
  const { at, length } = sectionOf(sab, 'blob');
  if (sab.byteLength < at + length) throw new Error('shared ruleset: this is the resident part; the blob is in the whole form');
  return new Uint8Array(sab, at, length);
}

/** Reads a byte range of the whole form from wherever it is kept (the service: its file). */
export type ReadTail = (at: number, length: number) => Uint8Array;

/** A rule as answers see it: everything but matches and target. */
export type RuleView = Omit<Rule, 'matches' | 'target'> & { handle?: number };

export interface SharedView {
  compiled: CompiledRuleset;
  /**
   * A Ruleset for the drivers and the wasm engine's decoder: rules and chains are read from the
   * buffer on access (no per-rule objects are kept); the parsed object graph (tables, matches,
   * targets, ipsets) is absent and reading it throws.
   */
  ruleset: Ruleset;
  /** What packShared's caller put in `meta` (parsed on each call) and `blob` (decoded on each call). */
  meta(): unknown;
  blob(): string;
  /** Where the words lie in the whole form (bytes); with `{words: false}`, compiled.words is empty and the caller reads them from here. */
  wordsAt: number;
  wordBytes: number;
}

function noModel(what: string): never {
  throw new Error(`${what} is not in the shared compiled form (parse the dump for it)`);
}

/** Chain names cached per opened form (a power of two). */
const NAME_SLOTS = 4096;

/**
 * Reads a shared form; throws when it is not current (see isCurrent). A resident part needs `tail`
 * to read the words (once, here) and the blob (on each call) from the whole form. `words: false`
 * leaves the words where they are (compiled.words empty): the caller copies them from wordsAt.
 */
export function openShared(sab: SharedArrayBuffer, tail?: ReadTail, opts: { words?: boolean } = {}): SharedView {
  if (!isCurrent(sab)) throw new Error('shared ruleset: wrong magic, format or layout version');
  const hdr = new Int32Array(sab, 0, SH_WORDS);
  const nrules = hdr[SH_NRULES]!;
  const nchains = hdr[SH_NCHAINS]!;
  const sec = (s: Section): [number, number] => {
    const i = SECTIONS.indexOf(s);
    return [hdr[SH_WORDS_AT + 2 * i]!, hdr[SH_WORDS_AT + 2 * i + 1]!];
  };
  const buf = Buffer.from(sab);
  const json = (s: Section, revive = false): unknown => {
    const [at, len] = sec(s);
    return JSON.parse(buf.toString('utf8', at, at + len), revive ? reviver : undefined);
  };
  const [wordsAt, wordsLen] = sec('words');
  const [rulesAt] = sec('rules');
  const [chainsAt] = sec('chains');
  const [textAt] = sec('text');
  const rw = hdr[SH_RULEW]!;
  const rm = new Int32Array(sab, rulesAt, nrules * rw);
  const cm = new Int32Array(sab, chainsAt, nchains * CHAIN_META);
  const str = (off: number, len: number): string => buf.toString('utf8', textAt + off, textAt + off + len);
  const core = json('core', true) as Core;

  // Read by the reference walk's index only (a walk the wasm engine hands back): built on first use,
  // not in every open (650k rules at 20k services, in the open's one step that is not split).
  let ruleChain: Int32Array | undefined;
  const ruleChainOf = (): Int32Array => {
    if (!ruleChain) {
      ruleChain = new Int32Array(nrules);
      for (let i = 0; i < nrules; i++) ruleChain[i] = rm[i * rw + RM_CHAIN]!;
    }
    return ruleChain;
  };
  // Rule texts lie end to end, then the chain and table names.
  const [, textLen] = sec('text');
  const textsEnd = nchains > 0 ? cm[CM_NAME]! : textLen;
  const textStart = (i: number) => rm[i * rw + RM_TEXT]! & ~PREFIXED;
  // Names decoded once per slot of a small direct-mapped cache (a path repeats its chains, and
  // explain reads each rule's chain name), and table names once each (a ruleset has a handful).
  const nameIds = new Int32Array(NAME_SLOTS);
  const names: string[] = new Array<string>(NAME_SLOTS);
  const chainName = (c: number): string => {
    const slot = c & (NAME_SLOTS - 1);
    if (nameIds[slot] === c + 1) return names[slot]!;
    nameIds[slot] = c + 1;
    return (names[slot] = str(cm[c * CHAIN_META + CM_NAME]!, cm[c * CHAIN_META + CM_NAMELEN]!));
  };
  const tables = new Map<number, string>();
  const chainTable = (c: number): string => {
    const id = cm[c * CHAIN_META + CM_TABLEID]!;
    let t = tables.get(id);
    if (t === undefined) tables.set(id, (t = str(cm[c * CHAIN_META + CM_TABLE]!, cm[c * CHAIN_META + CM_TABLELEN]!)));
    return t;
  };

  const ruleExtras = new Map(core.ruleExtras);
  const chainExtras = new Map(core.chainExtras);
  const ruleAt = (i: number): RuleView => {
    const b = i * rw;
    const c = rm[b + RM_CHAIN]!;
    const at = textStart(i);
    const own = str(at, (i + 1 < nrules ? textStart(i + 1) : textsEnd) - at);
    const name = chainName(c);
    const v: RuleView = {
      line: rm[b + RM_LINE]!,
      text: rm[b + RM_TEXT]! & PREFIXED ? `-A ${name} ${own}` : own,
      table: chainTable(c),
      chain: name,
      index: i - cm[c * CHAIN_META + CM_FIRST]! + 1,
      family: familyOf(TABLE_FAMILIES[cm[c * CHAIN_META + CM_FAMILY]!]!),
    };
    if (rw > RM_HANDLE && rm[b + RM_HANDLE]! >= 0) v.handle = rm[b + RM_HANDLE]!;
    const x = ruleExtras.get(i);
    return x ? Object.assign(v, x) : v;
  };
  const chainAt = (c: number): ChainInfo => {
    const b = c * CHAIN_META;
    const pol = cm[b + CM_POLICY]!;
    const first = cm[b + CM_FIRST]!;
    const count = cm[b + CM_COUNT]!;
    const chain = {
      name: chainName(c),
      builtin: pol !== 0,
      line: cm[b + CM_LINE]!,
      get rules() {
        return Array.from({ length: count }, (_, k) => ruleAt(first + k)) as Rule[];
      },
    } as Chain;
    if (pol === 1) chain.policy = 'ACCEPT';
    if (pol === 2) chain.policy = 'DROP';
    const x = chainExtras.get(c);
    if (x) Object.assign(chain, x);
    return { chain, table: chainTable(c), family: TABLE_FAMILIES[cm[b + CM_FAMILY]!]!, source: cm[b + CM_SOURCE] === 1 ? 'nft' : 'iptables', tableId: cm[b + CM_TABLEID]! };
  };
  /** An array-like read through the buffer: index → a fresh object, nothing retained. */
  const lazyList = <T>(n: number, at: (i: number) => T): T[] =>
    new Proxy([] as T[], {
      get(target, key, recv) {
        if (key === 'length') return n;
        if (typeof key === 'string') {
          const i = Number(key);
          if (Number.isInteger(i) && i >= 0) return i < n ? at(i) : undefined;
        }
        return Reflect.get(target, key, recv);
      },
      has(target, key) {
        if (typeof key === 'string' && Number.isInteger(Number(key))) return Number(key) >= 0 && Number(key) < n;
        return Reflect.has(target, key);
      },
    });

  let ipvs: IpvsState | undefined | null = null;
  let chainIds: Map<string, number> | undefined;
  const ruleset = {
    rules: lazyList(nrules, ruleAt) as Rule[],
    chains: lazyList(nchains, chainAt),
    get ruleChain() {
      return ruleChainOf();
    },
    node: core.node as Ruleset['node'],
    warnings: core.warnings,
    registrations: core.registrations,
    get chainIds() {
      if (!chainIds) {
        chainIds = new Map();
        for (let c = 0; c < nchains; c++) {
          const fam = TABLE_FAMILIES[cm[c * CHAIN_META + CM_FAMILY]!]!;
          chainIds.set(chainKey(keyFamily(cm[c * CHAIN_META + CM_SOURCE] === 1 ? 'nft' : 'iptables', fam), chainTable(c), chainName(c)), c);
        }
      }
      return chainIds;
    },
    get ipvs() {
      // Parsed on first use: only IPVS-mode answers read it.
      if (ipvs === null) ipvs = (json('ipvs', true) as IpvsState | null) ?? undefined;
      return ipvs;
    },
    get v4() {
      return noModel('the parsed tables (v4)');
    },
    get v6() {
      return noModel('the parsed tables (v6)');
    },
    get ipsets() {
      return noModel('the ipset contents');
    },
    get ruleIds() {
      return noModel('rule objects (ruleIds)');
    },
    get nft() {
      return noModel('the parsed nft tables');
    },
  } as unknown as Ruleset;

  const whole = isWhole(sab);
  if (!whole && !tail) throw new Error('shared ruleset: a resident part opens only with a way to read its words');
  // The words are copied into the wasm instance, so a copy read from the file lives only until then.
  const words = opts.words === false ? new Int32Array(0) : whole ? new Int32Array(sab, wordsAt, wordsLen / 4) : tailWords(tail!(wordsAt, wordsLen));
  const compiled: CompiledRuleset = {
    words,
    strings: core.strings,
    recentLists: core.recentLists,
    ipvs: { reals: core.ipvsReals, byEndpoint: new Map(core.ipvsByEndpoint), ok: core.ipvsOk },
    stats: core.stats,
  };
  const [blobAt, blobLen] = sec('blob');
  const blob = (): string => (whole ? buf.toString('utf8', blobAt, blobAt + blobLen) : Buffer.from(tail!(blobAt, blobLen)).toString('utf8'));
  return { compiled, ruleset, meta: () => json('meta'), blob, wordsAt, wordBytes: wordsLen };
}

function tailWords(bytes: Uint8Array): Int32Array {
  // Int32 views need 4-byte alignment; a Buffer from a file read may sit at any offset.
  if (bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Int32Array(Uint8Array.from(bytes).buffer);
}

/** A rule's family as its table's: iptables tables are 4 / 6, nft tables keep their family name. */
function familyOf(t: TableFamily): Family | 'inet' {
  return t === 'ip' ? 4 : t === 'ip6' ? 6 : 'inet';
}
