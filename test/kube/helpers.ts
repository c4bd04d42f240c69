import { parseAddr, parseCidr } from '../../src/model/addr.js';
import type { NodeContext, Ruleset } from '../../src/model/ruleset.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';

export interface NodeJson {
  addresses?: string[];
  podCIDRs?: string[];
  interfaces?: { uplink?: string; pods?: string };
}

function iface(name: string | undefined, dflt: string): { name: string; prefix: boolean } {
  const n = name ?? dflt;
  return n.endsWith('+') ? { name: n.slice(0, -1), prefix: true } : { name: n, prefix: false };
}

export function nodeContext(node: NodeJson = {}): NodeContext {
  return {
    addresses: (node.addresses ?? []).map((a) => parseAddr(a)!),
    podCIDRs: (node.podCIDRs ?? []).map((c) => parseCidr(c)!),
    uplink: iface(node.interfaces?.uplink, 'eth0'),
    pods: iface(node.interfaces?.pods, 'cni0'),
    addressesKnown: (node.addresses ?? []).length > 0,
    localRanges: [],
  };
}

/** The parts of a Ruleset service discovery reads, from dump texts (v4 and/or v6). */
export function rulesetOf(texts: string[], node?: NodeJson): Pick<Ruleset, 'v4' | 'v6' | 'node'> {
  const out: Pick<Ruleset, 'v4' | 'v6' | 'node'> = { node: nodeContext(node) };
  for (const t of texts) {
    const p = parseIptablesSave(t);
    if (p.warnings.length) throw new Error(`unexpected parse warnings: ${JSON.stringify(p.warnings.slice(0, 3))}`);
    out.v4 ??= p.v4;
    out.v6 ??= p.v6;
  }
  return out;
}
