// The exports of build/engine.wasm (assembly/index.ts), described once: each function's wasm
// parameter and result types, from which the TypeScript type the engine calls is derived (as
// es-module-lexer describes its wasm exports). test/engine/wasm-exports.test.ts reads the binary's
// type and export sections and fails when they and this table disagree.

/** A wasm value type as the JS side sees it: i32/f64 are numbers, i64 is a bigint. */
export type WasmValType = 'i32' | 'i64' | 'f64';

interface FnDesc {
  readonly kind: 'function';
  readonly params: readonly WasmValType[];
  readonly results: readonly WasmValType[];
}
interface MemDesc {
  readonly kind: 'memory';
}

export const ENGINE_EXPORTS = {
  memory: { kind: 'memory' },
  /** End of the module's static data (must lie below IO_BASE_BYTES). */
  heapBase: { kind: 'function', params: [], results: ['i32'] },
  /** Checks the ruleset at RS_BASE_BYTES: ST_OK or ST_BAD_RULESET. */
  init: { kind: 'function', params: [], results: ['i32'] },
  /** walk(forcedCount): one recorded walk of packet 0 into OUT_BYTES; the status. */
  walk: { kind: 'function', params: ['i32'], results: ['i32'] },
  /** traceBegin(seed, nthCounters): a new PRNG stream and zeroed nth counters. */
  traceBegin: { kind: 'function', params: ['i32', 'i32'], results: [] },
  /** trace(n): sampled walks of packets 0..n-1 into TRACE_OUT_BYTES; how many were walked. */
  trace: { kind: 'function', params: ['i32'], results: ['i32'] },
  /** traceCols(n): trace() of n ≤ COLS packets given as columns at CI_*, results as columns at CO_*; how many were walked. */
  traceCols: { kind: 'function', params: ['i32'], results: ['i32'] },
  recentReset: { kind: 'function', params: [], results: [] },
  /** recentAdd(list, a0, a1, a2, a3, secondsAgo, hits): 0 when the table is full. */
  recentAdd: { kind: 'function', params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  /** hsiphashU32(v, k0, k1): the kernel's hsiphash of one u32 (tests). */
  hsiphashU32: { kind: 'function', params: ['i32', 'i64', 'i64'], results: ['i32'] },
} as const satisfies Record<string, FnDesc | MemDesc>;

type JsOf<T extends WasmValType> = T extends 'i64' ? bigint : number;
type ParamsOf<P extends readonly WasmValType[]> = { -readonly [I in keyof P]: JsOf<P[I]> };
type ResultOf<R extends readonly WasmValType[]> = R extends readonly [] ? void : R extends readonly [infer T extends WasmValType] ? JsOf<T> : never;
type Export<D> = D extends FnDesc ? (...args: ParamsOf<D['params']>) => ResultOf<D['results']> : WebAssembly.Memory;

/** The engine instance's exports, typed from ENGINE_EXPORTS. */
export type EngineExports = { readonly [K in keyof typeof ENGINE_EXPORTS]: Export<(typeof ENGINE_EXPORTS)[K]> };

/**
 * The instance's exports checked against the table (kind, and parameter count for functions):
 * a stale build/engine.wasm fails here, by name, instead of deep inside a walk.
 */
export function engineExports(inst: WebAssembly.Instance): EngineExports {
  const ex = inst.exports;
  for (const [name, d] of Object.entries(ENGINE_EXPORTS) as [string, FnDesc | MemDesc][]) {
    const v = ex[name];
    const ok = d.kind === 'memory' ? v instanceof WebAssembly.Memory : typeof v === 'function' && v.length === d.params.length;
    if (!ok) throw new Error(`build/engine.wasm: export ${name} is missing or not a ${d.kind}${d.kind === 'function' ? ` of ${d.params.length} parameters` : ''} (rebuild with npm run build:wasm)`);
  }
  return ex as unknown as EngineExports;
}
