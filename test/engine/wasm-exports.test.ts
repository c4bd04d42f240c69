// src/engine/wasm-exports.ts describes build/engine.wasm's exports; this reads the binary's own
// type, import, function and export sections and fails when the two disagree (a missing or extra
// export, a different kind, parameter or result type).

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ENGINE_EXPORTS, engineExports } from '../../src/engine/wasm-exports.js';
import { wasmModule } from '../../src/engine/wasm.js';

const VALTYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64' };
const KINDS = ['function', 'table', 'memory', 'global'];

/** Every export of a wasm binary with its kind, and for functions their parameter and result types. */
function exportsOf(bytes: Uint8Array): Record<string, { kind: string; params?: string[]; results?: string[] }> {
  let at = 8; // magic + version
  const u32 = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]!;
      v |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return v >>> 0;
    }
  };
  const name = (): string => {
    const n = u32();
    const s = Buffer.from(bytes.subarray(at, at + n)).toString('utf8');
    at += n;
    return s;
  };
  const types: { params: string[]; results: string[] }[] = [];
  const funcTypes: number[] = [];
  const out: Record<string, { kind: string; params?: string[]; results?: string[] }> = {};
  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = u32();
    const end = at + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        expect(bytes[at++]).toBe(0x60);
        const params = Array.from({ length: u32() }, () => VALTYPES[bytes[at++]!]!);
        const results = Array.from({ length: u32() }, () => VALTYPES[bytes[at++]!]!);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        name();
        name();
        const kind = bytes[at++]!;
        if (kind === 0) funcTypes.push(u32());
        else throw new Error(`import of kind ${kind}: extend this reader`);
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(u32());
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const en = name();
        const kind = bytes[at++]!;
        const idx = u32();
        out[en] = kind === 0 ? { kind: 'function', ...types[funcTypes[idx]!]! } : { kind: KINDS[kind]! };
      }
    }
    at = end;
  }
  return out;
}

describe('wasm-exports.ts describes build/engine.wasm', () => {
  const bytes = readFileSync(new URL('../../build/engine.wasm', import.meta.url));
  const actual = exportsOf(bytes);

  test('the binary reader agrees with WebAssembly.Module.exports', () => {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => `${e.name}:${e.kind}`);
    expect(Object.entries(actual).map(([n, d]) => `${n}:${d.kind}`).sort()).toEqual(names.sort());
  });

  test('same exports, kinds and signatures as the description', () => {
    const described = Object.fromEntries(
      Object.entries(ENGINE_EXPORTS).map(([n, d]) => [n, d.kind === 'function' ? { kind: d.kind, params: [...d.params], results: [...d.results] } : { kind: d.kind }]),
    );
    expect(actual).toEqual(described);
  });

  test('engineExports refuses an instance that lacks a described export', () => {
    const inst = new WebAssembly.Instance(wasmModule(), {});
    expect(engineExports(inst).heapBase()).toBeGreaterThan(0);
    const fake = { exports: { ...inst.exports, walk: () => 0 } } as unknown as WebAssembly.Instance;
    expect(() => engineExports(fake)).toThrow(/export walk/);
  });
});
