// The reference walk is the oracle for the WASM engine (DESIGN.md "Testing"), with node state
// beside the rules: supplied ipsets, IPVS state, the node's own routing. Split from
// differential.test.ts so vitest's two workers can run the two halves of the property runs at once.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { parseIpsets } from '../../src/parse/ipset.js';
import { arbScenario, DIFF_IPSETS_TEXT } from './differential-gen.js';
import { compareAllWalks } from './differential-support.js';

describe('wasm engine = reference engine, with node state', () => {
  test('supplied ipsets of every modelled type: the whole walk stays in wasm', () => {
    const ipsets = parseIpsets(DIFF_IPSETS_TEXT);
    let walks = 0;
    fc.assert(
      fc.property(arbScenario({ ipsets }), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) walks += compareAllWalks(ref, wasm, p, 16);
        expect(wasm.trace(pkts, seed)).toEqual(ref.trace(pkts, seed));
        expect(wasm.stats.hostWalks).toBe(0);
        expect(wasm.stats.hostTraces).toBe(0);
      }),
      { numRuns: 250 },
    );
    expect(walks).toBeGreaterThan(250);
  }, 180_000);

  test('IPVS state (every scheduler, fwmark/FTP/port-0 lookup, connection counts, gate/ipip) and ipsets: the whole walk stays in wasm', () => {
    const ipsets = parseIpsets(DIFF_IPSETS_TEXT);
    let walks = 0;
    let scheduled = 0;
    fc.assert(
      fc.property(arbScenario({ ipsets, ipvs: true }), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) {
          walks += compareAllWalks(ref, wasm, p, 16);
          if (ref.walk(p, []).path.some((s) => s.kind === 'ipvs')) scheduled++;
        }
        expect(wasm.trace(pkts, seed)).toEqual(ref.trace(pkts, seed));
        expect(wasm.stats.hostWalks).toBe(0);
        expect(wasm.stats.hostTraces).toBe(0);
      }),
      { numRuns: 300 },
    );
    expect(walks).toBeGreaterThan(300);
    expect(scheduled).toBeGreaterThan(30); // ~20% of the generated packets are scheduled (~60 of 300 runs)
  }, 240_000);

  test('the node own routing (addresses, routes of several tables, policy rules): same walks and traces', () => {
    let walks = 0;
    let routed = 0;
    fc.assert(
      fc.property(arbScenario({ routing: true }), fc.integer({ min: 0, max: 0xffffffff }), ({ rs, pkts }, seed) => {
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const p of pkts) {
          walks += compareAllWalks(ref, wasm, p, 16);
          const w = ref.walk(p, []);
          if (w.outIface && !['eth0', 'cni0', 'lo', 'eni+', 'cali+'].includes(w.outIface) || w.notes.some((n) => n.startsWith('routing:'))) routed++;
        }
        expect(wasm.trace(pkts, seed)).toEqual(ref.trace(pkts, seed));
        expect(wasm.stats.hostWalks).toBe(0);
      }),
      { numRuns: 150 },
    );
    expect(walks).toBeGreaterThan(150);
    expect(routed).toBeGreaterThan(20);
  }, 240_000);
});
