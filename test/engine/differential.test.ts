// The reference walk is the oracle for the WASM engine (DESIGN.md "Testing"): random rule sets
// using every modelled match and target, random packets; every walk (all decision branches, by
// replay) and every trace batch must be identical, record for record.
// The same with node state (ipsets, IPVS, routing) is differential-state.test.ts.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { arbScenario } from './differential-gen.js';
import { compareAllWalks } from './differential-support.js';

describe('wasm engine = reference engine', () => {
  test('every walk of random rule sets and packets (index runs from 2 rules)', () => {
    let walks = 0;
    fc.assert(
      fc.property(arbScenario(), ({ rs, pkts }) => {
        const ref = createReferenceEngine(rs);
        // minRun 2: the generated runs of -d X rules are short, and the index must still be exact.
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) walks += compareAllWalks(ref, wasm, p, 32);
        // Without supplied ipsets or IPVS state, every walk is the wasm's own (no hidden fallback).
        expect(wasm.stats.hostWalks).toBe(0);
      }),
      { numRuns: 250 },
    );
    expect(walks).toBeGreaterThan(250);
  }, 180_000);

  test('trace batches: same PRNG stream, statistic draws, nth counters', () => {
    fc.assert(
      fc.property(arbScenario(), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        const batch = [...pkts, ...pkts, ...pkts];
        expect(wasm.trace(batch, seed)).toEqual(ref.trace(batch, seed));
        expect(wasm.stats.hostTraces).toBe(0);
      }),
      { numRuns: 200 },
    );
  }, 180_000);

  test('the default index threshold gives the same walks', () => {
    fc.assert(
      fc.property(arbScenario(), ({ rs, pkts }) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs);
        for (const p of pkts) compareAllWalks(ref, wasm, p, 16);
      }),
      { numRuns: 60 },
    );
  }, 180_000);
});
