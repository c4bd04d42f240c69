// Reading explain answers in the dashboard: cases from assumptions (`assumes`), the path grouped by
// hook and chain, and the CLI/curl forms.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNodeDir } from '../../src/examples.js';
import { loadRuleset } from '../../src/index.js';
import { casesOf, cliFor, groupPath, keySteps } from '../../web/src/answer.js';
import type { ExplainResult, PathStep } from '../../web/src/api.js';

const example = readNodeDir(new URL('../../examples/kube-node/', import.meta.url).pathname)!;
const rs = loadRuleset(example, { engine: 'reference' });

describe('casesOf', () => {
  it('one case when nothing is assumed (field absent or empty)', () => {
    const r = rs.explain({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' });
    const cases = casesOf(r);
    expect(cases).toHaveLength(1);
    expect(cases[0].outcomes.map((o) => o.index).sort()).toEqual(r.outcomes.map((_, i) => i));
  });
  it('groups outcomes by assumptions', () => {
    const text = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set BLOCKED src -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n';
    const r = loadRuleset({ iptables: text, node: { addresses: ['192.168.0.10'] } }, { engine: 'reference' }).explain({ protocol: 'tcp', destination: '192.168.0.10', port: 22 });
    const cases = casesOf(r);
    expect(cases).toHaveLength(2);
    for (const c of cases) {
      expect(c.assumes).toHaveLength(1);
      expect(c.assumes[0].line).toBe(3);
    }
    expect(cases.map((c) => c.outcomes[0].o.verdict).sort()).toEqual(['accept', 'drop']);
    // Cases follow the assumptions, whatever the conditions say.
    const agreed: ExplainResult = {
      ...r,
      outcomes: r.outcomes.map((o) => ({ ...o, probability: 1, assumes: [{ line: 3, condition: '203.0.113.10 in set BLOCKED (src)', holds: o.verdict === 'drop' }] })),
    };
    const again = casesOf(agreed);
    expect(again).toHaveLength(2);
    expect(again.map((c) => c.assumes[0].holds).sort()).toEqual([false, true]);
  });
});

describe('casesOf on the nft example node', () => {
  it('a condition listed both ways does not split cases and is shown as holding either way', () => {
    const ex = (f: string): string => readFileSync(new URL(`../../examples/nft-node/${f}`, import.meta.url), 'utf8');
    const nft = loadRuleset({ nftables: ex('nftables.txt'), iptables: ex('iptables.txt'), node: JSON.parse(ex('node.json')) }, { engine: 'reference' });
    const r = nft.explain({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' });
    const cases = casesOf(r);
    for (const c of cases) {
      const keys = c.assumes.map((a) => `${a.line}:${a.condition}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const e of c.either) expect(keys).not.toContain(`${e.line}:${e.condition}`);
      // Within a case the probabilities are conditional on its assumptions: they sum to 1.
      expect(c.outcomes.reduce((s, x) => s + x.o.probability, 0)).toBeCloseTo(1, 9);
    }
  });
});

describe('groupPath', () => {
  it('draws the example path hook by hook, user chains under the hook they were jumped to from', () => {
    const r = rs.explain({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' });
    const path = r.outcomes[0].path;
    const groups = groupPath(path);
    expect(groups.map((g) => g.hook)).toEqual(['PREROUTING', 'FORWARD', 'POSTROUTING']);
    expect(groups.flatMap((g) => g.runs.flatMap((run) => run.steps.map((s) => s.i)))).toEqual(path.map((_, i) => i));
    const k = keySteps(path);
    expect(path[k.dnat].rule).toContain('-j DNAT');
    expect(k.last).toBe(path.length - 1);
  });
  it('groups nft steps (family, handle) by their base chain hook, IPVS as its own stage', () => {
    const path: PathStep[] = [
      { family: 'ip', table: 'kube-proxy', chain: 'nat-prerouting', line: 10, handle: 4, rule: 'jump services' },
      { family: 'ip', table: 'kube-proxy', chain: 'services', line: 20, handle: 9, rule: 'ip daddr . meta l4proto . th dport vmap @service-ips' },
      { family: 'ip', table: 'kube-proxy', chain: 'endpoint-X', line: 30, handle: 12, rule: 'meta l4proto tcp dnat to 10.244.0.5:8080' },
      { family: 'ip', table: 'ipvs', chain: 'IPVS', line: 3, rule: '-A -t 10.96.0.1:443 -s rr', ipvs: '10.244.0.5:8080' },
      { family: 'inet', table: 'filter', chain: 'forward', line: 40, handle: 2, rule: 'accept' },
    ];
    const groups = groupPath(path);
    expect(groups.map((g) => g.hook)).toEqual(['PREROUTING', 'IPVS', 'FORWARD']);
    expect(groups[0].runs.map((r) => r.chain)).toEqual(['nat-prerouting', 'services', 'endpoint-X']);
    expect(keySteps(path).dnat).toBe(3);
  });
});

describe('cliFor', () => {
  it('names the files this browser uploaded, or the bundled example', () => {
    const q = { protocol: 'tcp' as const, destination: 'fd00::1', port: 80, origin: 'pod' as const };
    expect(cliFor('example', q, undefined, [])).toBe('landfall explain --example kube-node --proto tcp --dst [fd00::1]:80 --origin pod --json');
    const known = { id: 'x', label: '', at: 0, nodeAddresses: [], files: { iptables: "my dump.txt", node: 'node.json' } };
    expect(cliFor('x', q, known, [])).toBe("landfall explain --iptables 'my dump.txt' --node 'node.json' --proto tcp --dst [fd00::1]:80 --origin pod --json");
  });
});
