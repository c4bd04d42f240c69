// ChainNames resolves jump targets exactly as the per-table Map it replaced: (table, name) → the
// last chain id with that name in that table, -1 when the table has none.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChainNames } from '../../src/compile/chain-names.js';

function byMap(names: string[], tables: number[]): (table: number, name: string) => number {
  const maps: Map<string, number>[] = [];
  names.forEach((n, id) => (maps[tables[id]!] ??= new Map()).set(n, id));
  return (table, name) => maps[table]?.get(name) ?? -1;
}

describe('ChainNames', () => {
  it('answers as a Map per table, for names present, absent, repeated and shared across tables', () => {
    const name = fc.oneof(fc.constantFrom('KUBE-SERVICES', 'KUBE-MARK-MASQ', 'INPUT', ''), fc.string({ maxLength: 30 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), name), { maxLength: 200 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), name), { maxLength: 50 }), (chains, queries) => {
        const names = chains.map((c) => c[1]);
        const tables = Int32Array.from(chains.map((c) => c[0]));
        const ours = new ChainNames(names, tables);
        const ref = byMap(names, [...tables]);
        for (const [t, n] of [...chains, ...queries]) expect(ours.get(t, n)).toBe(ref(t, n));
      }),
      { numRuns: 300 },
    );
  });

  it('resolves 100k kube-proxy-like names, each to its own id', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `KUBE-SEP-${(i * 2654435761 >>> 0).toString(36).toUpperCase().padStart(16, 'X')}`);
    const tables = new Int32Array(names.length).fill(2);
    const ours = new ChainNames(names, tables);
    for (let i = 0; i < names.length; i += 997) expect(ours.get(2, names[i]!)).toBe(i);
    expect(ours.get(1, names[0]!)).toBe(-1);
    expect(ours.get(2, 'KUBE-SEP-NOPE')).toBe(-1);
  });
});
