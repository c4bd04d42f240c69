// Ruleset.chainIds is filled from the chain list on first use (numberRules builds no key strings):
// it must answer exactly as an eagerly built Map of chainKey → id, for iptables (both families)
// and nft tables side by side, through every Map method.
import { describe, expect, it } from 'vitest';
import { readNodeDir, exampleDir } from '../../src/examples.js';
import { buildRuleset } from '../../src/ruleset.js';
import { chainInTable, chainKey, LazyChainIds, type Ruleset } from '../../src/model/ruleset.js';

function eager(rs: Ruleset): Map<string, number> {
  const m = new Map<string, number>();
  rs.chains.forEach((c, id) => m.set(chainKey(c.source === 'nft' ? c.family : c.family === 'ip' ? 4 : 6, c.table, c.chain.name), id));
  return m;
}

function load(name: string): Ruleset {
  const bundle = readNodeDir(exampleDir(name)!)!;
  return buildRuleset(bundle).ruleset;
}

describe('Ruleset.chainIds', () => {
  for (const name of ['kube-node', 'ipv6-node', 'nft-node']) {
    it(`${name}: same entries, in the same order, as the eager map`, () => {
      const rs = load(name);
      expect(rs.chainIds).toBeInstanceOf(LazyChainIds);
      expect(rs.chainIds).toBeInstanceOf(Map);
      const want = eager(rs);
      expect(rs.chains.length).toBeGreaterThan(5);
      // A lookup before any iteration fills it.
      const [firstKey, firstId] = [...want][want.size - 1]!;
      expect(rs.chainIds.get(firstKey)).toBe(firstId);
      expect(rs.chainIds.has('4:nat:NO-SUCH-CHAIN')).toBe(false);
      expect(rs.chainIds.size).toBe(want.size);
      expect([...rs.chainIds]).toEqual([...want]);
      expect([...rs.chainIds.keys()]).toEqual([...want.keys()]);
      expect([...rs.chainIds.values()]).toEqual([...want.values()]);
      const seen: [string, number][] = [];
      rs.chainIds.forEach((id, key) => seen.push([key, id]));
      expect(seen).toEqual([...want]);
    });
  }

  it('resolves jumps within the rule’s table (nft and iptables tables of one node)', () => {
    const rs = load('nft-node');
    const sources = new Set(rs.chains.map((c) => c.source));
    expect(sources).toEqual(new Set(['iptables', 'nft']));
    let checked = 0;
    rs.rules.forEach((r, id) => {
      const t = r.target;
      if (!t || (t.kind !== 'jump' && t.kind !== 'goto')) return;
      const cid = chainInTable(rs, rs.ruleChain[id]!, t.chain);
      expect(cid).toBeGreaterThanOrEqual(0);
      expect(rs.chains[cid]!.chain.name).toBe(t.chain);
      expect(rs.chains[cid]!.tableId).toBe(rs.chains[rs.ruleChain[id]!]!.tableId);
      checked++;
    });
    expect(checked).toBeGreaterThan(10);
  });

  it('set, delete and clear work before and after the first lookup', () => {
    const rs = load('kube-node');
    const a = rs.chainIds;
    const n = eager(rs).size;
    a.set('x:y:z', 99);
    expect(a.size).toBe(n + 1);
    expect(a.delete('4:nat:KUBE-SERVICES')).toBe(true);
    expect(a.has('4:nat:KUBE-SERVICES')).toBe(false);
    expect(a.get('x:y:z')).toBe(99);
    const b = load('kube-node').chainIds;
    b.clear();
    expect(b.size).toBe(0);
    expect(b.get('4:nat:KUBE-SERVICES')).toBeUndefined();
  });
});
