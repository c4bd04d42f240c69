// explain's JSON must not change by a byte when the drivers get faster: the answers for every
// service of the bundled examples and of a generated node are pinned in a file snapshot (query
// and SHA-256 of its answer's JSON, written before the speed work of session 3), and answers
// given with warm caches (after every other query) equal those of a freshly loaded rule set.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXAMPLES_DIR, readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import { loadRuleset, type LoadedRuleset } from '../../src/ruleset.js';
import { formatAddr } from '../../src/model/addr.js';
import type { Query, RulesetBundle } from '../../src/model/contracts.js';

function queriesOf(rs: LoadedRuleset): Query[] {
  const node = rs.ruleset.node;
  const out: Query[] = [];
  for (const s of rs.services()) {
    if (!s.clusterIP) continue;
    const f = s.clusterIP.includes(':') ? 6 : 4;
    const host = node.addresses.find((a) => a.family === f);
    const pod = node.podCIDRs.some((c) => c.family === f);
    if (pod) out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' });
    if (host) out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'host' });
    out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'external' });
    if (s.nodePort !== undefined && host) out.push({ protocol: s.protocol, destination: formatAddr(host), port: s.nodePort, origin: 'external' });
  }
  out.push({ protocol: 'tcp', destination: out[0]?.destination.includes(':') ? '2001:db8::99' : '10.96.255.254', port: 81, origin: 'external' });
  return out;
}

const g = generateIptables({ services: 40, endpoints: 6, seed: 5 });
const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
const bundles: [string, RulesetBundle][] = [
  ['generated-40', { iptables: g.text, node: g.node }],
  ...['kube-node', 'ipv6-node', 'ipvs-node', 'eks-node', 'calico-node', 'nft-node'].map((n): [string, RulesetBundle] => [n, readNodeDir(join(EXAMPLES_DIR, n))!]),
];

describe('explain answers are stable', () => {
  for (const [name, bundle] of bundles) {
    test(`${name}: pinned answers, and warm caches answer as a fresh load`, async () => {
      const rs = loadRuleset(bundle);
      const qs = queriesOf(rs);
      expect(qs.length).toBeGreaterThan(1);
      const warm = qs.map((q) => JSON.stringify(rs.explain(q)));
      // again in reverse order, caches full of the other queries' steps
      const again = [...qs].reverse().map((q) => JSON.stringify(rs.explain(q))).reverse();
      expect(again).toEqual(warm);
      for (const k of [0, qs.length >> 1, qs.length - 1]) expect(JSON.stringify(loadRuleset(bundle).explain(qs[k]!))).toBe(warm[k]);
      const pinned = qs.map((q, k) => `${sha(warm[k]!)} ${JSON.stringify(q)}`).join('\n');
      await expect(`${pinned}\n`).toMatchFileSnapshot(`./__snapshots__/explain-${name}.txt`);
    });
  }
});
