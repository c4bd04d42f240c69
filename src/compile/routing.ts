// The node's routing (src/model/routing.ts) → the routing block of the compiled ruleset
// (layout.ts RT_* / LK_* / LA_* / RO_* / PR_*), read by assembly/routing.ts.

import type { Addr, Cidr } from '../model/addr.js';
import { formatAddr, maskWord } from '../model/addr.js';
import type { RouteType, Routing } from '../model/routing.js';
import * as L from './layout.js';
import { ifaceWords } from './ops.js';
import type { StringTable, Words } from './words.js';

const RTYPE: Record<RouteType, number> = {
  unicast: L.RTYPE_UNICAST,
  local: L.RTYPE_LOCAL,
  broadcast: L.RTYPE_BROADCAST,
  anycast: L.RTYPE_ANYCAST,
  multicast: L.RTYPE_MULTICAST,
  blackhole: L.RTYPE_BLACKHOLE,
  unreachable: L.RTYPE_UNREACHABLE,
  prohibit: L.RTYPE_PROHIBIT,
  throw: L.RTYPE_THROW,
  nat: L.RTYPE_NAT,
};
const ACTION = { lookup: L.PRA_LOOKUP, blackhole: L.PRA_BLACKHOLE, unreachable: L.PRA_UNREACHABLE, prohibit: L.PRA_PROHIBIT, nop: L.PRA_NOP } as const;

/** Routing texts both engines use (the reference walk's notes and reject-with values). */
export const ROUTE_REJECT = {
  unreachable: { 4: 'icmp-net-unreachable', 6: 'icmp6-no-route' },
  prohibit: { 4: 'icmp-admin-prohibited', 6: 'icmp6-adm-prohibited' },
} as const;

/** Why routing gave no usable route (the walk's note; layout NOTE_ROUTE arg). */
export const ROUTE_FAIL = { none: 0, blackhole: 1, unreachable: 2, prohibit: 3, noDevice: 4 } as const;
const FAIL_TEXT = ['no route matches it', 'a blackhole route or rule drops it', 'an unreachable route or rule rejects it', 'a prohibit route or rule rejects it', 'its route names no device'];

export function routeFailNote(code: number, dst: Addr): string {
  return `routing: the node's tables give no way to ${formatAddr(dst)}: ${FAIL_TEXT[code]}`;
}

function pushAddr(w: Words, a: Addr | undefined): void {
  for (let k = 0; k < 4; k++) w.push(a ? a.w[k] | 0 : 0);
}

function pushMask(w: Words, prefix: number, family: 4 | 6): void {
  for (let k = 0; k < 4; k++) w.push(k >= (family === 4 ? 1 : 4) ? 0 : maskWord(prefix, k) | 0);
}

function pushCidr(w: Words, c: Cidr | undefined): void {
  pushAddr(w, c ? { family: c.family, w: c.w } : undefined);
  if (c) pushMask(w, c.prefix, c.family);
  else for (let k = 0; k < 4; k++) w.push(0);
}

/** An IFACE block (exact name); an unencodable name is left absent (it then names no packet interface). */
function pushName(w: Words, name: string | undefined): void {
  const b = name !== undefined ? ifaceWords(name) : null;
  if (!b) {
    for (let k = 0; k < L.IFACE_WORDS; k++) w.push(0);
    return;
  }
  w.push(name!.length | L.IF_PRESENT_BIT);
  for (const x of b) w.push(x);
  w.push(0);
}

/** Writes the routing block; returns its offset (0 when the node's routing was not given). */
export function writeRouting(w: Words, rt: Routing | undefined, strings: StringTable): number {
  if (!rt) return 0;
  const at = w.alloc(L.RT_WORDS);
  w.set(at + L.RT_FLAGS, (rt.has.routes ? L.RTF_ROUTES : 0) | (rt.has.addrs ? L.RTF_ADDRS : 0));
  w.set(at + L.RT_REJ_UNREACH4, strings.id(ROUTE_REJECT.unreachable[4]));
  w.set(at + L.RT_REJ_UNREACH6, strings.id(ROUTE_REJECT.unreachable[6]));
  w.set(at + L.RT_REJ_PROHIBIT4, strings.id(ROUTE_REJECT.prohibit[4]));
  w.set(at + L.RT_REJ_PROHIBIT6, strings.id(ROUTE_REJECT.prohibit[6]));

  // links, then each link's addresses
  const links = w.alloc(rt.links.length * L.LK_WORDS);
  w.set(at + L.RT_NLINKS, rt.links.length);
  w.set(at + L.RT_LINKS, links);
  rt.links.forEach((l, i) => {
    const b = ifaceWords(l.name);
    const r = links + i * L.LK_WORDS;
    if (b) {
      w.set(r + L.LK_IFACE, l.name.length | L.IF_PRESENT_BIT);
      for (let k = 0; k < 4; k++) w.set(r + L.LK_IFACE + 1 + k, b[k]);
    }
    w.set(r + L.LK_NADDR, l.addrs.length);
    w.set(r + L.LK_ADDRS, w.length);
    for (const a of l.addrs) {
      w.push(a.addr.family);
      pushAddr(w, a.addr);
      pushMask(w, a.prefix, a.addr.family);
      w.push(a.scope);
      w.push(a.secondary ? 1 : 0);
    }
  });

  w.set(at + L.RT_NROUTES, rt.routes.length);
  w.set(at + L.RT_ROUTES, w.length);
  for (const r of rt.routes) {
    w.push(r.family);
    w.push(r.table | 0);
    w.push(RTYPE[r.type]);
    w.push(r.dst.prefix);
    pushCidr(w, r.dst);
    w.push(r.metric | 0);
    w.push(r.dev);
    w.push(r.gateway ? 1 : 0);
    pushAddr(w, r.gateway);
  }

  w.set(at + L.RT_NRULES, rt.rules.length);
  w.set(at + L.RT_RULES, w.length);
  for (const p of rt.rules) {
    let f = 0;
    if (p.not) f |= L.PRF_NOT;
    if (p.src) f |= L.PRF_SRC;
    if (p.dst) f |= L.PRF_DST;
    if (p.iif !== undefined) f |= L.PRF_IIF;
    if (p.oif !== undefined) f |= L.PRF_OIF;
    if (p.fwmark) f |= L.PRF_MARK;
    w.push(p.family);
    w.push(p.priority | 0);
    w.push(f);
    w.push(ACTION[p.action]);
    w.push(p.table | 0);
    w.push(p.suppressPrefix);
    pushCidr(w, p.src);
    pushCidr(w, p.dst);
    pushName(w, p.iif);
    w.push(p.fwmark ? p.fwmark.value | 0 : 0);
    w.push(p.fwmark ? p.fwmark.mask | 0 : 0);
  }
  return at;
}
