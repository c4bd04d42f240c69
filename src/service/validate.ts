// Address checks at the API edge, so a malformed address is a 400 naming its field before any
// work is queued. ip-num is thorough but slow (~30× a hand parser): fine for a handful of fields
// per request, never used on dumps.

import ipnum from 'ip-num';
import { ApiError } from './errors.js';
import type { NodeInput, Query } from '../model/contracts.js';

const { Validator } = ipnum;

export function isAddress(s: string): boolean {
  return s.includes(':') ? Validator.isValidIPv6String(s)[0] : Validator.isValidIPv4String(s)[0];
}

/** "a.b.c.d/len" or "v6/len"; host bits may be set (kubelet prints them that way sometimes). */
export function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len)) return false;
  const max = addr.includes(':') ? 128 : 32;
  return Number(len) <= max && isAddress(addr);
}

function bad(field: string, what: string, value: string): ApiError {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return new ApiError('invalid-field', `${field} must be ${what}, got ${JSON.stringify(shown)}`, { field });
}

export function checkQuery(q: Query, prefix: string): void {
  if (!isAddress(q.destination)) throw bad(`${prefix}/destination`, 'an IPv4 or IPv6 address', q.destination);
  if (q.source !== undefined && !isAddress(q.source)) throw bad(`${prefix}/source`, 'an IPv4 or IPv6 address', q.source);
  if (q.source !== undefined && q.source.includes(':') !== q.destination.includes(':')) {
    throw new ApiError('invalid-field', `${prefix}/source and destination must be the same address family`, {
      field: `${prefix}/source`,
    });
  }
  q.recent?.forEach((r, i) => {
    if (!isAddress(r.address)) throw bad(`${prefix}/recent/${i}/address`, 'an IPv4 or IPv6 address', r.address);
  });
}

export function checkNode(node: NodeInput | undefined, prefix: string): void {
  node?.addresses?.forEach((a, i) => {
    if (!isAddress(a)) throw bad(`${prefix}/addresses/${i}`, 'an IPv4 or IPv6 address', a);
  });
  node?.podCIDRs?.forEach((c, i) => {
    if (!isCidr(c)) throw bad(`${prefix}/podCIDRs/${i}`, 'an address prefix such as 10.244.0.0/16', c);
  });
}
