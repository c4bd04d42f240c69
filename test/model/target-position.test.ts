// A parsed jump/goto record carries its chain's position in the table (targetChainPosition), so the
// compiler resolves jumps without a name lookup. The position is invisible to JSON, structuredClone,
// spread and deep equality, and the compiler trusts it only when the chain it points at has the
// target's name in the rule's table: a model built by hand, copied, or edited after parsing
// compiles to the same words as one parsed from its text.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readNodeDir, exampleDir } from '../../src/examples.js';
import { buildRuleset } from '../../src/ruleset.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import { numberRules, type Ruleset } from '../../src/model/ruleset.js';
import { targetChainPosition, type FamilyRules, type Target } from '../../src/model/rule.js';
import { compileRuleset } from '../../src/engine/wasm.js';
import { corpusFile } from '../helpers/fixtures.js';

function compiled(v4: FamilyRules | undefined, base: Ruleset): Int32Array {
  return compileRuleset({ ...base, v4, v6: undefined, nft: undefined, ...numberRules(v4, undefined) }).words;
}

describe('jump targets carry their chain position', () => {
  const bundle = readNodeDir(exampleDir('kube-node')!)!;
  const base = buildRuleset(bundle).ruleset;
  const text = bundle.iptables!;

  it('the position of every parsed jump is its chain\'s index in the table, and no copy shows it', () => {
    const v4 = parseIptablesSave(text).v4!;
    let jumps = 0;
    for (const t of v4.tables.values()) {
      const names = [...t.chains.keys()];
      for (const c of t.chains.values()) {
        for (const r of c.rules) {
          const tg = r.target;
          if (tg?.kind !== 'jump' && tg?.kind !== 'goto') continue;
          jumps++;
          expect(targetChainPosition(tg)).toBe(names.indexOf(tg.chain));
          expect(JSON.parse(JSON.stringify(tg))).toEqual({ kind: tg.kind, chain: tg.chain });
          expect(Object.keys(tg)).toEqual(['kind', 'chain']);
          expect(targetChainPosition(structuredClone(tg))).toBe(-1);
          expect(targetChainPosition({ ...tg })).toBe(-1);
          expect(tg).toStrictEqual({ kind: tg.kind, chain: tg.chain });
        }
      }
    }
    expect(jumps).toBeGreaterThan(20);
  });

  it('compiles to the same words with positions, without them, and after chains were deleted from the parsed tables', () => {
    const want = compiled(parseIptablesSave(text).v4!, base);
    // Without positions: every target a plain copy.
    const plain = parseIptablesSave(text).v4!;
    for (const t of plain.tables.values()) for (const c of t.chains.values()) for (const r of c.rules) if (r.target) r.target = { ...r.target } as Target;
    expect(compiled(plain, base)).toEqual(want);
    // Stale positions: an unused chain declared first in the nat table, deleted from the parsed
    // model, moves every later chain; the same dump with a comment in its place keeps the line numbers.
    const withExtra = text.replace('\n*nat\n', '\n*nat\n:AAA-UNUSED - [0:0]\n');
    expect(withExtra).not.toBe(text);
    const edited = parseIptablesSave(withExtra).v4!;
    expect(edited.tables.get('nat')!.chains.delete('AAA-UNUSED')).toBe(true);
    const reparsed = parseIptablesSave(withExtra.replace(':AAA-UNUSED - [0:0]', '# removed')).v4!;
    const natNames = [...edited.tables.get('nat')!.chains.keys()];
    const stale = [...edited.tables.get('nat')!.chains.values()].flatMap((c) => c.rules).filter((r) => r.target?.kind === 'jump' && targetChainPosition(r.target) !== natNames.indexOf(r.target.chain));
    expect(stale.length).toBeGreaterThan(5);
    expect(compiled(edited, base)).toEqual(compiled(reparsed, base));
  });

  // Users' pastes (test/corpus): headerless `-S` output, grep fragments, iptables-nft dumps with
  // counters. Every position the parser records is its chain's index, and the words are the same
  // with positions as with plain copies of every target.
  // Refused even leniently, by design (an `iptables -L` listing; a line wrapped mid-word): test/corpus.test.ts checks those answers.
  const refused = new Set(['k3s-iptables-L', 'kubeadm-wrapped-line']);
  const corpus = readdirSync(fileURLToPath(new URL('../corpus', import.meta.url))).filter((n) => corpusFile(n, 'iptables.txt') !== undefined && !refused.has(n));
  it.each(corpus)('on the corpus paste %s: positions are table indexes, and compile gives the same words without them', (name) => {
    const text = corpusFile(name, 'iptables.txt')!;
    const built = buildRuleset({ iptables: text }, { lenient: true }).ruleset;
    let jumps = 0;
    for (const t of built.v4?.tables.values() ?? []) {
      const names = [...t.chains.keys()];
      for (const c of t.chains.values()) {
        for (const r of c.rules) {
          const tg = r.target;
          if (tg?.kind !== 'jump' && tg?.kind !== 'goto') continue;
          jumps++;
          expect(targetChainPosition(tg)).toBe(names.indexOf(tg.chain));
        }
      }
    }
    const want = compileRuleset(built).words;
    const plain = buildRuleset({ iptables: text }, { lenient: true }).ruleset;
    for (const r of plain.rules) if (r.target) r.target = { ...r.target } as Target;
    expect(compileRuleset(plain).words).toEqual(want);
    if (jumps === 0) expect(built.rules.every((r) => r.target?.kind !== 'jump' && r.target?.kind !== 'goto')).toBe(true);
  });
});
