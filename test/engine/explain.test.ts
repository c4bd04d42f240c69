// The explain driver on its own: depth-first replay order, zero-probability branches, merging
// (summed probability, representative path), sorting, uncertain lists, the path cap.

import { describe, expect, test } from 'vitest';
import { explain, explainPacket, PathExplosionError } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Engine, WalkPacket, WalkRecord } from '../../src/engine/types.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs } from './build.js';
import { expectCasesSumToOne } from './cases.js';
import fc from 'fast-check';
import { arbScenario } from './differential-gen.js';
import type { ResolvedQuery } from '../../src/model/contracts.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };
const Q: Query = { protocol: 'tcp', destination: '10.244.1.5', port: 80 };

function forward(rules: string[], policy = 'ACCEPT') {
  const rs = buildRs(`*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ${policy} [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules.map((r) => `-A FORWARD ${r}`).join('\n')}\nCOMMIT\n`, { node: NODE });
  return { rs, engine: createReferenceEngine(rs) };
}

/** kube-proxy's ladder as a real node prints it: lround(1/(n-i) · 2^31) / 2^31 with 11 decimals. */
function ladder(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = (Math.round(2 ** 31 / (n - i)) / 2 ** 31).toFixed(11);
    out.push(i < n - 1 ? `-m statistic --mode random --probability ${p} -j MARK --set-xmark ${i + 1}/0xffffffff` : `-j MARK --set-xmark ${i + 1}/0xffffffff`);
  }
  return out;
}

describe('explain', () => {
  test('a ladder of n endpoints gives n outcomes of 1/n each, summing to 1 within 1e-9', () => {
    for (const n of [2, 3, 7, 10, 25]) {
      const rules = ladder(n).map((r, i) => r.replace(/-j MARK --set-xmark (\d+)\/0xffffffff/, `-j DNAT --to-destination 10.0.0.${i + 1}`));
      const rs = buildRs(`*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules.map((r) => `-A PREROUTING -p tcp ${r}`).join('\n')}\nCOMMIT\n`, { node: NODE });
      const r = explain(rs, createReferenceEngine(rs), Q);
      expect(r.outcomes).toHaveLength(n);
      expect(Math.abs(r.outcomes.reduce((s, o) => s + o.probability, 0) - 1)).toBeLessThan(1e-9);
      for (const o of r.outcomes) expect(Math.abs(o.probability - 1 / n)).toBeLessThan(1e-8);
      // the k-th endpoint is reached after k failed statistic tests: rulesEvaluated = k + 1
      expect(r.outcomes.map((o) => o.rulesEvaluated).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
    }
  });

  test('equal outcomes merge: probability summed, path of the most likely walk', () => {
    const { rs, engine } = forward(['-m statistic --mode random --probability 0.25 -j MARK --set-xmark 0x1/0xffffffff', '-j ACCEPT']);
    const r = explain(rs, engine, Q);
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0].probability).toBe(1);
    expect(r.outcomes[0].path.map((s) => s.index)).toEqual([2]); // the 0.75 walk skipped the MARK rule
  });

  test('outcomes sort by probability, ties in enumeration order', () => {
    const { rs, engine } = forward(['-m statistic --mode random --probability 0.25 -j DROP', '-m statistic --mode random --probability 0.5 -j REJECT', '-j ACCEPT']);
    expect(explain(rs, engine, Q).outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['reject', 0.375],
      ['accept', 0.375],
      ['drop', 0.25],
    ]);
  });

  test('nth is 1/every in explain', () => {
    const { rs, engine } = forward(['-m statistic --mode nth --every 4 --packet 0 -j DROP']);
    expect(explain(rs, engine, Q).outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['accept', 0.75],
      ['drop', 0.25],
    ]);
  });

  test('top-level uncertain lists each rule once by line; each case is an outcome list of its own', () => {
    const { rs, engine } = forward(['-m time --timestart 09:00 -j MARK --set-xmark 0x1/0xffffffff', '-m string --algo bm --string x -j DROP'], 'ACCEPT');
    const r = explain(rs, engine, Q);
    expect(r.uncertain.map((u) => u.line)).toEqual([5, 6]);
    // each case is one outcome, certain given its case; line 6 tests a packet whose mark line 5
    // may have changed, so it is a different condition in the two cases (three in all)
    expect(r.outcomes.map((o) => [o.verdict, o.probability, o.assumes.map((a) => `${a.line}:${a.holds}`).join(' ')])).toEqual([
      ['drop', 1, '5:true 6:true'],
      ['accept', 1, '5:true 6:false'],
      ['drop', 1, '5:false 6:true'],
      ['accept', 1, '5:false 6:false'],
    ]);
    expect(r.outcomes[0].assumes[1].condition).toMatch(/-m string .* matches 203\.0\.113\.10:40000 → 10\.244\.1\.5:80 \(mark 0x1\)$/);
    expect(r.outcomes[2].assumes[1].condition).toMatch(/-m string .* matches 203\.0\.113\.10:40000 → 10\.244\.1\.5:80$/);
    expect(expectCasesSumToOne(r)).toBe(8);
  });

  test('one unknown condition tested twice takes one value: never a coin flipped per rule', () => {
    // set A not given, DROP policy: accept whether or not the source is in A, never "25% drop"
    const { rs, engine } = forward(['-m set --match-set A src -j ACCEPT', '-m set ! --match-set A src -j ACCEPT'], 'DROP');
    const r = explain(rs, engine, { ...Q, source: '10.0.0.5' });
    expect(r.outcomes.map((o) => [o.verdict, o.probability, o.assumes])).toEqual([
      ['accept', 1, [{ line: 5, condition: '10.0.0.5 in set A (src)', holds: true }]],
      ['accept', 1, [{ line: 5, condition: '10.0.0.5 in set A (src)', holds: false }]],
    ]);
    expect(r.uncertain).toEqual([
      expect.objectContaining({ line: 5, reason: 'ipset A not supplied' }),
      expect.objectContaining({ line: 6, reason: 'ipset A not supplied' }),
    ]);
    expectCasesSumToOne(r);
  });

  test('random rule sets: in every assignment of the unknowns, the agreeing outcomes sum to 1', () => {
    let withUnknowns = 0;
    fc.assert(
      fc.property(arbScenario(), ({ rs, pkts }) => {
        const engine = createReferenceEngine(rs);
        for (const pkt of pkts) {
          let r;
          try {
            r = explainPacket(rs, engine, { pkt, query: {} as ResolvedQuery, warnings: [] }, { maxPaths: 2000 });
          } catch (e) {
            if (e instanceof PathExplosionError) continue;
            throw e;
          }
          const conds = new Set(r.outcomes.flatMap((o) => o.assumes.map((a) => `${a.line}|${a.condition}`)));
          if (conds.size > 10) continue;
          if (conds.size > 0) withUnknowns++;
          expectCasesSumToOne(r);
        }
      }),
      { numRuns: 60 },
    );
    expect(withUnknowns).toBeGreaterThan(10);
  }, 120_000);

  test('the same set on a different address is a different condition', () => {
    // PREROUTING tests the original destination, FORWARD the DNATed one: two variables
    const rs = buildRs(
      `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m set --match-set A dst -j DNAT --to-destination 10.244.2.9\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m set --match-set A dst -j DROP\nCOMMIT\n`,
      { node: NODE },
    );
    const r = explain(rs, createReferenceEngine(rs), Q);
    expect(r.outcomes.map((o) => `${o.verdict} ${o.endpoint} ${o.probability} ${o.assumes.map((a) => `${a.condition}=${a.holds}`).join(', ')}`)).toEqual([
      'drop 10.244.2.9:80 1 10.244.1.5 in set A (dst)=true, 10.244.2.9 in set A (dst)=true',
      'accept 10.244.2.9:80 1 10.244.1.5 in set A (dst)=true, 10.244.2.9 in set A (dst)=false',
      // not DNATed: FORWARD asks the PREROUTING question again and reuses its answer
      'accept 10.244.1.5:80 1 10.244.1.5 in set A (dst)=false',
    ]);
  });

  test('statistic branches inside a case still sum to 1; an unknown never weighs', () => {
    const { rs, engine } = forward(['-m set --match-set A dst -j ACCEPT', '-m statistic --mode random --probability 0.25 -j DROP', '-j REJECT'], 'ACCEPT');
    const r = explain(rs, engine, Q);
    expect(r.outcomes.map((o) => [o.verdict, o.probability, o.assumes.map((a) => a.holds)])).toEqual([
      ['accept', 1, [true]],
      ['reject', 0.75, [false]],
      ['drop', 0.25, [false]],
    ]);
  });

  test('the path cap: PathExplosionError naming the cap; below the cap, fine', () => {
    const marks = Array.from({ length: 7 }, (_, i) => `-m statistic --mode random --probability 0.5 -j MARK --or-mark ${1 << i}`);
    const { rs, engine } = forward(marks);
    expect(() => explain(rs, engine, Q, { maxPaths: 100 })).toThrow(PathExplosionError);
    try {
      explain(rs, engine, Q, { maxPaths: 100 });
    } catch (e) {
      expect((e as PathExplosionError).cap).toBe(100);
    }
    const r = explain(rs, engine, Q, { maxPaths: 128 });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0].probability).toBeCloseTo(1, 12);
  });

  test('engine-independent: replay is depth-first, branch 0 first, zero-probability branches skipped', () => {
    const seen: string[] = [];
    const fake: Engine = {
      name: 'reference',
      walk(pkt: WalkPacket, forced: ArrayLike<number>): WalkRecord {
        const a = forced.length > 0 ? forced[0] : 0;
        const b = forced.length > 1 ? forced[1] : 0;
        seen.push(`${a}${b}`);
        const decisions = [{ probs: [0.5, 0, 0.5], taken: a }];
        if (a === 0) decisions.push({ probs: [0.25, 0.75], taken: b });
        return {
          verdict: a === 2 ? 'drop' : 'accept',
          dst: pkt.dst,
          dport: a === 0 && b === 1 ? 81 : pkt.dport,
          src: pkt.src,
          sport: pkt.sport,
          masquerade: false,
          path: [],
          assumptions: [],
          rulesEvaluated: 1,
          decisions,
          notes: [],
        };
      },
      trace: () => [],
    };
    const rs = buildRs('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', { node: NODE });
    const r = explainPacket(rs, fake, resolveQuery(Q, rs.node));
    expect(seen).toEqual(['00', '01', '20']);
    expect(r.outcomes.map((o) => [o.verdict, o.endpoint, o.probability])).toEqual([
      ['drop', '10.244.1.5:80', 0.5],
      ['accept', '10.244.1.5:81', 0.375],
      ['accept', '10.244.1.5:80', 0.125],
    ]);
  });
});
