// ipset state from `ipset save` (create/add lines) or `ipset list` (Name:/Type:/Header:/Members:
// blocks). Elements are typed per the set's dimensions so -m set can be evaluated exactly:
// addresses as CIDRs (an a-b range becomes its minimal CIDR cover, as ipset itself splits ranges),
// ports with their protocol (default tcp, as ipset assumes), interfaces, member set names.

import { maskWord, parseAddr, parseCidr, type Cidr, type Family } from '../model/addr.js';
import { typeDims, type EntryPart, type IpSet, type IpsetState, type SetDim, type SetEntry } from '../model/ipset.js';
import { PROTO } from '../model/rule.js';
import { ColumnError, ParseError, quote } from './errors.js';
import { tokenize } from './tokenize.js';
import { parseIcmpType, parsePort, parseProto } from './values.js';

const SOURCE = 'ipsets';

const KNOWN_TYPES = new Set([
  'hash:ip', 'hash:ip,port', 'hash:ip,port,ip', 'hash:ip,port,net', 'hash:net', 'hash:net,port',
  'hash:net,iface', 'hash:net,net', 'hash:net,port,net', 'hash:ip,mark', 'hash:mac', 'hash:ip,mac',
  'bitmap:ip', 'bitmap:ip,mac', 'bitmap:port', 'list:set',
]);

/** create options that take a value (the rest are flags such as `counters`, `comment`). */
const CREATE_VALUED = new Set(['family', 'hashsize', 'maxelem', 'timeout', 'netmask', 'markmask', 'range', 'size', 'bucketsize', 'initval']);
const CREATE_FLAGS = new Set(['counters', 'comment', 'skbinfo', 'forceadd', 'nomatch']);
/** add options that take a value, other than timeout/comment which are kept. */
const ADD_VALUED = new Set(['packets', 'bytes', 'skbmark', 'skbprio', 'skbqueue', 'before', 'after']);

/** Minimal CIDR cover of an IPv4 range lo..hi (inclusive). */
function rangeToCidrs(lo: number, hi: number): Cidr[] {
  const out: Cidr[] = [];
  let cur = lo;
  while (cur <= hi) {
    // Largest block aligned at cur that does not run past hi.
    let size = trailingZeros(cur);
    while (size > 0 && cur + 2 ** size - 1 > hi) size--;
    out.push({ family: 4, w: [cur >>> 0, 0, 0, 0], prefix: 32 - size });
    cur += 2 ** size;
    if (out.length > 65536) throw new ColumnError('address range too large', 0);
  }
  return out;
}

function trailingZeros(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

function parseAddrPart(s: string, family: Family, dim: SetDim, allowZero: boolean): Cidr[] {
  const dash = s.indexOf('-');
  if (dash > 0 && family === 4) {
    const a = parseAddr(s.slice(0, dash));
    const b = parseAddr(s.slice(dash + 1));
    if (!a || a.family !== 4) throw new ColumnError(`bad address ${quote(s.slice(0, dash))}`, 0);
    if (!b || b.family !== 4) throw new ColumnError(`bad address ${quote(s.slice(dash + 1))}`, dash + 1);
    if (b.w[0] < a.w[0]) throw new ColumnError(`empty range ${quote(s)}`, 0);
    return rangeToCidrs(a.w[0], b.w[0]);
  }
  const c = parseCidr(s);
  if (!c) throw new ColumnError(`bad ${dim === 'net' ? 'network' : 'address'} ${quote(s)}`, 0);
  if (c.family !== family) throw new ColumnError(`${quote(s)} is not an IPv${family} address (set family inet${family === 6 ? '6' : ''})`, 0);
  // Only hash:net,iface accepts /0 (its revision 2); the other net types refuse it.
  if (dim === 'net' && c.prefix === 0 && !allowZero) throw new ColumnError('a /0 network is not allowed in this set type', 0);
  return [c];
}


function parsePortPart(s: string, family: Family, withProto: boolean): EntryPart {
  let proto: number = withProto ? PROTO.tcp : 0;
  let rest = s;
  let off = 0;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const name = s.slice(0, colon);
    const p = parseProto(name);
    if (p === null || p === undefined) throw new ColumnError(`unknown protocol ${quote(name)}`, 0);
    if (!withProto) throw new ColumnError('bitmap:port elements have no protocol', 0);
    proto = p;
    rest = s.slice(colon + 1);
    off = colon + 1;
  }
  if (proto === PROTO.icmp || proto === PROTO.icmpv6) {
    // ICMP "ports" are type<<8|code, as the kernel's ip_set_get_ip*_port reports them.
    const tc = parseIcmpType(rest, proto === PROTO.icmpv6);
    if (!tc || tc[0] < 0) throw new ColumnError(`bad ICMP type ${quote(rest)}`, off);
    if (proto === PROTO.icmp && family === 6) throw new ColumnError('icmp in an inet6 set (use icmpv6)', 0);
    const v = (tc[0] << 8) | (tc[1] < 0 ? 0 : tc[1]);
    return { kind: 'port', proto, lo: v, hi: v };
  }
  if (proto !== 0 && proto !== PROTO.tcp && proto !== PROTO.udp && proto !== PROTO.sctp && proto !== 136) {
    // Other protocols have no ports: ipset requires port 0.
    if (rest !== '0') throw new ColumnError(`protocol ${quote(s.slice(0, colon))} takes port 0`, off);
    return { kind: 'port', proto, lo: 0, hi: 0 };
  }
  const dash = rest.indexOf('-');
  const lo = parsePort(dash < 0 ? rest : rest.slice(0, dash));
  const hi = dash < 0 ? lo : parsePort(rest.slice(dash + 1));
  if (lo === null) throw new ColumnError(`bad port ${quote(rest)}`, off);
  if (hi === null || hi < lo) throw new ColumnError(`bad port range ${quote(rest)}`, off + dash + 1);
  return { kind: 'port', proto, lo, hi };
}

/** Splits an element into its dimensions and types each part. Returns several parts lists when an address range expands. */
function parseElement(elem: string, set: IpSet): EntryPart[][] {
  if (set.type === 'list:set') return [[{ kind: 'set', name: elem }]];
  const fields = elem.split(',');
  if (fields.length !== set.dims.length) {
    throw new ColumnError(`${set.type} elements have ${set.dims.length} part(s) separated by commas, got ${fields.length}`, 0);
  }
  let combos: EntryPart[][] = [[]];
  let off = 0;
  for (let d = 0; d < fields.length; d++) {
    const f = fields[d];
    const dim = set.dims[d];
    let options: EntryPart[];
    try {
      switch (dim) {
        case 'ip':
        case 'net':
          options = parseAddrPart(f, set.family, dim, set.type === 'hash:net,iface').map((cidr) => ({ kind: 'addr', cidr }));
          break;
        case 'port':
          options = [parsePortPart(f, set.family, set.type !== 'bitmap:port')];
          break;
        case 'iface': {
          const physdev = f.startsWith('physdev:');
          const name = physdev ? f.slice(8) : f;
          if (!/^[^\s/]{1,15}$/.test(name)) throw new ColumnError(`bad interface name ${quote(name)}`, physdev ? 8 : 0);
          options = [{ kind: 'iface', name, physdev }];
          break;
        }
        case 'mac':
          if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(f)) throw new ColumnError(`bad MAC address ${quote(f)}`, 0);
          options = [{ kind: 'mac', mac: f.toLowerCase() }];
          break;
        case 'mark': {
          const v = /^0x[0-9a-fA-F]+$|^\d+$/.test(f) ? Number(f) : NaN;
          if (!Number.isFinite(v) || v > 0xffffffff) throw new ColumnError(`bad mark ${quote(f)}`, 0);
          options = [{ kind: 'mark', value: v >>> 0 }];
          break;
        }
        default:
          throw new ColumnError(`unsupported dimension ${dim}`, 0);
      }
    } catch (e) {
      if (e instanceof ColumnError) throw new ColumnError(e.message, off + e.column);
      throw e;
    }
    const next: EntryPart[][] = [];
    for (const c of combos) for (const o of options) next.push([...c, o]);
    combos = next;
    off += f.length + 1;
  }
  return combos;
}

function bitmapRangeCheck(set: IpSet, parts: EntryPart[]): string | null {
  const range = set.options['range'];
  if (!range) return null;
  const p = parts[0];
  if (set.type === 'bitmap:port' && p.kind === 'port') {
    const m = /^(\d+)-(\d+)$/.exec(range);
    if (m && (p.lo < Number(m[1]) || p.hi > Number(m[2]))) return `port outside the set's range ${range}`;
  }
  if (set.type.startsWith('bitmap:ip') && p.kind === 'addr') {
    const r = range.includes('-') ? range.split('-').map((x) => parseAddr(x)) : null;
    const c = range.includes('/') ? parseCidr(range) : null;
    const lo = r ? r[0]?.w[0] : c?.w[0];
    const hi = r ? r[1]?.w[0] : c ? (c.w[0] | ~maskWord(c.prefix, 0)) >>> 0 : undefined;
    const first = p.cidr.w[0];
    const last = (first | ~maskWord(p.cidr.prefix, 0)) >>> 0;
    if (lo !== undefined && hi !== undefined && (first < lo || last > hi)) return `address outside the set's range ${range}`;
  }
  return null;
}

interface Builder {
  state: IpsetState;
}

function createSet(name: string, type: string, opts: string[], cols: number[], lineNo: number, text: string): IpSet {
  if (!KNOWN_TYPES.has(type)) throw new ParseError(`unknown set type ${quote(type)}`, lineNo, cols[0] ?? 1, SOURCE, text);
  const options: Record<string, string> = {};
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    if (CREATE_VALUED.has(o)) {
      if (i + 1 >= opts.length) throw new ParseError(`${o} needs a value`, lineNo, cols[i + 1] ?? text.length + 1, SOURCE, text);
      options[o] = opts[++i];
    } else if (CREATE_FLAGS.has(o)) options[o] = '';
    else throw new ParseError(`unknown create option ${quote(o)}`, lineNo, cols[i + 1] ?? 1, SOURCE, text);
  }
  let family: Family = 4;
  if (options['family'] !== undefined) {
    if (options['family'] === 'inet6') family = 6;
    else if (options['family'] !== 'inet') {
      const k = opts.indexOf('family');
      throw new ParseError(`family must be inet or inet6, got ${quote(options['family'])}`, lineNo, cols[k + 2] ?? 1, SOURCE, text);
    }
  }
  if (type.startsWith('bitmap:ip') && family === 6) throw new ParseError('bitmap:ip sets are IPv4 only', lineNo, cols[0] ?? 1, SOURCE, text);
  return { name, type, dims: typeDims(type), family, entries: [], options, line: lineNo };
}

function addEntry(set: IpSet, words: string[], cols: number[], lineNo: number, text: string): void {
  const elem = words[0];
  if (elem === undefined) throw new ParseError('missing the element', lineNo, text.length + 1, SOURCE, text);
  let combos: EntryPart[][];
  try {
    combos = parseElement(elem, set);
  } catch (e) {
    if (e instanceof ColumnError) throw new ParseError(e.message, lineNo, cols[0] + e.column, SOURCE, text);
    throw e;
  }
  let nomatch = false;
  let timeout: number | undefined;
  let comment: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w === 'nomatch') {
      if (!set.dims.includes('net')) throw new ParseError(`nomatch is only valid in sets with a net part, not ${set.type}`, lineNo, cols[i], SOURCE, text);
      nomatch = true;
    } else if (w === 'wildcard') {
      for (const c of combos) for (const p of c) if (p.kind === 'iface') p.wildcard = true;
    } else if (w === 'timeout' || w === 'comment' || ADD_VALUED.has(w)) {
      if (i + 1 >= words.length) throw new ParseError(`${w} needs a value`, lineNo, text.length + 1, SOURCE, text);
      const v = words[++i];
      if (w === 'timeout') {
        if (!/^\d+$/.test(v)) throw new ParseError(`timeout must be a number of seconds, got ${quote(v)}`, lineNo, cols[i], SOURCE, text);
        timeout = Number(v);
      } else if (w === 'comment') comment = v;
    } else throw new ParseError(`unknown element option ${quote(w)}`, lineNo, cols[i], SOURCE, text);
  }
  for (const parts of combos) {
    const bad = bitmapRangeCheck(set, parts);
    if (bad) throw new ParseError(bad, lineNo, cols[0], SOURCE, text);
    const e: SetEntry = { parts, nomatch, line: lineNo };
    if (timeout !== undefined) e.timeout = timeout;
    if (comment !== undefined) e.comment = comment;
    set.entries.push(e);
  }
}

function words(text: string, lineNo: number): { words: string[]; cols: number[] } {
  try {
    return tokenize(text);
  } catch (e) {
    if (e instanceof ColumnError) throw new ParseError(e.message, lineNo, e.column, SOURCE, text);
    throw e;
  }
}

function parseSave(lines: string[], b: Builder): void {
  for (let n = 0; n < lines.length; n++) {
    const text = lines[n];
    const lineNo = n + 1;
    const t = text.trim();
    if (t === '' || t.startsWith('#')) continue;
    const w = words(text, lineNo);
    const cmd = w.words[0];
    if (cmd === 'create' || cmd === '-N' || cmd === 'n') {
      const name = w.words[1];
      const type = w.words[2];
      if (!name) throw new ParseError('create needs a set name', lineNo, text.length + 1, SOURCE, text);
      if (!type) throw new ParseError('create needs a set type', lineNo, text.length + 1, SOURCE, text);
      if (b.state.sets.has(name)) throw new ParseError(`set ${quote(name)} created twice`, lineNo, w.cols[1], SOURCE, text);
      const opts = w.words.slice(3).filter((x) => x !== '-exist' && x !== '-!');
      b.state.sets.set(name, createSet(name, type, opts, w.cols.slice(2), lineNo, text));
    } else if (cmd === 'add' || cmd === '-A' || cmd === 'a') {
      const name = w.words[1];
      const set = name ? b.state.sets.get(name) : undefined;
      if (!set) throw new ParseError(`add to a set not created above: ${quote(name ?? '')}`, lineNo, w.cols[1] ?? text.length + 1, SOURCE, text);
      const rest = w.words.slice(2).filter((x) => x !== '-exist' && x !== '-!');
      const restCols = w.cols.slice(2).filter((_, i) => w.words[i + 2] !== '-exist' && w.words[i + 2] !== '-!');
      addEntry(set, rest, restCols, lineNo, text);
    } else if (cmd === 'flush' || cmd === 'destroy' || cmd === 'COMMIT') {
      // restore-file housekeeping around the dump; no state to record
    } else {
      throw new ParseError(`expected create or add, got ${quote(cmd)}`, lineNo, w.cols[0], SOURCE, text);
    }
  }
}

/** `ipset list` blocks: Name:, Type:, Header:, … Members: then one element per line. */
function parseList(lines: string[], b: Builder): void {
  let current: IpSet | null = null;
  let pendingName: { name: string; line: number; text: string } | null = null;
  let pendingType: { type: string; col: number } | null = null;
  let inMembers = false;
  for (let n = 0; n < lines.length; n++) {
    const text = lines[n];
    const lineNo = n + 1;
    const t = text.trim();
    if (t === '') {
      inMembers = false;
      continue;
    }
    if (inMembers && current) {
      const w = words(text, lineNo);
      addEntry(current, w.words, w.cols, lineNo, text);
      continue;
    }
    const colon = t.indexOf(':');
    const key = colon < 0 ? '' : t.slice(0, colon);
    const value = colon < 0 ? '' : t.slice(colon + 1).trim();
    const valueCol = text.indexOf(value, text.indexOf(':') + 1) + 1;
    switch (key) {
      case 'Name':
        if (b.state.sets.has(value)) throw new ParseError(`set ${quote(value)} listed twice`, lineNo, valueCol, SOURCE, text);
        pendingName = { name: value, line: lineNo, text };
        pendingType = null;
        current = null;
        break;
      case 'Type':
        if (!pendingName) throw new ParseError('Type: before Name:', lineNo, 1, SOURCE, text);
        pendingType = { type: value, col: valueCol };
        break;
      case 'Header': {
        if (!pendingName || !pendingType) throw new ParseError('Header: before Name: and Type:', lineNo, 1, SOURCE, text);
        const w = words(value, lineNo);
        const cols = [pendingType.col, ...w.cols.map((c) => c + valueCol - 1)];
        try {
          current = createSet(pendingName.name, pendingType.type, w.words, cols, lineNo, text);
        } catch (e) {
          if (e instanceof ParseError && e.detail.startsWith('unknown set type')) {
            throw new ParseError(e.detail, lineNo - 1, pendingType.col, SOURCE, lines[n - 1]);
          }
          throw e;
        }
        current.line = pendingName.line;
        b.state.sets.set(current.name, current);
        break;
      }
      case 'Members':
        if (!current) {
          if (!pendingName || !pendingType) throw new ParseError('Members: before Name:, Type: and Header:', lineNo, 1, SOURCE, text);
          // A listing without a Header line (rare): create with defaults.
          current = createSet(pendingName.name, pendingType.type, [], [pendingType.col], lineNo, text);
          current.line = pendingName.line;
          b.state.sets.set(current.name, current);
        }
        inMembers = true;
        break;
      case 'Revision':
      case 'Size in memory':
      case 'References':
      case 'Number of entries':
        break;
      default:
        throw new ParseError(`unexpected line in an ipset listing: ${quote(t)}`, lineNo, text.length - text.trimStart().length + 1, SOURCE, text);
    }
  }
}

/** Parses `ipset save` or `ipset list` output; throws ParseError (source "ipsets") with line/column. */
export function parseIpsets(text: string): IpsetState {
  const b: Builder = { state: { sets: new Map(), supplied: true } };
  const lines = text.split(/\r?\n/);
  const first = lines.find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first !== undefined && /^\s*Name:/.test(first)) parseList(lines, b);
  else parseSave(lines, b);
  return b.state;
}
