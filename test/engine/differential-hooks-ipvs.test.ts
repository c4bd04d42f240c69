// The reference walk is the oracle for the WASM engine with nft base chains beside the iptables
// tables (see differential-hooks.test.ts): trace batches, and IPVS state among the base chains.
// Split from differential-hooks.test.ts so vitest's two workers can run the halves at once.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { parseIpsets } from '../../src/parse/ipset.js';
import { arbScenario, DIFF_IPSETS_TEXT } from './differential-gen.js';
import { compareAllWalks } from './differential-support.js';

describe('wasm engine = reference engine with nft base chains: traces, IPVS', () => {
  test('trace batches: same draws for ties, statistic, nth', () => {
    fc.assert(
      fc.property(arbScenario({ nft: true }), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        const batch = [...pkts, ...pkts];
        expect(wasm.trace(batch, seed)).toEqual(ref.trace(batch, seed));
        expect(wasm.stats.hostTraces).toBe(0);
      }),
      { numRuns: 100 },
    );
  }, 240_000);

  test('with IPVS state and ipsets: the IPVS stage among the base chains', () => {
    const ipsets = parseIpsets(DIFF_IPSETS_TEXT);
    let walks = 0;
    fc.assert(
      fc.property(arbScenario({ nft: true, ipvs: true, ipsets }), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) walks += compareAllWalks(ref, wasm, p, 16);
        expect(wasm.trace(pkts, seed)).toEqual(ref.trace(pkts, seed));
        expect(wasm.stats.hostWalks).toBe(0);
      }),
      { numRuns: 120 },
    );
    expect(walks).toBeGreaterThan(120);
  }, 240_000);
});
