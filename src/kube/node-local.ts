// Is an endpoint on this node? Inside one of its pod CIDRs, or one of its addresses (host-network
// endpoints). Shared by the service discoveries of every proxy mode.
import { cidrContains } from '../model/addr.js';
import type { Addr } from '../model/addr.js';
import type { NodeContext } from '../model/ruleset.js';

export function endpointOnNode(addr: Addr, node: NodeContext): boolean {
  return node.podCIDRs.some((c) => cidrContains(c, addr)) || node.addresses.some((a) => a.family === addr.family && a.w.every((x, i) => x === addr.w[i]));
}
