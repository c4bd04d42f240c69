// iproute2's JSON output → the routing model (src/model/routing.ts): `ip -j addr`,
// `ip -j route show table all` and `ip -j rule`, each possibly several JSON arrays in one string
// (the -4 and the -6 listing one after the other). Errors name the input, line and column.

import type { Addr, Cidr, Family } from '../model/addr.js';
import { parseAddr } from '../model/addr.js';
import type { Link, PolicyRule, Route, RouteType, Routing } from '../model/routing.js';
import { defaultRules, RT_TABLE } from '../model/routing.js';
import { ParseError, quote } from './errors.js';

export type IprouteSource = 'ipAddr' | 'ipRoute' | 'ipRule';

interface Piece {
  value: unknown;
  /** 1-based line and column where the array starts. */
  line: number;
  column: number;
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** One or more top-level JSON arrays, one after the other. */
export function jsonArrays(text: string, source: IprouteSource): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  const n = text.length;
  const ws = (c: string): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t';
  while (i < n) {
    while (i < n && ws(text[i])) i++;
    if (i >= n) break;
    const start = i;
    if (text[i] !== '[') {
      const p = position(text, i);
      throw new ParseError(`expected a JSON array (the output of ip -j …), found ${quote(text.slice(i, i + 20))}`, p.line, p.column, source);
    }
    let depth = 0;
    let inStr = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inStr) {
        if (c === '\\') i++;
        else if (c === '"') inStr = false;
      } else if (c === '"') inStr = true;
      else if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    const seg = text.slice(start, i);
    let value: unknown;
    try {
      value = JSON.parse(seg);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const p = position(text, start + (m ? Number(m[1]) : seg.length));
      throw new ParseError(`malformed JSON: ${(e as Error).message.replace(/ in JSON at position \d+.*$/, '')}`, p.line, p.column, source);
    }
    const p = position(text, start);
    out.push({ value, line: p.line, column: p.column });
  }
  if (out.length === 0) throw new ParseError('empty: expected the JSON output of ip -j …', 1, 1, source);
  return out;
}

const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

class Reader {
  constructor(
    readonly source: IprouteSource,
    readonly piece: Piece,
  ) {}
  fail(what: string, index: number): never {
    throw new ParseError(`entry ${index + 1} of the array: ${what}`, this.piece.line, this.piece.column, this.source);
  }
}

function addrField(r: Reader, i: number, v: unknown, field: string): Addr {
  const a = typeof v === 'string' ? parseAddr(v) : null;
  if (!a) r.fail(`${field} ${quote(String(v))} is not an IP address`, i);
  return a;
}

function cidrOf(a: Addr, prefix: number): Cidr {
  const w: [number, number, number, number] = [0, 0, 0, 0];
  const words = a.family === 4 ? 1 : 4;
  for (let k = 0; k < words; k++) {
    const bits = prefix - 32 * k;
    const m = bits >= 32 ? 0xffffffff : bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    w[k] = (a.w[k] & m) >>> 0;
  }
  return { family: a.family, w, prefix };
}

function prefixField(r: Reader, i: number, v: unknown, family: Family, field: string): number {
  const max = family === 4 ? 32 : 128;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) r.fail(`${field} must be an integer from 0 to ${max}`, i);
  return v;
}

/** `ip -j addr` → links with their addresses, in the kernel's order. */
export function parseIpAddr(text: string): Link[] {
  const links: Link[] = [];
  for (const piece of jsonArrays(text, 'ipAddr')) {
    const r: Reader = new Reader('ipAddr', piece);
    if (!Array.isArray(piece.value)) r.fail('not an array', 0);
    piece.value.forEach((e: unknown, i: number) => {
      if (e === null || typeof e !== 'object') r.fail('not an object', i);
      const o = e as Record<string, unknown>;
      if (typeof o.ifname !== 'string' || o.ifname.length === 0) r.fail('no ifname (is this ip -j addr output?)', i);
      let link = links.find((l) => l.name === o.ifname);
      if (!link) links.push((link = { name: o.ifname as string, addrs: [] }));
      const infos = o.addr_info ?? [];
      if (!Array.isArray(infos)) r.fail('addr_info is not an array', i);
      for (const ai of infos as Record<string, unknown>[]) {
        if (ai === null || typeof ai !== 'object' || ai.local === undefined) continue; // an empty {} stands for a filtered family
        if (ai.family !== 'inet' && ai.family !== 'inet6') continue;
        const addr = addrField(r, i, ai.local, 'local');
        const prefix = prefixField(r, i, ai.prefixlen, addr.family, 'prefixlen');
        const scope = typeof ai.scope === 'number' ? ai.scope : SCOPES[String(ai.scope ?? 'global')] ?? 0;
        link.addrs.push({ addr, prefix, scope, secondary: ai.secondary === true });
      }
    });
  }
  return links;
}

/** Table names as iproute2 prints them → ids; names from rt_tables get ids of their own, the same in routes and rules. */
export class TableIds {
  private readonly names = new Map<string, number>();
  id(v: unknown): number | null {
    if (v === undefined || v === null) return RT_TABLE.main;
    const s = String(v);
    if (s in RT_TABLE) return RT_TABLE[s as keyof typeof RT_TABLE];
    if (/^\d+$/.test(s)) return Number(s);
    if (!/^[A-Za-z0-9_.-]+$/.test(s)) return null;
    let id = this.names.get(s);
    if (id === undefined) this.names.set(s, (id = 0x100000 + this.names.size));
    return id;
  }
}

const ROUTE_TYPES = new Set<RouteType>(['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat']);

/** The family of one array of routes: from its addresses (a `default` route alone says nothing). */
function arrayFamily(entries: Record<string, unknown>[]): Family {
  for (const o of entries) {
    for (const f of [o?.dst, o?.gateway, o?.prefsrc]) {
      if (typeof f === 'string' && f !== 'default') return f.includes(':') ? 6 : 4;
    }
  }
  return 4;
}

/** `ip -j route show table all` (v4 and v6 arrays) → routes; devices not in `links` are added to it. */
export function parseIpRoute(text: string, links: Link[], tables: TableIds, warnings: string[]): Route[] {
  const routes: Route[] = [];
  const dev = (name: string): number => {
    let i = links.findIndex((l) => l.name === name);
    if (i < 0) {
      links.push({ name, addrs: [] });
      i = links.length - 1;
    }
    return i;
  };
  for (const piece of jsonArrays(text, 'ipRoute')) {
    const r: Reader = new Reader('ipRoute', piece);
    if (!Array.isArray(piece.value)) r.fail('not an array', 0);
    const entries = piece.value as Record<string, unknown>[];
    const family = arrayFamily(entries);
    entries.forEach((o, i) => {
      if (o === null || typeof o !== 'object') r.fail('not an object', i);
      if (typeof o.dst !== 'string') r.fail('no dst (is this ip -j route output?)', i);
      const type = (o.type ?? 'unicast') as RouteType;
      if (!ROUTE_TYPES.has(type)) r.fail(`route type ${quote(String(o.type))} is not one the kernel has`, i);
      let dst: Cidr;
      if (o.dst === 'default') dst = { family, w: [0, 0, 0, 0], prefix: 0 };
      else {
        const [a, p] = (o.dst as string).split('/');
        const addr = addrField(r, i, a, 'dst');
        const prefix = p === undefined ? (addr.family === 4 ? 32 : 128) : prefixField(r, i, Number(p), addr.family, 'dst prefix');
        dst = cidrOf(addr, prefix);
      }
      const table = tables.id(o.table);
      if (table === null) r.fail(`table ${quote(String(o.table))} is not a table name`, i);
      let devName = typeof o.dev === 'string' ? o.dev : undefined;
      let gw = o.gateway;
      if (Array.isArray(o.nexthops) && o.nexthops.length > 0) {
        // ECMP: the kernel hashes each flow over the nexthops; landfall follows the first (warned)
        const nh = o.nexthops[0] as Record<string, unknown>;
        devName ??= typeof nh.dev === 'string' ? nh.dev : undefined;
        gw ??= nh.gateway;
        warnings.push(`ipRoute: multipath route ${o.dst} (${o.nexthops.length} nexthops): the kernel hashes each flow over them; only the first nexthop is followed`);
      }
      const route: Route = {
        family: dst.family,
        table,
        type,
        dst,
        dev: devName !== undefined ? dev(devName) : -1,
        metric: typeof o.metric === 'number' ? o.metric : 0,
        order: routes.length,
      };
      if (typeof gw === 'string') route.gateway = addrField(r, i, gw, 'gateway');
      if (typeof o.prefsrc === 'string') route.prefsrc = addrField(r, i, o.prefsrc, 'prefsrc');
      routes.push(route);
    });
  }
  return routes;
}

const RULE_SELECTORS = new Set(['priority', 'src', 'srclen', 'dst', 'dstlen', 'iif', 'oif', 'fwmark', 'fwmask', 'table', 'action', 'not', 'suppress_prefixlen', 'iif_detached', 'oif_detached', 'protocol', 'flags', 'tos']);

function hexOrNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v >>> 0;
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(v)) return Number(v) >>> 0;
  return null;
}

/** `ip -j rule` (v4 and v6 arrays) → policy rules, by priority. */
export function parseIpRule(text: string, tables: TableIds, warnings: string[]): PolicyRule[] {
  const rules: PolicyRule[] = [];
  for (const piece of jsonArrays(text, 'ipRule')) {
    const r: Reader = new Reader('ipRule', piece);
    if (!Array.isArray(piece.value)) r.fail('not an array', 0);
    const entries = piece.value as Record<string, unknown>[];
    let family: Family = 4;
    for (const o of entries) {
      for (const f of [o?.src, o?.dst]) if (typeof f === 'string' && f !== 'all' && f !== '0') family = f.includes(':') ? 6 : 4;
    }
    entries.forEach((o, i) => {
      if (o === null || typeof o !== 'object' || typeof o.priority !== 'number') r.fail('no priority (is this ip -j rule output?)', i);
      const selector = (v: unknown, len: unknown, field: string): Cidr | undefined => {
        if (v === undefined || v === 'all') return undefined;
        if (v === '0') return { family, w: [0, 0, 0, 0], prefix: typeof len === 'number' ? len : 0 };
        const a = addrField(r, i, v, field);
        return cidrOf(a, len === undefined ? (a.family === 4 ? 32 : 128) : prefixField(r, i, len, a.family, `${field}len`));
      };
      const rule: PolicyRule = {
        family,
        priority: o.priority as number,
        not: 'not' in o,
        action: 'lookup',
        table: RT_TABLE.main,
        suppressPrefix: typeof o.suppress_prefixlen === 'number' ? o.suppress_prefixlen : -1,
      };
      const src = selector(o.src, o.srclen, 'src');
      const dst = selector(o.dst, o.dstlen, 'dst');
      if (src) rule.src = src;
      if (dst) rule.dst = dst;
      if (typeof o.iif === 'string') rule.iif = o.iif;
      if (typeof o.oif === 'string') rule.oif = o.oif;
      if (o.fwmark !== undefined) {
        const value = hexOrNumber(o.fwmark);
        const mask = o.fwmask === undefined ? 0xffffffff : hexOrNumber(o.fwmask);
        if (value === null || mask === null) r.fail(`fwmark ${quote(String(o.fwmark))} is not a number`, i);
        rule.fwmark = { value, mask };
      }
      const action = o.action ?? 'lookup';
      if (action === 'blackhole' || action === 'unreachable' || action === 'prohibit' || action === 'nop') rule.action = action;
      else if (action !== 'lookup' && action !== 'to_tbl') {
        warnings.push(`ipRule: rule ${o.priority} (action ${String(action)}) is not modelled and never matches`);
        return;
      }
      if (rule.action === 'lookup') {
        const t = tables.id(o.table);
        if (t === null) r.fail(`table ${quote(String(o.table))} is not a table name`, i);
        rule.table = t;
      }
      const unmodelled = Object.keys(o).filter((k) => !RULE_SELECTORS.has(k));
      if (unmodelled.length > 0) {
        warnings.push(`ipRule: rule ${o.priority} selects on ${unmodelled.join(', ')}, which landfall does not model: it never matches`);
        return;
      }
      rules.push(rule);
    });
  }
  return rules.sort((a, b) => a.priority - b.priority);
}

/** The node's routing from whichever of the three listings were given (undefined when none). */
export function buildRouting(input: { ipAddr?: string; ipRoute?: string; ipRule?: string }, warnings: string[]): Routing | undefined {
  if (input.ipAddr === undefined && input.ipRoute === undefined && input.ipRule === undefined) return undefined;
  const links = input.ipAddr !== undefined ? parseIpAddr(input.ipAddr) : [];
  const tables = new TableIds();
  const routes = input.ipRoute !== undefined ? parseIpRoute(input.ipRoute, links, tables, warnings) : [];
  const rules = input.ipRule !== undefined ? parseIpRule(input.ipRule, tables, warnings) : [];
  // A family whose rules were not listed has the kernel's defaults.
  for (const f of [4, 6] as const) if (!rules.some((x) => x.family === f)) rules.push(...defaultRules(f));
  rules.sort((a, b) => a.priority - b.priority);
  return { links, routes, rules, has: { addrs: input.ipAddr !== undefined, routes: input.ipRoute !== undefined, rules: input.ipRule !== undefined } };
}
