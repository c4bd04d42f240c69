// explain's shared path steps (src/engine/explain.ts AnswerSteps, wasm-record.ts step interning):
// an answer is the same whatever the caches held when it was made (queries repeated, met in
// another order, on a fresh engine, on the shared form), and a step shared between answers
// cannot be changed through one of them.

import { describe, expect, test } from 'vitest';
import { explain, prepareExplain } from '../../src/engine/explain.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { generateIptables } from '../../src/kube/generate.js';
import { compileShared, openSharedRuleset, openSharedRulesetStepwise } from '../../src/shared-ruleset.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs } from './build.js';

const gen = generateIptables({ services: 300, endpoints: 10, seed: 3 });
const svc = gen.services;
// pod queries with repeats: every service once, then every third again, then a few many times
const queries: Query[] = [
  ...svc.map((s) => s),
  ...svc.filter((_, i) => i % 3 === 0),
  ...Array.from({ length: 60 }, (_, i) => svc[i % 5]!),
].map((s) => ({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const }));

function answersOf(order: number[], make: () => { ask: (q: Query) => unknown }): Map<number, string> {
  const { ask } = make();
  const out = new Map<number, string>();
  for (const i of order) {
    const json = JSON.stringify(ask(queries[i]!));
    const seen = out.get(i);
    if (seen !== undefined) expect(json).toBe(seen);
    else out.set(i, json);
  }
  return out;
}

describe('explain path steps', () => {
  test('answers do not depend on what earlier queries left in the caches', () => {
    const n = queries.length;
    const forward = [...Array(n).keys()];
    const parsed = () => {
      const rs = buildRs(gen.text, { node: gen.node });
      const engine = createWasmEngine(rs, compileRuleset(rs));
      return { ask: (q: Query) => explain(rs, engine, q) };
    };
    const a = answersOf([...forward, ...forward], parsed);
    const b = answersOf([...forward].reverse(), parsed);
    const shared = compileShared({ iptables: gen.text, node: gen.node });
    const c = answersOf([...forward.filter((i) => i % 2 === 1), ...forward], () => {
      const o = openSharedRuleset(shared.shared);
      return { ask: (q: Query) => o.explain(q) };
    });
    for (const i of forward) {
      expect(b.get(i)).toBe(a.get(i));
      expect(c.get(i)).toBe(a.get(i));
    }
  });

  test('path steps are frozen, shared or not, so one answer cannot change another', () => {
    const rs = buildRs(gen.text, { node: gen.node });
    const engine = createWasmEngine(rs, compileRuleset(rs));
    const q = queries[0]!;
    const first = explain(rs, engine, q); // steps this answer made (not yet in the shared cache)
    const again = explain(rs, engine, q); // the same steps, now from the shared cache
    const before = JSON.stringify(first);
    for (const r of [first, again]) {
      for (const o of r.outcomes) {
        for (const step of o.path) {
          expect(Object.isFrozen(step)).toBe(true);
          expect(() => {
            (step as { rule: string }).rule = 'changed';
          }).toThrow(TypeError);
        }
      }
    }
    expect(JSON.stringify(explain(rs, engine, q))).toBe(before);
    expect(JSON.stringify(again)).toBe(before);
  });

  test('a step cache made ahead in pieces (prepareExplain) pauses between them and answers the same', async () => {
    const rs = buildRs(gen.text, { node: gen.node });
    const engine = createWasmEngine(rs, compileRuleset(rs));
    let slots = 1 << 10;
    while (slots < rs.rules.length) slots <<= 1;
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    await prepareExplain(rs, pause, 1024);
    expect(pauses).toBe(slots / 1024);
    await prepareExplain(rs, pause, 1024); // made once: nothing more to do
    expect(pauses).toBe(slots / 1024);
    const fresh = buildRs(gen.text, { node: gen.node });
    const freshEngine = createWasmEngine(fresh, compileRuleset(fresh));
    for (const q of queries.slice(0, 80)) expect(JSON.stringify(explain(rs, engine, q))).toBe(JSON.stringify(explain(fresh, freshEngine, q)));
  });

  test('a set opened stepwise has its step cache made during the open, between its pauses', async () => {
    const shared = compileShared({ iptables: gen.text, node: gen.node });
    let pauses = 0;
    const opened = await openSharedRulesetStepwise(shared.shared, {
      yield: async () => {
        pauses++;
      },
    });
    const during = pauses;
    // made already: preparing again pauses no more
    await prepareExplain(opened.ruleset, async () => {
      pauses++;
    });
    expect(pauses).toBe(during);
    const plain = openSharedRuleset(shared.shared);
    for (const q of queries.slice(0, 80)) expect(JSON.stringify(opened.explain(q))).toBe(JSON.stringify(plain.explain(q)));
  });
});
