// The one layout definition (src/compile/layout.ts) is read by tsc and by asc: check it is plain
// integer constants, that the memory regions JS owns are ordered without overlap, and that the
// module asc built from it (build/engine.wasm) is valid and exports what src/engine/wasm.ts calls.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as L from '../../src/compile/layout.js';
import { ENGINE_EXPORTS } from '../../src/engine/wasm-exports.js';

describe('layout.ts', () => {
  test('only integer constants (the common subset of TS and AssemblyScript)', () => {
    const src = readFileSync(new URL('../../src/compile/layout.ts', import.meta.url), 'utf8');
    for (const line of src.split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('//') || t.startsWith('/**') || t.startsWith('*')) continue;
      expect(line).toMatch(/^export const [A-Z][A-Z0-9_]* = [-A-Za-z0-9_+* ()]+;( \/\/.*)?$/);
    }
    for (const [k, v] of Object.entries(L)) expect(Number.isInteger(v), k).toBe(true);
  });

  test('memory regions are ordered, sized and do not overlap', () => {
    const regions: [string, number, number][] = [
      ['input packets', L.IN_BYTES, L.MAX_BATCH * L.PKT_WORDS * 4],
      ['forced branches', L.FORCED_BYTES, L.MAX_FORCED * 4],
      ['trace output', L.TRACE_OUT_BYTES, L.MAX_BATCH * L.TRACE_WORDS * 4],
      ['walk output', L.OUT_BYTES, L.O_WORDS * 4],
      ['probabilities', L.PROBS_BYTES, L.MAX_PROBS * 8],
      ['nth counters', L.STATE_BYTES, L.MAX_NTH * 4],
      ['jump stack', L.STACK_BYTES, L.MAX_DEPTH * 8],
      ['recent table', L.RECENT_BYTES, L.RECENT_SLOTS * L.RECENT_WORDS * 4],
      ['connection pairs', L.CONN_BYTES, L.MAX_CONNS * 8],
      ['IPVS scratch', L.BR_BYTES, L.MAX_REALS * 12],
      ['trace assumptions', L.TASM_BYTES, L.MAX_TASM * L.ASM_WORDS * 4],
      ['column families', L.CI_FAMILY, L.COLS],
      ['column protocols', L.CI_PROTO, L.COLS],
      ['column origins', L.CI_ORIGIN, L.COLS],
      ['column source ports', L.CI_SPORT, L.COLS * 2],
      ['column destination ports', L.CI_DPORT, L.COLS * 2],
      ['column sources', L.CI_SRC, L.COLS * 16],
      ['column destinations', L.CI_DST, L.COLS * 16],
      ['result verdicts', L.CO_VERDICT, L.COLS],
      ['result masquerade', L.CO_MASQ, L.COLS],
      ['result ports', L.CO_DPORT, L.COLS * 2],
      ['result rules', L.CO_RULES, L.COLS * 4],
      ['result destinations', L.CO_DST, L.COLS * 16],
      ['result sources', L.CO_SRC, L.COLS * 16],
      ['template index', L.CT_INDEX, L.CT_KEYS * 4],
      ['templates', L.CT_PKTS, L.MAX_TEMPLATES * L.PKT_WORDS * 4],
      ['column status', L.CO_STATUS, 4],
    ];
    expect(L.IN_BYTES).toBeGreaterThanOrEqual(L.IO_BASE_BYTES);
    for (let i = 0; i < regions.length; i++) {
      const [name, at, size] = regions[i];
      const next = i + 1 < regions.length ? regions[i + 1][1] : L.RS_BASE_BYTES;
      expect(at + size, `${name} ends before the next region`).toBeLessThanOrEqual(next);
      expect(at % 8, `${name} is 8-byte aligned`).toBe(0);
    }
    // walk output lists fit their head counts
    expect(L.O_PATH).toBeGreaterThanOrEqual(L.O_NPROBS + 1);
    expect(L.O_ASM).toBe(L.O_PATH + L.MAX_PATH * 2);
    expect(L.AS_KEY + L.KEY_WORDS).toBe(L.ASM_WORDS);
    expect(L.K_IFB + 5).toBe(L.KEY_WORDS);
    expect(L.O_NOTES + L.MAX_NOTES * L.NOTE_WORDS).toBe(L.O_WORDS);
    expect(L.RECENT_SLOTS & (L.RECENT_SLOTS - 1)).toBe(0);
  });

  test('asc compiled the engine from it: valid module with the entry points the loader uses', () => {
    const bytes = readFileSync(new URL('../../build/engine.wasm', import.meta.url));
    expect(WebAssembly.validate(bytes)).toBe(true);
    const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name).sort();
    expect(names).toEqual(Object.keys(ENGINE_EXPORTS).sort()); // signatures: test/engine/wasm-exports.test.ts
  });
});
