// `nft list ruleset` / `nft list table …` text (with or without `nft -a` handles) → NftRuleset.
//
// API (stable; other modules build on it):
//   parseNftText(text, { lenient?, source? }) → { ruleset: NftRuleset, warnings: NftWarning[] }
//   throws ParseError (line, column) on malformed input.
//
// Statements and expressions come out in libnftables-json form (src/model/nft.ts), exactly as
// `nft -j list ruleset` prints the same rule set, so one lowering reads both. The listing's own
// rewrites are undone here: `dstnat - 10` → -110, `3h` → 10800, `tcp flags syn / syn,ack` →
// `tcp flags & (syn|ack) == syn`, `dnat ip to numgen … map {…}` → a dnat whose address is the map,
// `10.180.0.1:80` → {addr, port}. Every rule, set element and map element keeps its listing line.
// An expression this parser does not know is kept as `{"unknown": "text"}` (the rest of the
// statement up to the rule's verdict), never dropped: the lowering reports it as uncertain.

import type { NftBase, NftChain, NftElem, NftExpr, NftFamily, NftRule, NftRuleset, NftSet, NftTable, NftWarning } from '../model/nft.js';
import { NFT_BRIDGE_PRIORITIES, NFT_FAMILIES, NFT_PRIORITIES } from '../model/nft.js';
import { ParseError, quote } from './errors.js';

export interface NftParseOptions {
  /** Skippable problems become warnings (unknown table objects, unknown set properties). */
  lenient?: boolean;
  /** Name of the input in error messages (default "nftables"). */
  source?: string;
}

export interface NftParsed {
  ruleset: NftRuleset;
  warnings: NftWarning[];
}

type TokKind = 'word' | 'str' | 'punct' | 'nl' | 'handle';
interface Tok {
  k: TokKind;
  v: string;
  line: number;
  col: number;
}

const PUNCT = new Set(['{', '}', '(', ')', ';', ',']);

/** Splits the listing into words, quoted strings, punctuation and newlines; `# handle N` is kept. */
function tokenize(text: string, source: string): Tok[] {
  const toks: Tok[] = [];
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      if (toks.length && toks[toks.length - 1].k !== 'nl') toks.push({ k: 'nl', v: '\n', line, col: i - lineStart + 1 });
      line++;
      lineStart = i + 1;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const col = i - lineStart + 1;
    if (c === '#') {
      let j = text.indexOf('\n', i);
      if (j < 0) j = n;
      const m = /^#\s*handle\s+(\d+)\s*$/.exec(text.slice(i, j));
      if (m) toks.push({ k: 'handle', v: m[1], line, col });
      i = j;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < n && text[j] !== '"') {
        if (text[j] === '\n') throw new ParseError('unterminated quoted string', line, col, source, text.slice(lineStart, text.indexOf('\n', lineStart) >>> 0));
        if (text[j] === '\\' && j + 1 < n) {
          s += text[j + 1];
          j += 2;
          continue;
        }
        s += text[j++];
      }
      if (j >= n) throw new ParseError('unterminated quoted string', line, col, source);
      toks.push({ k: 'str', v: s, line, col });
      i = j + 1;
      continue;
    }
    if (PUNCT.has(c)) {
      toks.push({ k: 'punct', v: c, line, col });
      i++;
      continue;
    }
    let j = i;
    while (j < n) {
      const d = text[j];
      if (d === ' ' || d === '\t' || d === '\n' || d === '\r' || d === '"' || PUNCT.has(d)) break;
      j++;
    }
    toks.push({ k: 'word', v: text.slice(i, j), line, col });
    i = j;
  }
  return toks;
}

const PAYLOAD_PROTOS = new Set([
  'ip', 'ip6', 'tcp', 'udp', 'udplite', 'sctp', 'dccp', 'th', 'icmp', 'icmpv6', 'igmp', 'ether', 'vlan', 'arp', 'ah', 'esp', 'comp', 'gre', 'vxlan', 'geneve',
]);
const PAYLOAD_FIELDS: Record<string, ReadonlySet<string>> = {
  ip: new Set(['version', 'hdrlength', 'dscp', 'ecn', 'length', 'id', 'frag-off', 'ttl', 'protocol', 'checksum', 'saddr', 'daddr']),
  ip6: new Set(['version', 'dscp', 'ecn', 'flowlabel', 'length', 'nexthdr', 'hoplimit', 'saddr', 'daddr']),
  tcp: new Set(['sport', 'dport', 'sequence', 'ackseq', 'doff', 'reserved', 'flags', 'window', 'checksum', 'urgptr']),
  udp: new Set(['sport', 'dport', 'length', 'checksum']),
  udplite: new Set(['sport', 'dport', 'checksum']),
  sctp: new Set(['sport', 'dport', 'vtag', 'checksum']),
  dccp: new Set(['sport', 'dport', 'type']),
  th: new Set(['sport', 'dport']),
  icmp: new Set(['type', 'code', 'checksum', 'id', 'sequence', 'gateway', 'mtu']),
  icmpv6: new Set(['type', 'code', 'checksum', 'parameter-problem', 'packet-too-big', 'id', 'sequence', 'max-delay']),
  igmp: new Set(['type', 'mrt', 'checksum', 'group']),
  ether: new Set(['saddr', 'daddr', 'type']),
  vlan: new Set(['id', 'cfi', 'dei', 'pcp', 'type']),
  arp: new Set(['htype', 'ptype', 'hlen', 'plen', 'operation', 'saddr', 'daddr']),
  ah: new Set(['nexthdr', 'hdrlength', 'reserved', 'spi', 'sequence']),
  esp: new Set(['spi', 'sequence']),
  comp: new Set(['nexthdr', 'flags', 'cpi']),
  gre: new Set(['flags', 'version', 'protocol']),
  vxlan: new Set(['flags', 'vni']),
  geneve: new Set(['vni', 'type']),
};
const META_KEYS = new Set([
  'length', 'nfproto', 'l4proto', 'protocol', 'priority', 'mark', 'iif', 'iifname', 'iiftype', 'oif', 'oifname', 'oiftype', 'skuid', 'skgid',
  'nftrace', 'rtclassid', 'ibrname', 'obrname', 'ibriport', 'obriport', 'ibrpvid', 'ibrvproto', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup',
  'random', 'ipsec', 'iifkind', 'oifkind', 'time', 'day', 'hour', 'secmark', 'secpath', 'sdif', 'sdifname', 'broute',
]);
/** Meta keys the listing prints without `meta`. */
const BARE_META = new Set(['mark', 'iif', 'iifname', 'iiftype', 'oif', 'oifname', 'oiftype', 'skuid', 'skgid', 'nftrace', 'rtclassid', 'ibrname', 'obrname', 'ibriport', 'obriport', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'ipsec', 'priority']);
const CT_KEYS = new Set([
  'state', 'direction', 'status', 'mark', 'expiration', 'helper', 'l3proto', 'saddr', 'daddr', 'protocol', 'proto-src', 'proto-dst', 'label',
  'bytes', 'packets', 'avgpkt', 'zone', 'event', 'secmark', 'id', 'count',
]);
/** Keys whose implicit comparison is a bit test (libnftables prints `"op": "in"`). */
const BITMASK_CT = new Set(['state', 'status', 'event']);
const VERDICTS = new Set(['accept', 'drop', 'continue', 'return']);
const FIB_FLAGS = new Set(['saddr', 'daddr', 'mark', 'iif', 'oif']);
const FIB_RESULTS = new Set(['oif', 'oifname', 'type']);
const BINOPS = new Set(['&', '|', '^', '<<', '>>']);
const RELOPS = new Set(['==', '!=', '<', '>', '<=', '>=', 'eq', 'ne', 'lt', 'gt', 'le', 'ge']);
const RELOP_NAME: Record<string, string> = { eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=' };
/** Statements that start with a keyword (everything else starts with an expression). */
const STMT_WORDS = new Set([
  'accept', 'drop', 'continue', 'return', 'jump', 'goto', 'queue', 'counter', 'log', 'limit', 'quota', 'notrack', 'reject', 'masquerade', 'snat', 'dnat',
  'redirect', 'update', 'add', 'delete', 'xt', 'comment', 'meter', 'flow', 'dup', 'fwd', 'tproxy', 'synproxy', 'ct', 'meta', 'mark',
]);

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** `3h`, `2h59m59s972ms`, `10800s` → seconds (whole, as `nft -j` prints them); null when not a duration. */
export function parseDuration(s: string): number | null {
  if (/^\d+$/.test(s)) return Number(s);
  const m = DURATION.exec(s);
  if (!m || s === '') return null;
  const [, d, h, mi, se] = m;
  return (Number(d ?? 0) * 86400) + (Number(h ?? 0) * 3600) + (Number(mi ?? 0) * 60) + Number(se ?? 0);
}

function isAddr(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (/^[0-9a-fA-F:.]+$/.test(s) && s.includes(':'));
}

/** One value token in libnftables-json form: numbers, prefixes, ranges, else the string. */
export function valueOf(s: string): NftExpr {
  if (/^\d+$/.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s, 16);
  const slash = s.indexOf('/');
  if (slash > 0 && isAddr(s.slice(0, slash)) && /^\d+$/.test(s.slice(slash + 1))) {
    return { prefix: { addr: s.slice(0, slash), len: Number(s.slice(slash + 1)) } };
  }
  const dash = rangeSplit(s);
  if (dash) return { range: [valueOf(dash[0]), valueOf(dash[1])] };
  return s;
}

/** `a-b` where both sides are numbers or addresses (names like `echo-request` are not ranges). */
function rangeSplit(s: string): [string, string] | null {
  const i = s.indexOf('-');
  if (i <= 0) return null;
  const a = s.slice(0, i);
  const b = s.slice(i + 1);
  const num = /^(\d+|0x[0-9a-fA-F]+)$/;
  if ((num.test(a) && num.test(b)) || (isAddr(a) && isAddr(b))) return [a, b];
  return null;
}

/**
 * A cursor over tokens, shared by the document parser (whose tokens include newlines) and the
 * rule parser (one rule's tokens, newlines removed). They differ only in how running out is
 * reported: `fail(message, undefined)` is the subclass's, and `endMessage`/`endFound` say it.
 */
abstract class Cursor {
  protected p = 0;
  constructor(protected toks: Tok[]) {}

  /** Throws a ParseError at token t; t undefined: past the last token. */
  protected abstract fail(message: string, t: Tok | undefined): never;
  /** The error when a token is needed and none is left. */
  protected abstract readonly endMessage: string;
  /** Appended to "expected X" when none is left ('' or ' at the end of the rule'). */
  protected abstract readonly endFound: string;

  protected peek(o = 0): Tok | undefined {
    return this.toks[this.p + o];
  }
  protected next(): Tok {
    const t = this.toks[this.p];
    if (!t) this.fail(this.endMessage, undefined);
    this.p++;
    return t;
  }
  protected is(v: string, o = 0): boolean {
    const t = this.toks[this.p + o];
    return !!t && t.k !== 'str' && t.k !== 'nl' && t.v === v;
  }
  protected eat(v: string): boolean {
    if (this.is(v)) {
      this.p++;
      return true;
    }
    return false;
  }
  protected expect(v: string): Tok {
    const t = this.peek();
    if (!t || t.k === 'nl' || t.k === 'str' || t.v !== v) this.fail(`expected ${quote(v)}${t ? `, found ${t.k === 'nl' ? 'end of line' : quote(t.v)}` : this.endFound}`, t);
    return this.next();
  }
  /** A name: a word or a quoted string. */
  protected name(what: string): string {
    const t = this.peek();
    if (!t || (t.k !== 'word' && t.k !== 'str')) this.fail(`expected ${what}`, t);
    this.p++;
    return t.v;
  }
}

class TextParser extends Cursor {
  private lines: string[] = [];
  private readonly warnings: NftWarning[] = [];
  private family: NftFamily = 'ip';
  private readonly source: string;
  private readonly lenient: boolean;

  protected readonly endMessage = 'unexpected end of input';
  protected readonly endFound = '';

  constructor(opts: NftParseOptions) {
    super([]);
    this.source = opts.source ?? 'nftables';
    this.lenient = !!opts.lenient;
  }

  run(text: string): NftParsed {
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      const before = text.slice(0, nul);
      throw new ParseError('binary data (NUL byte) in input', before.split('\n').length, nul - before.lastIndexOf('\n'), this.source);
    }
    this.lines = text.split('\n');
    this.toks = tokenize(text, this.source);
    const tables: NftTable[] = [];
    for (;;) {
      this.skipNl();
      const t = this.peek();
      if (!t) break;
      if (t.k === 'word' && t.v === 'table') tables.push(this.table());
      else this.fail(`expected "table", found ${quote(t.v)}`, t);
    }
    return { ruleset: { format: 'text', tables }, warnings: this.warnings };
  }

  // ---- token helpers (besides Cursor's) ------------------------------------------------------

  private skipNl(): void {
    while (this.toks[this.p]?.k === 'nl') this.p++;
  }
  private atEol(): boolean {
    const t = this.peek();
    return !t || t.k === 'nl' || (t.k === 'punct' && t.v === '}');
  }
  protected fail(message: string, t: Tok | undefined): never {
    if (!t) this.failEnd(message);
    throw new ParseError(message, t.line, t.col, this.source, this.lines[t.line - 1]);
  }
  private failEnd(message: string): never {
    const line = this.lines.length;
    throw new ParseError(message, line, (this.lines[line - 1]?.length ?? 0) + 1, this.source);
  }
  private warn(message: string, t: Tok | undefined): void {
    if (this.warnings.length < 1000) this.warnings.push({ line: t?.line ?? 0, column: t?.col ?? 0, message });
  }
  private soft(message: string, t: Tok | undefined): void {
    if (!this.lenient) this.fail(message, t);
    this.warn(message, t);
  }
  private handle(): number | undefined {
    const t = this.peek();
    if (t?.k === 'handle') {
      this.p++;
      return Number(t.v);
    }
    return undefined;
  }
  private number(what: string): number {
    const t = this.next();
    const v = t.k === 'word' ? valueOf(t.v) : null;
    if (typeof v !== 'number') this.fail(`expected ${what} (a number), found ${quote(t.v)}`, t);
    return v;
  }

  /** Skips a `{ … }` block (nested), returning after its closing brace. */
  private skipBlock(): void {
    this.expect('{');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.k === 'punct' && t.v === '{') depth++;
      else if (t.k === 'punct' && t.v === '}') depth--;
    }
  }

  // ---- containers ------------------------------------------------------------------------------

  private table(): NftTable {
    const kw = this.next();
    let family: NftFamily = 'ip';
    const a = this.peek();
    if (a && a.k === 'word' && (NFT_FAMILIES as readonly string[]).includes(a.v) && !this.is('{', 1)) {
      family = a.v as NftFamily;
      this.p++;
    }
    this.family = family;
    const name = this.name('a table name');
    this.expect('{');
    const table: NftTable = { family, name, line: kw.line, chains: [], sets: [] };
    table.handle = this.handle();
    for (;;) {
      this.skipNl();
      const t = this.peek();
      if (!t) this.failEnd(`table ${quote(name)} is not closed (missing "}")`);
      if (t.k === 'punct' && t.v === '}') {
        this.p++;
        break;
      }
      if (t.k !== 'word') this.fail(`unexpected ${quote(t.v)} in table ${quote(name)}`, t);
      switch (t.v) {
        case 'chain':
          table.chains.push(this.chain());
          break;
        case 'set':
        case 'map':
          table.sets.push(this.set());
          break;
        case 'comment':
          this.p++;
          table.comment = this.name('a comment string');
          break;
        case 'flags':
          this.p++;
          table.flags = this.flagList();
          break;
        case 'flowtable': case 'counter': case 'quota': case 'limit': case 'secmark': case 'synproxy': case 'ct': {
          // Stateful objects and flowtables do not decide where a packet goes by themselves.
          this.p++;
          while (!this.is('{')) this.next();
          this.skipBlock();
          this.warn(`${t.v} objects are not modelled; skipped`, t);
          break;
        }
        default:
          this.fail(`unexpected ${quote(t.v)} in table ${quote(name)} (expected chain, set, map)`, t);
      }
    }
    return table;
  }

  private flagList(): string[] {
    const out = [this.name('a flag')];
    while (this.eat(',')) out.push(this.name('a flag'));
    return out;
  }

  private chain(): NftChain {
    const kw = this.next();
    const name = this.name('a chain name');
    this.expect('{');
    const chain: NftChain = { name, line: kw.line, rules: [] };
    chain.handle = this.handle();
    for (;;) {
      this.skipNl();
      const t = this.peek();
      if (!t) this.failEnd(`chain ${quote(name)} is not closed (missing "}")`);
      if (t.k === 'punct' && t.v === '}') {
        this.p++;
        break;
      }
      if (t.k === 'word' && t.v === 'type' && chain.rules.length === 0 && !chain.base) {
        chain.base = this.baseSpec();
        continue;
      }
      if (t.k === 'word' && t.v === 'comment' && chain.rules.length === 0 && this.peek(1)?.k === 'str' && (this.peek(2)?.k === 'nl' || this.is('}', 2))) {
        this.p++;
        chain.comment = this.next().v;
        continue;
      }
      if (t.k === 'word' && t.v === 'policy' && chain.base && chain.rules.length === 0) {
        this.p++;
        chain.base.policy = this.policy();
        this.eat(';');
        continue;
      }
      chain.rules.push(this.rule());
    }
    return chain;
  }

  private policy(): 'accept' | 'drop' {
    const t = this.next();
    if (t.v !== 'accept' && t.v !== 'drop') this.fail(`policy must be accept or drop, not ${quote(t.v)}`, t);
    return t.v;
  }

  /** `type filter hook input [device X] priority P; [policy accept;]` */
  private baseSpec(): NftBase {
    this.expect('type');
    const type = this.name('a chain type');
    this.expect('hook');
    const hookTok = this.next();
    const hook = hookTok.v;
    let device: string | undefined;
    if (this.eat('device')) device = this.name('a device name');
    if (this.eat('devices')) {
      this.expect('=');
      this.skipBlock();
    }
    this.expect('priority');
    const prio = this.priority(hook);
    this.eat(';');
    let policy: 'accept' | 'drop' = 'accept';
    if (this.eat('policy')) {
      policy = this.policy();
      this.eat(';');
    }
    const base: NftBase = { type, hook, prio, policy };
    if (device !== undefined) base.device = device;
    return base;
  }

  /** A priority: a number, or a standard name with an optional `+ N` / `- N`. */
  private priority(hook: string): number {
    const t = this.next();
    let base: number;
    const v = valueOf(t.v);
    if (typeof v === 'number') base = v;
    else if (/^-\d+$/.test(t.v)) base = Number(t.v);
    else {
      const table = this.family === 'bridge' ? NFT_BRIDGE_PRIORITIES : NFT_PRIORITIES;
      if (!Object.hasOwn(table, t.v)) this.fail(`unknown priority ${quote(t.v)}`, t);
      base = table[t.v];
      void hook;
    }
    if (this.is('+') || this.is('-')) {
      const sign = this.next().v === '+' ? 1 : -1;
      base += sign * this.number('a priority offset');
    }
    return base;
  }

  private set(): NftSet {
    const kw = this.next();
    const kind = kw.v as 'set' | 'map';
    const name = this.name(`a ${kind} name`);
    this.expect('{');
    const set: NftSet = { name, kind, line: kw.line, type: [], flags: [], elems: [] };
    set.handle = this.handle();
    for (;;) {
      this.skipNl();
      const t = this.peek();
      if (!t) this.failEnd(`${kind} ${quote(name)} is not closed (missing "}")`);
      if (t.k === 'punct' && t.v === '}') {
        this.p++;
        break;
      }
      if (t.k === 'punct' && t.v === ';') {
        this.p++;
        continue;
      }
      this.p++;
      switch (t.v) {
        case 'type': {
          set.type = [this.name('a type')];
          while (this.eat('.')) set.type.push(this.name('a type'));
          if (kind === 'map') {
            this.expect(':');
            set.map = [this.name('a data type')];
            while (this.eat('.')) set.map.push(this.name('a data type'));
          }
          break;
        }
        case 'typeof': {
          set.typeof = this.concatExpr();
          set.type = [];
          if (kind === 'map') {
            this.expect(':');
            const d = this.concatExpr();
            set.map = [JSON.stringify(d)];
          }
          break;
        }
        case 'flags':
          set.flags = this.flagList();
          break;
        case 'timeout':
        case 'gc-interval': {
          const d = this.next();
          const s = parseDuration(d.v);
          if (s === null) this.fail(`malformed duration ${quote(d.v)}`, d);
          if (t.v === 'timeout') set.timeout = s;
          break;
        }
        case 'size':
          set.size = this.number('a size');
          break;
        case 'policy':
          this.next();
          break;
        case 'comment':
          set.comment = this.name('a comment string');
          break;
        case 'auto-merge':
          break;
        case 'counter':
          break;
        case 'elements':
          this.expect('=');
          set.elems = this.elements(kind === 'map');
          break;
        default:
          this.soft(`unknown ${kind} property ${quote(t.v)}`, t);
          while (!this.atEol()) this.next();
      }
    }
    return set;
  }

  /** `{ elem, elem, … }` across lines; each element keeps the line it starts on. */
  private elements(isMap: boolean): NftElem[] {
    this.expect('{');
    const out: NftElem[] = [];
    for (;;) {
      this.skipNl();
      if (this.eat('}')) break;
      const start = this.peek();
      const key = this.concatValue();
      const el: NftElem = { key, line: start?.line ?? 0 };
      this.elemOptions(el);
      if (isMap) {
        this.expect(':');
        el.data = this.mapData();
      }
      out.push(el);
      this.skipNl();
      if (this.eat(',')) continue;
      this.skipNl();
      if (this.eat('}')) break;
      this.fail('expected "," or "}" after an element', this.peek());
    }
    return out;
  }

  private elemOptions(el: { timeout?: number; expires?: number; comment?: string }): void {
    for (;;) {
      if (this.eat('timeout') || this.eat('expires')) {
        const kw = this.toks[this.p - 1].v;
        const d = this.next();
        const s = parseDuration(d.v);
        if (s === null) this.fail(`malformed duration ${quote(d.v)}`, d);
        if (kw === 'timeout') el.timeout = s;
        else el.expires = s;
      } else if (this.is('comment') && this.peek(1)?.k === 'str') {
        this.p++;
        el.comment = this.next().v;
      } else if (this.eat('counter')) {
        if (this.eat('packets')) {
          this.next();
          this.expect('bytes');
          this.next();
        }
      } else return;
    }
  }

  /** A map element's data: a verdict, or a value / concatenation. */
  private mapData(): NftExpr {
    const t = this.peek();
    if (t?.k === 'word') {
      if (VERDICTS.has(t.v)) {
        this.p++;
        return { [t.v]: null };
      }
      if (t.v === 'jump' || t.v === 'goto') {
        this.p++;
        return { [t.v]: { target: this.name('a chain name') } };
      }
    }
    return this.concatValue();
  }

  // ---- rules -----------------------------------------------------------------------------------

  private rule(): NftRule {
    const first = this.peek()!;
    const line = first.line;
    // The rule's own tokens: up to the end of the line, but a `{ … }` may span lines.
    const start = this.p;
    let depth = 0;
    let end = start;
    let handle: number | undefined;
    for (; end < this.toks.length; end++) {
      const t = this.toks[end];
      if (t.k === 'punct' && t.v === '{') depth++;
      else if (t.k === 'punct' && t.v === '}') {
        if (depth === 0) break;
        depth--;
      } else if (t.k === 'nl' && depth === 0) break;
      else if (t.k === 'handle') handle = Number(t.v);
    }
    const toks = this.toks.slice(start, end).filter((t) => t.k !== 'nl' && t.k !== 'handle');
    const lastTok = toks[toks.length - 1];
    let text: string;
    if (lastTok && lastTok.line === line) {
      const src = this.lines[line - 1];
      const hashAt = handle !== undefined ? src.lastIndexOf('# handle') : -1;
      text = (hashAt >= 0 ? src.slice(first.col - 1, hashAt) : src.slice(first.col - 1)).trim();
    } else {
      text = toks.map((t) => (t.k === 'str' ? JSON.stringify(t.v) : t.v)).join(' ');
    }
    this.p = end;
    const rule: NftRule = { line, text, expr: [] };
    if (handle !== undefined) rule.handle = handle;
    const sub = new RuleParser(toks, this, this.family);
    try {
      sub.parse(rule);
    } catch (e) {
      // Lenient: a rule this parser cannot read is kept whole as an unknown statement (the walk
      // reports it as uncertain), never dropped.
      if (!this.lenient || !(e instanceof ParseError)) throw e;
      this.warn(`${e.detail}; the rule is kept as uncertain`, { k: 'word', v: '', line: e.line, col: e.column });
      rule.expr = [{ unparsed: rule.text }];
      delete rule.comment;
    }
    return rule;
  }

  // Set/map element syntax shares the value parser with rules.
  private concatValue(): NftExpr {
    const toks: Tok[] = [];
    // Collect the element's tokens: up to `,` / `}` / `:` at depth 0, or an element option.
    let depth = 0;
    while (this.p < this.toks.length) {
      const t = this.toks[this.p];
      if (t.k === 'nl') {
        if (depth === 0) break;
        this.p++;
        continue;
      }
      if (depth === 0 && t.k === 'punct' && (t.v === ',' || t.v === '}')) break;
      if (depth === 0 && t.k === 'word' && (t.v === ':' || t.v === 'timeout' || t.v === 'expires' || t.v === 'counter')) break;
      if (depth === 0 && t.k === 'word' && t.v === 'comment' && this.toks[this.p + 1]?.k === 'str') break;
      if (t.k === 'punct' && t.v === '{') depth++;
      if (t.k === 'punct' && t.v === '}') depth--;
      toks.push(t);
      this.p++;
    }
    if (toks.length === 0) this.fail('expected an element', this.peek());
    return new RuleParser(toks, this, this.family).valueOnly();
  }

  private concatExpr(): NftExpr {
    const toks: Tok[] = [];
    while (this.p < this.toks.length) {
      const t = this.toks[this.p];
      if (t.k === 'nl' || (t.k === 'punct' && (t.v === ';' || t.v === '}')) || (t.k === 'word' && t.v === ':')) break;
      toks.push(t);
      this.p++;
    }
    return new RuleParser(toks, this, this.family).exprOnly();
  }

  /** Errors from the rule parser (keeps one error path). */
  failAt(message: string, t: Tok | undefined): never {
    this.fail(message, t);
  }
  warnAt(message: string, t: Tok | undefined): void {
    this.warn(message, t);
  }
}

/** Parses the statements of one rule (its tokens, without newlines). */
class RuleParser extends Cursor {
  protected readonly endMessage = 'unexpected end of rule';
  protected readonly endFound = ' at the end of the rule';

  constructor(
    toks: Tok[],
    private readonly owner: TextParser,
    private readonly family: NftFamily,
  ) {
    super(toks);
  }

  /** Errors go through the document parser (one error path); past the end: at the rule's last token. */
  protected fail(message: string, t: Tok | undefined): never {
    this.owner.failAt(message, t ?? this.toks[this.toks.length - 1]);
  }

  private done(): boolean {
    return this.p >= this.toks.length;
  }
  private numberTok(what: string): number {
    const t = this.next();
    const v = valueOf(t.v);
    if (typeof v !== 'number') this.fail(`expected ${what} (a number), found ${quote(t.v)}`, t);
    return v;
  }

  valueOnly(): NftExpr {
    const v = this.concatOfValues();
    if (!this.done()) this.fail(`unexpected ${quote(this.peek()!.v)} in an element`, this.peek());
    return v;
  }

  exprOnly(): NftExpr {
    const e = this.concat();
    if (!this.done()) this.fail(`unexpected ${quote(this.peek()!.v)}`, this.peek());
    return e;
  }

  parse(rule: NftRule): void {
    while (!this.done()) {
      const t = this.peek()!;
      if (t.k === 'word' && t.v === 'comment' && this.peek(1)?.k === 'str') {
        this.p += 2;
        rule.comment = this.toks[this.p - 1].v;
        continue;
      }
      rule.expr.push(this.statement());
    }
  }

  private statement(): NftExpr {
    const t = this.peek()!;
    if (t.k === 'word') {
      switch (t.v) {
        case 'accept': case 'drop': case 'continue': case 'return':
          this.p++;
          return { [t.v]: null };
        case 'jump': case 'goto':
          this.p++;
          return { [t.v]: { target: this.name('a chain name') } };
        case 'counter': {
          this.p++;
          if (this.eat('packets')) {
            const packets = this.numberTok('a packet count');
            this.expect('bytes');
            const bytes = this.numberTok('a byte count');
            return { counter: { packets, bytes } };
          }
          if (this.eat('name')) return { counter: this.name('a counter name') };
          return { counter: { packets: 0, bytes: 0 } };
        }
        case 'notrack':
          this.p++;
          return { notrack: null };
        case 'log':
          return this.log();
        case 'limit':
          return this.limit();
        case 'quota':
          return this.quota();
        case 'reject':
          return this.reject();
        case 'masquerade': case 'snat': case 'dnat': case 'redirect':
          return this.nat();
        case 'update': case 'add': case 'delete':
          if (this.peek(1)?.v.startsWith('@')) return this.setStmt();
          break;
        case 'xt': {
          this.p++;
          const type = this.name('match or target');
          const name = this.name('an xt name');
          return { xt: { type, name } };
        }
      }
    }
    // An expression statement: a relation, a verdict map, or `EXPR set VALUE`.
    const start = this.p;
    const left = this.concat();
    if (left !== null && typeof left === 'object' && 'unknown' in left) return left;
    if (this.eat('vmap')) return { vmap: { key: left, data: this.rhs() } };
    if (this.eat('set')) return { mangle: { key: left, value: this.valueExpr() } };
    let op = '==';
    let implicit = true;
    const o = this.peek();
    if (o && o.k === 'word' && RELOPS.has(o.v)) {
      op = RELOP_NAME[o.v] ?? o.v;
      implicit = false;
      this.p++;
    }
    if (this.done()) this.fail('expected a value to compare with', this.toks[this.p - 1] ?? this.toks[start]);
    let right = this.rhs();
    let l = left;
    // `tcp flags syn / syn,ack`: the listing's form of `tcp flags & (syn|ack) == syn`.
    if (this.eat('/')) {
      l = { '&': [left, this.flagValue()] };
      implicit = false;
    }
    if (implicit && this.isBitmask(left) && (typeof right === 'string' || Array.isArray(right))) op = 'in';
    return { match: { op, left: l, right } };
  }

  private isBitmask(e: NftExpr): boolean {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return false;
    const ct = (e as { ct?: { key?: string } }).ct;
    if (ct && BITMASK_CT.has(ct.key ?? '')) return true;
    const pl = (e as { payload?: { protocol?: string; field?: string } }).payload;
    return !!pl && pl.protocol === 'tcp' && pl.field === 'flags';
  }

  /** The right side of a relation or a vmap: `{ … }`, `@set`, a value, a flag list, a concatenation. */
  private rhs(): NftExpr {
    if (this.is('{')) return this.anonSet();
    const t = this.peek();
    if (t && t.k === 'word' && t.v.startsWith('@')) {
      this.p++;
      return t.v;
    }
    const v = this.concatOfValues();
    if (this.is(',')) {
      const list: NftExpr[] = [v];
      while (this.eat(',')) list.push(this.simpleValue());
      return list;
    }
    return v;
  }

  /** `(fin|syn|rst|ack)`: older listings' flag combination → the JSON list of names. */
  private orList(): NftExpr {
    this.expect('(');
    const out: NftExpr[] = [];
    for (;;) {
      const t = this.next();
      for (const part of t.v.split('|')) if (part !== '') out.push(valueOf(part));
      if (this.eat(')')) break;
      if (this.done()) this.fail('expected ")"', t);
    }
    return out.length === 1 ? out[0] : out;
  }

  private flagValue(): NftExpr {
    const v = this.simpleValue();
    if (!this.is(',')) return v;
    const list: NftExpr[] = [v];
    while (this.eat(',')) list.push(this.simpleValue());
    return list;
  }

  /** `{ a, b : verdict, c . d }` → {"set": [...]} with map elements as [key, data]. */
  private anonSet(): NftExpr {
    this.expect('{');
    const items: NftExpr[] = [];
    while (!this.eat('}')) {
      let key = this.concatOfValues();
      const opts: { timeout?: number; expires?: number; comment?: string } = {};
      while (this.is('timeout') || this.is('expires') || (this.is('comment') && this.peek(1)?.k === 'str')) {
        const kw = this.next().v;
        if (kw === 'comment') opts.comment = this.next().v;
        else {
          const d = this.next();
          const s = parseDuration(d.v);
          if (s === null) this.fail(`malformed duration ${quote(d.v)}`, d);
          if (kw === 'timeout') opts.timeout = s;
          else opts.expires = s;
        }
      }
      if (Object.keys(opts).length) key = { elem: { val: key, ...opts } };
      if (this.eat(':')) {
        const t = this.peek();
        let data: NftExpr;
        if (t && t.k === 'word' && VERDICTS.has(t.v)) {
          this.p++;
          data = { [t.v]: null };
        } else if (t && t.k === 'word' && (t.v === 'jump' || t.v === 'goto')) {
          this.p++;
          data = { [t.v]: { target: this.name('a chain name') } };
        } else data = this.concatOfValues();
        items.push([key, data]);
      } else items.push(key);
      if (this.eat(',')) continue;
      if (!this.is('}')) this.fail('expected "," or "}" in a set', this.peek());
    }
    return { set: items };
  }

  /** Values joined by ` . `. */
  private concatOfValues(): NftExpr {
    const first = this.simpleValue();
    if (!this.is('.')) return first;
    const items: NftExpr[] = [first];
    while (this.eat('.')) items.push(this.simpleValue());
    return { concat: items };
  }

  private simpleValue(): NftExpr {
    const t = this.next();
    if (t.k === 'str') return t.v;
    if (t.k === 'punct') this.fail(`unexpected ${quote(t.v)} where a value belongs`, t);
    return valueOf(t.v);
  }

  /** A value that may also be an expression (mangle values, nat addresses): `meta mark | 0x4000`, `tcp dport map @m`. */
  private valueExpr(): NftExpr {
    let e: NftExpr;
    if (this.startsExpr()) e = this.binop();
    else if (this.is('{')) e = this.anonSet();
    else e = this.concatOfValues();
    if (this.eat('map')) e = { map: { key: e, data: this.rhs() } };
    return e;
  }

  private startsExpr(): boolean {
    const t = this.peek();
    if (!t || t.k !== 'word') return false;
    if (PAYLOAD_PROTOS.has(t.v)) return !!this.peek(1) && (PAYLOAD_FIELDS[t.v]?.has(this.peek(1)!.v) ?? false);
    return t.v === 'meta' || t.v === 'ct' || t.v === 'fib' || t.v === 'numgen' || t.v === 'jhash' || t.v === 'symhash' || BARE_META.has(t.v);
  }

  /** `primary [. primary]*`, each with binary operators. */
  private concat(): NftExpr {
    const first = this.binop();
    if (first !== null && typeof first === 'object' && 'unknown' in first) return first;
    if (!this.is('.')) return first;
    const items: NftExpr[] = [first];
    while (this.eat('.')) {
      const e = this.binop();
      items.push(e);
      if (e !== null && typeof e === 'object' && 'unknown' in e) return e;
    }
    return { concat: items };
  }

  private binop(): NftExpr {
    let e = this.primary();
    while (this.peek() && this.peek()!.k === 'word' && BINOPS.has(this.peek()!.v)) {
      const op = this.next().v;
      const r = this.startsExpr() ? this.primary() : this.is('(') ? this.orList() : this.simpleValue();
      e = { [op]: [e, r] };
    }
    return e;
  }

  private primary(): NftExpr {
    const t = this.peek();
    if (!t) this.fail(this.endMessage, undefined);
    if (t.k === 'word') {
      if (PAYLOAD_PROTOS.has(t.v) && this.peek(1) && PAYLOAD_FIELDS[t.v]?.has(this.peek(1)!.v)) {
        this.p += 2;
        return { payload: { protocol: t.v, field: this.toks[this.p - 1].v } };
      }
      if (t.v === 'meta' && this.peek(1) && META_KEYS.has(this.peek(1)!.v)) {
        this.p += 2;
        return { meta: { key: this.toks[this.p - 1].v } };
      }
      if (BARE_META.has(t.v) && !(t.v === 'priority')) {
        this.p++;
        return { meta: { key: t.v } };
      }
      if (t.v === 'ct') return this.ct();
      if (t.v === 'fib') return this.fib();
      if (t.v === 'numgen') {
        this.p++;
        const mode = this.name('random or inc');
        this.expect('mod');
        const mod = this.numberTok('a modulus');
        const offset = this.eat('offset') ? this.numberTok('an offset') : 0;
        return { numgen: { mode, mod, offset } };
      }
      if (t.v === 'jhash' || t.v === 'symhash') {
        this.p++;
        const body: Record<string, NftExpr> = {};
        if (t.v === 'jhash') body.expr = this.concat();
        this.expect('mod');
        body.mod = this.numberTok('a modulus');
        if (this.eat('seed')) body.seed = this.numberTok('a seed');
        if (this.eat('offset')) body.offset = this.numberTok('an offset');
        const ordered: Record<string, NftExpr> = { mod: body.mod };
        if (body.seed !== undefined) ordered.seed = body.seed;
        if (body.offset !== undefined) ordered.offset = body.offset;
        if (body.expr !== undefined) ordered.expr = body.expr;
        return { [t.v]: ordered };
      }
    }
    return this.unknown();
  }

  private ct(): NftExpr {
    this.p++;
    let dir: string | undefined;
    if (this.is('original') || this.is('reply')) dir = this.next().v;
    let fam: string | undefined;
    if (dir && (this.is('ip') || this.is('ip6'))) fam = this.next().v;
    const k = this.peek();
    if (!k || !CT_KEYS.has(k.v)) return this.unknown(this.p - 1 - (dir ? 1 : 0) - (fam ? 1 : 0));
    this.p++;
    const body: Record<string, NftExpr> = { key: k.v };
    if (fam) body.family = fam;
    if (dir) body.dir = dir;
    return { ct: body };
  }

  private fib(): NftExpr {
    const start = this.p;
    this.p++;
    const flags: string[] = [];
    while (this.peek() && FIB_FLAGS.has(this.peek()!.v)) {
      flags.push(this.next().v);
      if (!this.eat('.')) break;
    }
    const r = this.peek();
    if (!r || !FIB_RESULTS.has(r.v) || flags.length === 0) return this.unknown(start);
    this.p++;
    return { fib: { result: r.v, flags } };
  }

  /**
   * An expression this parser does not model: the rest of the statement, up to the rule's final
   * verdict (and comment), is kept as text so the rule still takes its verdict when it matches.
   */
  private unknown(from = this.p): NftExpr {
    let end = this.toks.length;
    // Keep a trailing `comment "…"` and a final verdict outside the unknown part.
    if (end >= 2 && this.toks[end - 2].v === 'comment' && this.toks[end - 1].k === 'str') end -= 2;
    const last = this.toks[end - 1];
    if (last && VERDICTS.has(last.v) && end - 1 > from) end -= 1;
    else if (end - 2 > from && (this.toks[end - 2].v === 'jump' || this.toks[end - 2].v === 'goto')) end -= 2;
    const text = this.toks.slice(from, end).map((t) => (t.k === 'str' ? JSON.stringify(t.v) : t.v)).join(' ');
    this.owner.warnAt(`expression ${quote(text)} is not modelled; treated as uncertain`, this.toks[from]);
    this.p = Math.max(end, from + 1);
    return { unknown: text };
  }

  // ---- statements with keywords ----------------------------------------------------------------

  private log(): NftExpr {
    this.p++;
    const body: Record<string, NftExpr> = {};
    for (;;) {
      if (this.eat('prefix')) body.prefix = this.name('a log prefix');
      else if (this.eat('level')) body.level = this.name('a log level');
      else if (this.eat('group')) body.group = this.numberTok('a log group');
      else if (this.eat('snaplen')) body.snaplen = this.numberTok('a snaplen');
      else if (this.eat('queue-threshold')) body['queue-threshold'] = this.numberTok('a threshold');
      else if (this.eat('flags')) {
        const fl = [this.name('a flag')];
        while (this.eat(',')) fl.push(this.name('a flag'));
        body.flags = fl;
      } else break;
    }
    return { log: Object.keys(body).length ? body : null };
  }

  private limit(): NftExpr {
    this.p++;
    this.expect('rate');
    const body: Record<string, NftExpr> = {};
    if (this.eat('over')) body.inv = true;
    const r = this.next();
    const m = /^(\d+)\/(\w+)$/.exec(r.v);
    if (m) {
      body.rate = Number(m[1]);
      body.per = m[2];
    } else {
      // `10 mbytes/second`
      const n = valueOf(r.v);
      if (typeof n !== 'number') this.fail(`malformed limit rate ${quote(r.v)}`, r);
      const u = this.next();
      const um = /^(\w+)\/(\w+)$/.exec(u.v);
      if (!um) this.fail(`malformed limit rate unit ${quote(u.v)}`, u);
      body.rate = n;
      body.rate_unit = um[1];
      body.per = um[2];
    }
    if (!this.is('burst') && body.rate_unit === undefined) body.burst = 5; // nft's default, omitted by the listing
    if (this.eat('burst')) {
      body.burst = this.numberTok('a burst');
      const u = this.peek();
      if (u && (u.v === 'packets' || u.v === 'bytes' || u.v === 'kbytes' || u.v === 'mbytes')) {
        this.p++;
        if (u.v !== 'packets') body.burst_unit = u.v;
      }
    }
    return { limit: body };
  }

  private quota(): NftExpr {
    this.p++;
    const body: Record<string, NftExpr> = {};
    if (this.eat('over')) body.inv = true;
    if (this.eat('name')) return { quota: this.name('a quota name') };
    body.val = this.numberTok('a quota');
    body.val_unit = this.name('a unit');
    if (this.eat('used')) {
      body.used = this.numberTok('a used amount');
      body.used_unit = this.name('a unit');
    }
    const ordered: Record<string, NftExpr> = { val: body.val, val_unit: body.val_unit };
    if (body.used !== undefined) {
      ordered.used = body.used;
      ordered.used_unit = body.used_unit;
    }
    if (body.inv) ordered.inv = true;
    return { quota: ordered };
  }

  private reject(): NftExpr {
    this.p++;
    const dflt = this.family === 'ip6' ? 'icmpv6' : this.family === 'inet' || this.family === 'bridge' || this.family === 'netdev' ? 'icmpx' : 'icmp';
    if (!this.eat('with')) return { reject: { type: dflt, expr: 'port-unreachable' } };
    const kind = this.next();
    if (kind.v === 'tcp') {
      this.expect('reset');
      return { reject: { type: 'tcp reset' } };
    }
    if (kind.v !== 'icmp' && kind.v !== 'icmpv6' && kind.v !== 'icmpx') this.fail(`unknown reject type ${quote(kind.v)}`, kind);
    this.eat('type');
    const code = this.next();
    return { reject: { type: kind.v, expr: code.v } };
  }

  private nat(): NftExpr {
    const kw = this.next().v;
    const body: Record<string, NftExpr> = {};
    if ((kw === 'snat' || kw === 'dnat') && (this.is('ip') || this.is('ip6'))) body.family = this.next().v;
    // `dnat ip addr . port to …` (what was loaded) is listed as `dnat ip to …`.
    if (this.is('addr') && this.is('.', 1) && this.is('port', 2)) this.p += 3;
    else if (this.is('prefix') && this.is('to', 1)) this.p++;
    if (this.eat('to')) {
      const t = this.peek();
      if (t && t.k === 'word' && !this.startsExpr() && !t.v.startsWith('@')) {
        this.p++;
        Object.assign(body, this.addrPort(t));
      } else {
        body.addr = this.valueExpr();
        if (this.peek()?.v.startsWith(':')) Object.assign(body, this.addrPort(this.next()));
      }
    }
    const flags: string[] = [];
    while (this.peek() && ['random', 'fully-random', 'persistent', 'netmap'].includes(this.peek()!.v)) {
      flags.push(this.next().v);
      if (!this.eat(',')) continue;
    }
    if (flags.length === 1) body.flags = flags[0];
    else if (flags.length > 1) body.flags = flags;
    return { [kw]: Object.keys(body).length ? body : null };
  }

  /** `10.0.0.1`, `10.0.0.1:80`, `10.0.0.1-10.0.0.3:80-90`, `[fd00::1]:80`, `:8080`. */
  private addrPort(t: Tok): { addr?: NftExpr; port?: NftExpr } {
    const s = t.v;
    let addr: string;
    let port: string | undefined;
    if (s.startsWith('[')) {
      const close = s.lastIndexOf(']');
      if (close < 0) this.fail(`malformed address ${quote(s)}`, t);
      // `[a]-[b]:p` ranges of IPv6 addresses.
      const rest = s.slice(close + 1);
      addr = s.slice(0, close + 1).replace(/[[\]]/g, '');
      if (rest.startsWith(':')) port = rest.slice(1);
      else if (rest !== '') this.fail(`malformed address ${quote(s)}`, t);
    } else if (s.startsWith(':')) {
      addr = '';
      port = s.slice(1);
    } else {
      const colons = s.split(':').length - 1;
      if (colons === 1) {
        const i = s.indexOf(':');
        addr = s.slice(0, i);
        port = s.slice(i + 1);
      } else addr = s;
    }
    const out: { addr?: NftExpr; port?: NftExpr } = {};
    if (addr !== '') out.addr = valueOf(addr);
    if (port !== undefined) {
      const pv = valueOf(port);
      if (typeof pv !== 'number' && !(pv !== null && typeof pv === 'object' && 'range' in pv)) this.fail(`malformed port ${quote(port)}`, t);
      out.port = pv;
    }
    return out;
  }

  /** `update @s { ip saddr [timeout 1h] }` */
  private setStmt(): NftExpr {
    const op = this.next().v;
    const set = this.next().v;
    this.expect('{');
    let elem = this.concat();
    const opts: Record<string, NftExpr> = {};
    while (this.is('timeout') || this.is('expires')) {
      const kw = this.next().v;
      const d = this.next();
      const s = parseDuration(d.v);
      if (s === null) this.fail(`malformed duration ${quote(d.v)}`, d);
      opts[kw] = s;
    }
    if (Object.keys(opts).length) elem = { elem: { val: elem, ...opts } };
    this.expect('}');
    return { set: { op, elem, set } };
  }
}

/** Parses `nft list ruleset` text. */
export function parseNftText(text: string, opts: NftParseOptions = {}): NftParsed {
  return new TextParser(opts).run(text);
}
