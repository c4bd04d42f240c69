// explain replays one packet many times, and the wasm engine makes that cheap: the packet is
// written to wasm memory once (until trace or traceColumns overwrite it), and records share the
// decisions and addresses they have in common with earlier walks. Neither may change an answer:
// every walk, replayed in any order, interleaved with trace batches and columnar traces, and kept
// while later walks run, equals the reference walk's record.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { columnsOf, traceColumns } from '../../src/engine/columns.js';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Engine, WalkPacket, WalkRecord } from '../../src/engine/types.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { generateIptables } from '../../src/kube/generate.js';
import { loadRuleset } from '../../src/ruleset.js';
import { arbScenario } from './differential-gen.js';
import { normalize } from './differential-support.js';

/** Every forced-branch list of `pkt`'s walks, depth-first as explain enumerates them (reference). */
function forcedLists(ref: Engine, pkt: WalkPacket, cap: number): number[][] {
  const out: number[][] = [];
  const stack: number[][] = [[]];
  while (stack.length > 0 && out.length < cap) {
    const forced = stack.pop()!;
    out.push(forced);
    const r = ref.walk(pkt, forced);
    for (let i = r.decisions.length - 1; i >= forced.length; i--) {
      const d = r.decisions[i];
      for (let br = d.probs.length - 1; br >= 1; br--) if (d.probs[br] > 0) stack.push([...r.decisions.slice(0, i).map((x) => x.taken), br]);
    }
  }
  return out;
}

describe('replayed walks in the wasm engine', () => {
  test('interleaved with other packets and trace batches, kept records stay equal to the reference', () => {
    let compared = 0;
    fc.assert(
      fc.property(arbScenario(), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        const kept: [WalkRecord, WalkRecord][] = [];
        for (let k = 0; k < pkts.length; k++) {
          const p = pkts[k];
          const other = pkts[(k + 1) % pkts.length];
          for (const [j, forced] of forcedLists(ref, p, 12).entries()) {
            kept.push([wasm.walk(p, forced), ref.walk(p, forced)]);
            // Overwrite the wasm input region in between: another packet's walk or a trace batch.
            if (j % 3 === 1) wasm.walk(other, []);
            if (j % 3 === 2) expect(wasm.trace([other, p], seed)).toEqual(ref.trace([other, p], seed));
          }
        }
        for (const [w, r] of kept) expect(normalize(w)).toEqual(normalize(r));
        compared += kept.length;
      }),
      { numRuns: 40 },
    );
    expect(compared).toBeGreaterThan(80);
  }, 180_000);

  test('explain on a generated node: the same answers around columnar traces, and equal to the reference engine', () => {
    const g = generateIptables({ services: 30, endpoints: 7, seed: 3 });
    const loaded = loadRuleset({ iptables: g.text, node: g.node });
    const rs = loaded.ruleset;
    const wasm = createWasmEngine(rs);
    const ref = createReferenceEngine(rs);
    const queries = g.services.map((s) => ({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const }));
    const cols = columnsOf(queries.map((q) => ({ ...q, source: '10.244.1.7', sourcePort: 33000 })));
    // an engine whose every walk is followed by a columnar trace (it overwrites the input region)
    const busy: Engine = {
      ...wasm,
      walk(p, forced) {
        const r = wasm.walk(p, forced);
        traceColumns(rs.node, wasm, cols, 1);
        return r;
      },
    };
    let walks = 0;
    for (const q of queries) {
      const want = JSON.stringify(explain(rs, ref, q));
      expect(JSON.stringify(explain(rs, busy, q))).toBe(want);
      expect(JSON.stringify(explain(rs, wasm, q))).toBe(want);
      walks += forcedLists(ref, resolveQuery(q, rs.node).pkt, 100).length;
    }
    expect(walks).toBeGreaterThan(queries.length * 2);
    expect(wasm.stats.hostWalks).toBe(0);
  });
});
