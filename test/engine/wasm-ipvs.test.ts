// The WASM engine's IPVS hashes against the kernel's (the reference's ipvs-hash.ts is checked
// against lib/test_siphash.c in ipvs-schedule.test.ts; the wasm SipHash-1-3 must agree with both).

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hsiphashU32, MH_HASH1, MH_HASH2 } from '../../src/engine/ipvs-hash.js';
import { wasmModule } from '../../src/engine/wasm.js';

const ex = new WebAssembly.Instance(wasmModule(), { env: { abort: () => { throw new Error('abort'); } } }).exports as unknown as {
  hsiphashU32(v: number, k0: bigint, k1: bigint): number;
};
const wasmHsip = (v: number, k0: bigint, k1: bigint): number => ex.hsiphashU32(v, k0, k1) >>> 0;

describe('wasm hsiphash (SipHash-1-3, 64-bit kernels)', () => {
  test('the kernel self-test vector (lib/test_siphash.c, len 4)', () => {
    expect(wasmHsip(0x03020100, 0x0706050403020100n, 0x0f0e0d0c0b0a0908n)).toBe(0x88d38328);
  });
  test('equals the reference on random values with the mh keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (v, second) => {
        const [k0, k1] = second ? MH_HASH2 : MH_HASH1;
        expect(wasmHsip(v, k0, k1)).toBe(hsiphashU32(v, k0, k1));
      }),
      { numRuns: 2000 },
    );
  });
});
