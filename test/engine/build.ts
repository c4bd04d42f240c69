// Test support: builds a Ruleset straight from dump text with the real parser, without going
// through loadRuleset (so engine tests do not depend on the other inputs' parsers).

import { readFileSync } from 'node:fs';
import type { IpsetState } from '../../src/model/ipset.js';
import type { IpvsState } from '../../src/model/ipvs.js';
import type { NodeInput } from '../../src/model/contracts.js';
import type { Ruleset } from '../../src/model/ruleset.js';
import { numberRules } from '../../src/model/ruleset.js';
import { resolveNode } from '../../src/engine/packet.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';

export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

export function buildRs(iptables: string, opts: { node?: NodeInput; ipvs?: IpvsState; ipsets?: IpsetState; ip6tables?: string } = {}): Ruleset {
  const d = parseIptablesSave(iptables);
  const six = opts.ip6tables !== undefined ? parseIptablesSave(opts.ip6tables, { family: 6 }) : undefined;
  const v4 = d.v4;
  const v6 = d.v6 ?? six?.v6;
  return {
    v4,
    v6,
    ipsets: opts.ipsets ?? { sets: new Map(), supplied: false },
    ipvs: opts.ipvs,
    node: resolveNode(opts.node, opts.ipvs),
    warnings: d.warnings,
    ...numberRules(v4, v6),
  };
}
