// The explain driver on its own: depth-first replay order, zero-probability branches, merging
// (summed probability, representative path), sorting, uncertain lists, the path cap.

import { describe, expect, test } from 'vitest';
import { explain, explainPacket, PathExplosionError } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Engine, WalkPacket, WalkRecord } from '../../src/engine/types.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs } from './build.js';

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

  test('top-level uncertain lists each rule once by line; outcomes carry what they assumed', () => {
    const { rs, engine } = forward(['-m time --timestart 09:00 -j MARK --set-xmark 0x1/0xffffffff', '-m string --algo bm --string x -j DROP'], 'ACCEPT');
    const r = explain(rs, engine, Q);
    expect(r.uncertain.map((u) => u.line)).toEqual([5, 6]);
    expect(r.outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['drop', 0.5],
      ['accept', 0.5],
    ]);
    // accept happens with either assumption about line 5, and "no match" on line 6
    expect(r.outcomes[1].assumes.map((u) => `${u.line}:${u.holds}`)).toEqual(['5:true', '5:false', '6:false']);
    // the condition names why it is unknown and the rule that tests it
    expect(r.outcomes[1].assumes[2].condition).toMatch(/string.*: -A FORWARD .*-m string/);
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
          uncertain: [],
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
