// ipset state (`ipset save` / `ipset list`): typed entries so `-m set` can be evaluated exactly.

import type { Cidr, Family } from './addr.js';

/** One dimension of a set type: hash:ip,port,net has dims ['ip','port','net']. */
export type SetDim = 'ip' | 'net' | 'port' | 'iface' | 'mac' | 'mark' | 'set';

/** Dimensions of a set type: "hash:ip,port,net" → ['ip','port','net']; list:set → ['set']. */
export function typeDims(type: string): SetDim[] {
  const colon = type.indexOf(':');
  const dims = type.slice(colon + 1).split(',');
  // An unknown dimension is treated like mac: nothing in a packet decides it (→ uncertain).
  return dims.map((d) => (d === 'ip' || d === 'net' || d === 'port' || d === 'iface' || d === 'mac' || d === 'mark' || d === 'set' ? d : 'mac'));
}

export type EntryPart =
  | { kind: 'addr'; cidr: Cidr } // ip (a /32 or /128, or a range expanded to CIDRs) and net
  | { kind: 'port'; proto: number; lo: number; hi: number } // proto 0 for bitmap:port (no protocol)
  /** hash:net,iface; `wildcard` (ipset's per-entry flag): the name matches as a prefix. */
  | { kind: 'iface'; name: string; physdev: boolean; wildcard?: boolean }
  | { kind: 'mac'; mac: string }
  | { kind: 'mark'; value: number }
  | { kind: 'set'; name: string }; // list:set member

export interface SetEntry {
  parts: EntryPart[];
  nomatch: boolean;
  line: number;
  /** Remaining timeout in seconds when the set has timeouts (informational: the entry exists at dump time). */
  timeout?: number;
  /** `comment "…"` text, when the set has comments. */
  comment?: string;
}

export interface IpSet {
  name: string;
  /** e.g. "hash:ip,port". */
  type: string;
  dims: SetDim[];
  family: Family;
  entries: SetEntry[];
  /** hash:net / hash:ip markmask etc. are kept raw. */
  options: Record<string, string>;
  line: number;
}

export interface IpsetState {
  sets: Map<string, IpSet>;
  /** True when the user supplied an ipset dump at all (a set missing from a supplied dump is still uncertain). */
  supplied: boolean;
}

/** Whether the set keys on an address: then it has one family; otherwise it is family-less (NFPROTO_UNSPEC). */
export function hasAddressDim(set: Pick<IpSet, 'dims'>): boolean {
  return set.dims.some((d) => d === 'ip' || d === 'net');
}
