// The WASM engine's IPVS hashes against the kernel's (the reference's ipvs-hash.ts is checked
// against lib/test_siphash.c in ipvs-schedule.test.ts; the wasm SipHash-1-3 must agree with both).

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hsiphashU32, MH_HASH1, MH_HASH2 } from '../../src/model/ipvs-hash.js';
import { createWasmEngine, wasmModule } from '../../src/engine/wasm.js';
import { engineExports } from '../../src/engine/wasm-exports.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { buildRs } from './build.js';
import { compareAllWalks } from './differential-support.js';

const ex = engineExports(new WebAssembly.Instance(wasmModule(), { env: { abort: () => { throw new Error('abort'); } } }));
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

describe('wasm IPVS stage limits', () => {
  test('a virtual service with more real servers than one decision holds is scheduled by the host, with the same answer', () => {
    const lines = ['-A -t 10.96.0.1:80 -s wrr'];
    for (let i = 0; i < 9000; i++) lines.push(`-a -t 10.96.0.1:80 -r 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:8080 -m -w 1`);
    lines.push('-A -t 10.96.0.2:80 -s rr', '-a -t 10.96.0.2:80 -r 10.244.1.5:8080 -m -w 1');
    const ipvs = parseIpvs(lines.join('\n') + '\n');
    const rs = buildRs('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', { node: { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] }, ipvs });
    const ref = createReferenceEngine(rs);
    const wasm = createWasmEngine(rs);
    const big = resolveQuery({ protocol: 'tcp', destination: '10.96.0.1', port: 80 }, rs.node).pkt;
    const small = resolveQuery({ protocol: 'tcp', destination: '10.96.0.2', port: 80 }, rs.node).pkt;
    compareAllWalks(ref, wasm, small, 4);
    expect(wasm.stats.hostWalks).toBe(0);
    compareAllWalks(ref, wasm, big, 3);
    expect(wasm.stats.hostWalks).toBeGreaterThan(0);
  });
});
