// Supplied ipsets → hash tables inside the compiled ruleset (layout.ts SB_* / GR_*), evaluated by
// assembly/ipset.ts with exactly src/engine/ipset-match.ts's semantics: the same prefix groups
// (most specific first), the same composite keys (as words instead of strings), nomatch flags,
// the hash:net,iface "network exists on any interface" shadowing keys and the wildcard-interface
// entries in the same order. bitmap:port becomes a 65536-bit bitmap, list:set a list of set ids.

import { maskWord } from '../model/addr.js';
import type { EntryPart, IpSet, IpsetState } from '../model/ipset.js';
import { hasAddressDim } from '../model/ipset.js';
import * as L from './layout.js';
import { ifaceWords } from './ops.js';
import type { Words } from './words.js';


const DIM_CODE: Record<string, number> = { ip: L.SD_ADDR, net: L.SD_ADDR, port: L.SD_PORT, iface: L.SD_IFACE, mark: L.SD_MARK };
const DIM_WORDS = [4, 1, 5, 1, 0];

/** Hash of a key of `kw` words (assembly/ipset.ts setHash: the same bits). */
export function setHash(key: ArrayLike<number>, kw: number): number {
  let h = (0x811c9dc5 ^ kw) >>> 0;
  for (let i = 0; i < kw; i++) {
    h = Math.imul(h ^ key[i], 0x9e3779b1) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function markmask(set: IpSet): number {
  const m = set.options['markmask'];
  const v = m === undefined ? NaN : Number(m);
  return Number.isFinite(v) ? v >>> 0 : 0xffffffff;
}

function netmask(set: IpSet): number | undefined {
  const nm = set.options['netmask'];
  if (nm === undefined) return undefined;
  const n = Number(nm);
  return Number.isInteger(n) ? n : undefined;
}

interface Group {
  prefixes: number[];
  /** key words joined by ',' → SV_* value (exact keys: last add wins, as Map.set in ipset-match.ts). */
  table: Map<string, number>;
  wild: { key: string; iface: string; nomatch: boolean }[];
}

const ANY_IFACE = '-1,0,0,0,0';

/** Word fragments of one entry part (several for a port range), or null when it cannot be keyed. */
function partFrags(set: IpSet, dim: number, part: EntryPart, prefixes: number[], mm: number, nm: number | undefined): string[] | null {
  const code = DIM_CODE[set.dims[dim]];
  switch (part.kind) {
    case 'addr': {
      if (code !== L.SD_ADDR) return null;
      let prefix = part.cidr.prefix;
      if (set.dims[dim] === 'ip' && nm !== undefined && nm < prefix) prefix = nm;
      prefixes.push(prefix);
      const ws: number[] = [];
      for (let k = 0; k < 4; k++) ws.push((set.family === 4 && k > 0 ? 0 : part.cidr.w[k] & maskWord(prefix, k)) | 0);
      return [ws.join(',')];
    }
    case 'port': {
      if (code !== L.SD_PORT) return null;
      const out: string[] = [];
      for (let p = part.lo; p <= part.hi; p++) out.push(String(((part.proto << 16) | p) | 0));
      return out;
    }
    case 'iface': {
      if (code !== L.SD_IFACE) return null;
      return ['iface']; // placeholder: interfaces are handled by the caller
    }
    case 'mark':
      if (code !== L.SD_MARK) return null;
      return [String((part.value & mm) | 0)];
    default:
      return null;
  }
}

function ifaceKey(name: string): string | null {
  const b = ifaceWords(name);
  if (!b) return null;
  return [name.length, ...b].join(',');
}

function buildGroups(set: IpSet): Group[] {
  const mm = markmask(set);
  const nm = netmask(set);
  const bySig = new Map<string, Group>();
  const hasIface = set.dims.includes('iface');
  for (const e of set.entries) {
    if (e.parts.length !== set.dims.length) continue; // cannot equal any lookup key
    const prefixes: number[] = [];
    let keys: string[] = [''];
    let anyKeys: string[] = [''];
    let wildIface: string | null = null;
    let exactOk = true;
    let bad = false;
    e.parts.forEach((part, dim) => {
      if (bad) return;
      const frags = partFrags(set, dim, part, prefixes, mm, nm);
      if (!frags) {
        bad = true;
        return;
      }
      let exactFrags = frags;
      if (part.kind === 'iface') {
        if (part.wildcard) {
          wildIface = part.name;
          exactFrags = [ANY_IFACE];
        } else {
          // physdev names and names no packet interface can have never equal the packet's
          const k = part.physdev ? null : ifaceKey(part.name);
          if (k === null) exactOk = false;
          exactFrags = [k ?? ANY_IFACE];
        }
      }
      keys = keys.flatMap((k) => exactFrags.map((f) => (k ? k + ',' : '') + f));
      const anyFrags = part.kind === 'iface' ? [ANY_IFACE] : frags;
      anyKeys = anyKeys.flatMap((k) => anyFrags.map((f) => (k ? k + ',' : '') + f));
    });
    if (bad) continue;
    const sig = prefixes.join(',');
    let g = bySig.get(sig);
    if (!g) bySig.set(sig, (g = { prefixes, table: new Map(), wild: [] }));
    for (const k of keys) {
      const w = wildIface as string | null;
      if (w !== null) {
        g.wild = g.wild.filter((x) => !(x.key === k && x.iface === w));
        g.wild.push({ key: k, iface: w, nomatch: e.nomatch });
      } else if (exactOk) {
        g.table.set(k, ((g.table.get(k) ?? 0) & L.SV_ANY_IFACE) | (e.nomatch ? L.SV_NOMATCH : L.SV_MATCH));
      }
    }
    if (hasIface) for (const k of anyKeys) g.table.set(k, (g.table.get(k) ?? 0) | L.SV_ANY_IFACE);
  }
  return [...bySig.values()].sort((a, b) => {
    for (let i = 0; i < a.prefixes.length; i++) if (a.prefixes[i] !== b.prefixes[i]) return b.prefixes[i] - a.prefixes[i];
    return 0;
  });
}

function writeHash(w: Words, kw: number, table: Map<string, number>): [number, number] {
  let slots = 2;
  while (slots < table.size * 2) slots *= 2;
  const sw = kw + 1;
  const at = w.alloc(slots * sw);
  const mask = slots - 1;
  for (const [k, v] of table) {
    const key = k.split(',').map(Number);
    let s = setHash(key, kw) & mask;
    while (w.get(at + s * sw + kw) !== 0) s = (s + 1) & mask;
    for (let i = 0; i < kw; i++) w.set(at + s * sw + i, key[i]);
    w.set(at + s * sw + kw, v);
  }
  return [at, mask];
}

function writeSet(w: Words, set: IpSet, ids: ReadonlyMap<string, number>): number {
  const at = w.alloc(L.SB_WORDS);
  w.set(at + L.SB_FAMILY, hasAddressDim(set) ? set.family : 0);
  w.set(at + L.SB_NDIMS, set.dims.length);
  let kw = 0;
  set.dims.forEach((d, i) => {
    const code = DIM_CODE[d] ?? L.SD_MAC;
    if (i < 4) w.set(at + L.SB_DIMS + i, code);
    kw += DIM_WORDS[code];
  });
  w.set(at + L.SB_MARKMASK, markmask(set));
  w.set(at + L.SB_KW, kw);
  if (set.type === 'list:set') {
    w.set(at + L.SB_KIND, L.SET_LIST);
    const members = set.entries.map((e) => e.parts[0]).filter((p): p is Extract<EntryPart, { kind: 'set' }> => p?.kind === 'set');
    w.set(at + L.SB_N, members.length);
    for (const m of members) w.push(ids.get(m.name) ?? -1);
    return at;
  }
  if (set.type === 'bitmap:port') {
    w.set(at + L.SB_KIND, L.SET_BITMAP_PORT);
    const bm = w.alloc(2048);
    w.set(at + L.SB_DATA, bm);
    for (const e of set.entries) {
      const p = e.parts[0];
      if (p?.kind !== 'port') continue;
      for (let x = p.lo; x <= p.hi && x < 65536; x++) w.set(bm + (x >>> 5), w.get(bm + (x >>> 5)) | (1 << (x & 31)));
    }
    return at;
  }
  w.set(at + L.SB_KIND, L.SET_HASH);
  if (set.dims.some((d) => d === 'mac') || set.dims.length > 4) {
    w.set(at + L.SB_UNSUPPORTED, 1);
    return at;
  }
  const groups = buildGroups(set);
  w.set(at + L.SB_N, groups.length);
  const gAt = w.alloc(groups.length * L.GR_WORDS);
  groups.forEach((g, i) => {
    const b = gAt + i * L.GR_WORDS;
    for (let k = 0; k < 4; k++) w.set(b + L.GR_PREFIX + k, g.prefixes[k] ?? 0);
    const [h, mask] = writeHash(w, kw, g.table);
    w.set(b + L.GR_HASH, h);
    w.set(b + L.GR_MASK, mask);
    const wild = g.wild.filter((x) => ifaceWords(x.iface) !== null); // unencodable prefixes match no packet name
    w.set(b + L.GR_NWILD, wild.length);
    w.set(b + L.GR_WILD, w.length);
    for (const x of wild) {
      for (const v of x.key.split(',').map(Number)) w.push(v);
      const bytes = ifaceWords(x.iface)!;
      w.push(x.iface.length | L.IF_PREFIX_BIT | L.IF_PRESENT_BIT);
      for (const v of bytes) w.push(v);
      for (let k = 4; k < L.IFACE_WORDS - 1; k++) w.push(0);
      w.push(x.nomatch ? 1 : 0);
    }
  });
  return at;
}

/** Writes the set table; returns set name → set id (the M_SET op's operand). */
export function writeSets(w: Words, state: IpsetState): Map<string, number> {
  const ids = new Map<string, number>();
  for (const name of state.sets.keys()) ids.set(name, ids.size);
  const table = w.alloc(1 + ids.size);
  w.set(L.H_SETS, table);
  w.set(table, ids.size);
  let i = 0;
  for (const set of state.sets.values()) w.set(table + 1 + i++, writeSet(w, set, ids));
  return ids;
}
