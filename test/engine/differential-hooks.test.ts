// The reference walk is the oracle for the WASM engine, now with nft base chains beside the
// iptables tables: several base chains per hook at random priorities (nat chains at different
// priorities, accepts in early chains, equal priorities, inet tables, evalCost 0/2 rules).
// Every walk (all decision branches, ties included) and every trace batch must be identical.
// Trace batches and the IPVS stage are differential-hooks-ipvs.test.ts (split to balance workers).

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { arbScenario } from './differential-gen.js';
import { compareAllWalks } from './differential-support.js';

describe('wasm engine = reference engine with nft base chains', () => {
  test('every walk of random iptables + nft rule sets and packets', () => {
    let walks = 0;
    let ties = 0;
    let nftSteps = 0;
    fc.assert(
      fc.property(arbScenario({ nft: true }), ({ rs, pkts }) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) {
          walks += compareAllWalks(ref, wasm, p, 32);
          const w = ref.walk(p, []);
          if (w.assumptions.some((u) => u.order)) ties++;
          if (w.path.some((s) => s.kind === 'rule' && rs.chains[rs.ruleChain[s.rule]].source === 'nft')) nftSteps++;
        }
        expect(wasm.stats.hostWalks).toBe(0);
      }),
      { numRuns: 120 },
    );
    expect(walks).toBeGreaterThan(200);
    // the generator does reach what this test is about
    expect(ties).toBeGreaterThan(20);
    expect(nftSteps).toBeGreaterThan(50);
  }, 240_000);
});
