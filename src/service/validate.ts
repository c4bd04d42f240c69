// Address checks at the API edge, so a malformed address is a 400 naming its field before any
// work is queued (model/addr-check.ts: ip-num, the same checks the library makes).

import { isCidrNotation, isIpAddress } from '../model/addr-check.js';
import { ApiError } from './errors.js';
import type { NodeInput, Query } from '../model/contracts.js';

function bad(field: string, what: string, value: string): ApiError {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return new ApiError('invalid-field', `${field} must be ${what}, got ${JSON.stringify(shown)}`, { field });
}

export function checkQuery(q: Query, prefix: string): void {
  if (!isIpAddress(q.destination)) throw bad(`${prefix}/destination`, 'an IPv4 or IPv6 address', q.destination);
  if (q.source !== undefined && !isIpAddress(q.source)) throw bad(`${prefix}/source`, 'an IPv4 or IPv6 address', q.source);
  if (q.source !== undefined && q.source.includes(':') !== q.destination.includes(':')) {
    throw new ApiError('invalid-field', `${prefix}/source and destination must be the same address family`, {
      field: `${prefix}/source`,
    });
  }
  q.recent?.forEach((r, i) => {
    if (!isIpAddress(r.address)) throw bad(`${prefix}/recent/${i}/address`, 'an IPv4 or IPv6 address', r.address);
  });
}

export function checkNode(node: NodeInput | undefined, prefix: string): void {
  node?.addresses?.forEach((a, i) => {
    if (!isIpAddress(a)) throw bad(`${prefix}/addresses/${i}`, 'an IPv4 or IPv6 address', a);
  });
  node?.podCIDRs?.forEach((c, i) => {
    if (!isCidrNotation(c)) throw bad(`${prefix}/podCIDRs/${i}`, 'an address prefix such as 10.244.0.0/16', c);
  });
}
