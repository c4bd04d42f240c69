// The node's routing state as the kernel holds it: interfaces with their addresses (`ip -j addr`),
// routes of every table (`ip -j route show table all`) and policy rules (`ip -j rule`). Parsed by
// src/parse/iproute.ts; the walk uses it for node-local addresses, the outgoing interface and
// MASQUERADE's source (SEMANTICS.md "Routing").

import type { Addr, Cidr, Family } from './addr.js';

/** Route table ids (rtnetlink): names iproute2 prints for the well-known ones. */
export const RT_TABLE = { default: 253, main: 254, local: 255 } as const;

/** Route types the lookup distinguishes (RTN_*). */
export type RouteType = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | 'nat';

export interface LinkAddr {
  addr: Addr;
  prefix: number;
  /** RT_SCOPE_*: 0 global (universe), 200 site, 253 link, 254 host. */
  scope: number;
  /** IFA_F_SECONDARY: never chosen as a source. */
  secondary: boolean;
}

export interface Link {
  name: string;
  /** Addresses in the order the kernel lists them (its choice order). */
  addrs: LinkAddr[];
}

export interface Route {
  family: Family;
  table: number;
  type: RouteType;
  dst: Cidr;
  /** Index into Routing.links (-1: no device). */
  dev: number;
  gateway?: Addr;
  prefsrc?: Addr;
  metric: number;
  /** Listing order: the kernel's order among equal prefixes. */
  order: number;
}

export interface PolicyRule {
  family: Family;
  priority: number;
  not: boolean;
  src?: Cidr;
  dst?: Cidr;
  iif?: string;
  oif?: string;
  fwmark?: { value: number; mask: number };
  /** lookup TABLE, or a terminal action. */
  action: 'lookup' | 'blackhole' | 'unreachable' | 'prohibit' | 'nop';
  table: number;
  /** suppress_prefixlength: a lookup result with a prefix this short or shorter is ignored (-1 none). */
  suppressPrefix: number;
}

export interface Routing {
  links: Link[];
  /** Routes of every table; empty when the node's routes were not given. */
  routes: Route[];
  /** Policy rules by priority; the kernel's defaults (local 0, main 32766, default 32767) when not given. */
  rules: PolicyRule[];
  /** Which inputs were given. */
  has: { addrs: boolean; routes: boolean; rules: boolean };
}

/** The kernel's default policy rules of a family. */
export function defaultRules(family: Family): PolicyRule[] {
  const r = (priority: number, table: number): PolicyRule => ({ family, priority, not: false, action: 'lookup', table, suppressPrefix: -1 });
  return [r(0, RT_TABLE.local), r(32766, RT_TABLE.main), r(32767, RT_TABLE.default)];
}
