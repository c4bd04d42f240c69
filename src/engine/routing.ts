// The kernel's routing decision over the node's own tables (src/model/routing.ts): policy rules
// by priority (from / to / iif / oif / fwmark, `not`, suppress_prefixlength), longest-prefix
// match per table (then lowest metric, then listing order), `throw` falling through to the next
// rule; and the address MASQUERADE takes, as nf_nat_masquerade_ipv4 does with
// inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE). assembly/routing.ts is its twin.

import type { Addr } from '../model/addr.js';
import { cidrContains, maskWord } from '../model/addr.js';
import type { Route, Routing } from '../model/routing.js';

/** The lookup's answer: a route, a terminal rule action, or nothing matched. */
export type RouteResult = { kind: 'route'; route: Route } | { kind: 'action'; action: 'blackhole' | 'unreachable' | 'prohibit' } | { kind: 'none' };

export interface RouteKey {
  family: 4 | 6;
  dst: Addr;
  src: Addr;
  mark: number;
  /** Input interface name ('lo' for packets the node sends). */
  iif: string;
}

/** Longest prefix match in one table: the route index, or -1. */
export function tableLookup(rt: Routing, table: number, family: 4 | 6, dst: Addr): number {
  let best = -1;
  for (let i = 0; i < rt.routes.length; i++) {
    const r = rt.routes[i];
    if (r.table !== table || r.family !== family || !cidrContains(r.dst, dst)) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const b = rt.routes[best];
    if (r.dst.prefix > b.dst.prefix || (r.dst.prefix === b.dst.prefix && r.metric < b.metric)) best = i;
  }
  return best;
}

/** fib_lookup: the policy rules in priority order. */
export function routeLookup(rt: Routing, k: RouteKey): RouteResult {
  for (const rule of rt.rules) {
    if (rule.family !== k.family) continue;
    let hit = true;
    if (rule.src && !cidrContains(rule.src, k.src)) hit = false;
    if (hit && rule.dst && !cidrContains(rule.dst, k.dst)) hit = false;
    if (hit && rule.iif !== undefined && rule.iif !== k.iif) hit = false;
    // output lookups of unbound sockets and forwarded packets have no output interface yet
    if (hit && rule.oif !== undefined) hit = false;
    if (hit && rule.fwmark && ((k.mark ^ rule.fwmark.value) & rule.fwmark.mask) >>> 0 !== 0) hit = false;
    if (hit === rule.not) continue;
    if (rule.action === 'nop') continue;
    if (rule.action !== 'lookup') return { kind: 'action', action: rule.action };
    const i = tableLookup(rt, rule.table, k.family, k.dst);
    if (i < 0) continue;
    const route = rt.routes[i];
    if (route.type === 'throw') continue;
    if (rule.suppressPrefix >= 0 && route.dst.prefix <= rule.suppressPrefix) continue;
    return { kind: 'route', route };
  }
  return { kind: 'none' };
}

/** Whether a and b share their first `prefix` bits (inet_ifa_match). */
function inPrefix(a: Addr, b: Addr, prefix: number): boolean {
  if (a.family !== b.family) return false;
  for (let k = 0; k < (a.family === 4 ? 1 : 4); k++) if (((a.w[k] ^ b.w[k]) & maskWord(prefix, k)) >>> 0 !== 0) return false;
  return true;
}

/**
 * inet_select_addr(dev, nexthop, RT_SCOPE_UNIVERSE): the first primary global address on the
 * interface whose subnet holds the nexthop, else its first primary global address, else the
 * first primary global address of any interface in listing order. IPv6 (ipv6_dev_get_saddr's
 * full rules are not modelled) takes the same choice among global addresses.
 */
export function selectSource(rt: Routing, dev: number, nexthop: Addr): Addr | undefined {
  const fam = nexthop.family;
  if (dev >= 0) {
    let first: Addr | undefined;
    for (const a of rt.links[dev].addrs) {
      if (a.addr.family !== fam || a.secondary || a.scope > 0) continue;
      if (inPrefix(nexthop, a.addr, a.prefix)) return a.addr;
      first ??= a.addr;
    }
    if (first) return first;
  }
  for (const l of rt.links) {
    for (const a of l.addrs) if (a.addr.family === fam && !a.secondary && a.scope === 0) return a.addr;
  }
  return undefined;
}

/** Index of the link named `name`, or -1. */
export function linkIndex(rt: Routing, name: string): number {
  return rt.links.findIndex((l) => l.name === name);
}
