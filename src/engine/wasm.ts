// The WASM engine: the same Engine contract as the reference walk (types.ts), with the walk run
// by build/engine.wasm (assembly/) over the compiled ruleset (src/compile/).
//
// JS owns the instance's memory (src/compile/layout.ts): the compiled ruleset is copied once to
// RS_BASE_BYTES, packets are written to IN_BYTES (columnar batches to CI_*), results are read from
// OUT_BYTES / TRACE_OUT_BYTES (CO_*) through views made once (the wasm never allocates, so memory
// never grows after setup). The exports are typed by wasm-exports.ts. The compiled
// WebAssembly.Module is cached per process.
//
// ipset contents are compiled into hash tables (src/compile/sets.ts) and looked up in wasm
// (assembly/ipset.ts); the IPVS stage (virtual-service lookup, every scheduler, sh/dh/mh tables
// built at compile time, mh's hsiphash) runs in wasm too (src/compile/ipvs.ts, assembly/ipvs.ts),
// with the query's active connections passed as (real server, count) pairs. What still goes to the
// host: interface names that do not fit the 16-byte blocks, more than MAX_NTH nth counters, a
// virtual service with more than MAX_REALS real servers, more than MAX_CONNS connection pairs in
// a batch, or a full recent table. The wasm walk reports ST_HOST when a packet reaches one of them, and that packet
// (for trace: that batch, whose PRNG stream and counters are shared) is walked by the reference
// engine instead, so the answer is always the reference's.

import { readFileSync } from 'node:fs';
import { WalkError } from '../model/errors.js';
import type { Ruleset } from '../model/ruleset.js';
import { compileRuleset as compileModel, type CompiledRuleset, type CompileOptions } from '../compile/compile.js';
import * as L from '../compile/layout.js';

import { ifaceWords } from '../compile/ops.js';
import { ipvsServiceNotes } from './ipvs-schedule.js';
import { createReferenceEngine } from './reference.js';
import type { ColumnarEngine, PacketColumns, ResultColumns } from './columns.js';
import type { Engine, StepRef, TraceRecord, WalkPacket, WalkRecord } from './types.js';
import { engineExports, type EngineExports } from './wasm-exports.js';
import { addrAt, assumptionAt, decodeWalk, RULE_STEP_SLOTS, verdictOf, type DecodeContext } from './wasm-record.js';

export type { CompiledRuleset };

/** compile/compile.ts's compileRuleset with the answers' IPVS note texts: the ruleset this engine runs. */
export function compileRuleset(rs: Ruleset, opts: Omit<CompileOptions, 'ipvsNotes'> = {}): CompiledRuleset {
  return compileModel(rs, { ...opts, ipvsNotes: ipvsServiceNotes });
}

/** A failure inside the WASM walk, by status code (layout ST_*). */
export class WasmWalkError extends WalkError {
  override readonly name = 'WasmWalkError';
}

const STATUS_TEXT: Record<number, string> = {
  [L.ST_DEPTH]: `chain nesting deeper than ${L.MAX_DEPTH} (a chain loop?)`,
  [L.ST_OVERFLOW]: 'a walk output list overflowed (path, decisions, notes or uncertain)',
  [L.ST_BAD_RULESET]: 'the compiled ruleset is malformed',
  [L.ST_FORCED]: 'a forced branch is out of range',
  [L.ST_LOOP]: `walk exceeded ${L.MAX_STEPS} rule evaluations (a chain loop?)`,
};

function fail(status: number): never {
  throw new WasmWalkError(`wasm engine: ${STATUS_TEXT[status] ?? `status ${status}`}`, status);
}


let cachedModule: WebAssembly.Module | null = null;

/** build/engine.wasm, compiled once per process (src/engine → ../../build, dist/engine likewise). */
export function wasmModule(): WebAssembly.Module {
  if (!cachedModule) {
    const bytes = readFileSync(new URL('../../build/engine.wasm', import.meta.url));
    cachedModule = new WebAssembly.Module(bytes);
  }
  return cachedModule;
}

/** A fresh instance whose memory holds `wordBytes` bytes of ruleset at RS_BASE_BYTES (not yet copied). */
function newInstance(wordBytes: number): EngineExports {
  const inst = new WebAssembly.Instance(wasmModule(), {
    env: {
      abort(): never {
        throw new WasmWalkError('wasm engine: abort');
      },
    },
  });
  const ex = engineExports(inst);
  if (ex.heapBase() > L.IO_BASE_BYTES) throw new Error('wasm engine: static data overlaps the I/O regions');
  const need = L.RS_BASE_BYTES + wordBytes;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  return ex;
}

/** Checks the copied ruleset (ex.init): the instance is ready to walk. */
function initInstance(ex: EngineExports): EngineExports {
  const st = ex.init();
  if (st !== L.ST_OK) fail(st);
  return ex;
}

function instantiate(c: CompiledRuleset): EngineExports {
  const ex = newInstance(c.words.byteLength);
  new Int32Array(ex.memory.buffer, L.RS_BASE_BYTES, c.words.length).set(c.words);
  return initInstance(ex);
}

/** How openWasmEngine copies the words into the instance: in pieces, yielding between them. */
export interface OpenSteps {
  /**
   * Bytes copied (or read) per piece. Default: 256 KiB copied, 1 MiB read. A piece copied is mostly
   * first touches of the instance's fresh memory (page faults: several ms per MiB on a busy VM) on
   * this thread, which a task for another ruleset may wait behind; a piece read is done by `fill`
   * elsewhere (the thread answers meanwhile), so it is larger: fewer round trips.
   */
  pieceBytes?: number;
  /** Awaited between pieces (the caller's event loop answers other requests meanwhile). */
  yield: () => Promise<void>;
  /**
   * Where the words come from when `compiled.words` does not hold them (a resident part: its
   * file): fills `into` with the words' bytes from byte `from` on. `wordBytes` is their length.
   */
  read?: { wordBytes: number; fill: (into: Uint8Array, from: number) => Promise<void> };
  /** Told how many pieces the copy took. */
  pieces?: (n: number) => void;
}

const COPY_PIECE_BYTES = 256 * 1024;
const READ_PIECE_BYTES = 1024 * 1024;

/**
 * createWasmEngine for a caller that must stay responsive: the instance is made, then the words are
 * copied into its memory (or read straight into it) a piece at a time, then checked and wrapped,
 * with `steps.yield()` awaited between any two of these steps (pieces + 1 yields); the engine is
 * the same as createWasmEngine's (same words, same init).
 */
export async function openWasmEngine(rs: Ruleset, compiled: CompiledRuleset, host: (() => Engine) | undefined, steps: OpenSteps): Promise<WasmEngine> {
  const total = steps.read ? steps.read.wordBytes : compiled.words.byteLength;
  const piece = Math.max(4, (steps.pieceBytes ?? (steps.read ? READ_PIECE_BYTES : COPY_PIECE_BYTES)) & ~3);
  const ex = newInstance(total);
  // The memory does not grow after newInstance: one view over it serves every piece.
  const mem = new Uint8Array(ex.memory.buffer, L.RS_BASE_BYTES, total);
  const src = steps.read ? undefined : new Uint8Array(compiled.words.buffer, compiled.words.byteOffset, total);
  let n = 0;
  for (let at = 0; at < total; at += piece) {
    // Making the instance (and growing its memory) is a step of its own, as is each piece.
    await steps.yield();
    n++;
    const end = Math.min(total, at + piece);
    if (src) mem.set(src.subarray(at, end), at);
    else await steps.read!.fill(mem.subarray(at, end), at);
  }
  steps.pieces?.(n);
  await steps.yield();
  return engineOver(rs, compiled, initInstance(ex), host);
}

/** Writes an IFACE block at word index `at`; false when the name cannot be encoded. */
function writeIface(i32: Int32Array, at: number, name: string, prefix: boolean): boolean {
  const bytes = ifaceWords(name);
  if (!bytes) return false;
  i32[at] = name.length | (prefix ? L.IF_PREFIX_BIT : 0) | L.IF_PRESENT_BIT;
  for (let k = 0; k < 4; k++) i32[at + 1 + k] = bytes[k];
  i32[at + 5] = 0;
  return true;
}

const ORIGIN_CODE = { external: L.ORIGIN_EXTERNAL, pod: L.ORIGIN_POD, host: L.ORIGIN_HOST } as const;

/** The query's active connections as (global real index, count) pairs, from `conns.next` on. */
interface ConnCursor {
  next: number;
  byEndpoint: Map<string, number[]>;
}

/** Packet → input record `i`; false when it cannot be expressed (the host walks it). */
function writePacket(i32: Int32Array, i: number, p: WalkPacket, conns: ConnCursor): boolean {
  return writePacketAt(i32, L.IN_BYTES / 4 + i * L.PKT_WORDS, p, conns);
}

/** Packet → the packet record at word `at` (layout P_*). */
function writePacketAt(i32: Int32Array, at: number, p: WalkPacket, conns: ConnCursor): boolean {
  i32[at + L.P_FAMILY] = p.family;
  i32[at + L.P_PROTO] = p.proto;
  for (let k = 0; k < 4; k++) {
    i32[at + L.P_SRC + k] = p.src.w[k];
    i32[at + L.P_DST + k] = p.dst.w[k];
  }
  i32[at + L.P_SPORT] = p.sport;
  i32[at + L.P_DPORT] = p.dport;
  i32[at + L.P_ICMPTYPE] = p.icmpType;
  i32[at + L.P_ICMPCODE] = p.icmpCode;
  i32[at + L.P_ORIGIN] = ORIGIN_CODE[p.origin];
  i32[at + L.P_MARK] = p.mark;
  i32[at + L.P_CONNMARK] = p.connmark;
  i32[at + L.P_CTSTATE] = p.ctstate;
  i32[at + L.P_IN_IFACE] = 0;
  i32[at + L.P_OUT_IFACE] = 0;
  i32[at + L.P_CONNQ] = p.activeConnections.size > 0 ? 1 : 0;
  const first = conns.next;
  if (p.activeConnections.size > 0 && conns.byEndpoint.size > 0) {
    for (const [ep, count] of p.activeConnections) {
      const gs = conns.byEndpoint.get(ep);
      if (!gs) continue;
      if (!Number.isInteger(count) || count < -0x80000000 || count > 0x7fffffff) return false;
      for (const g of gs) {
        if (conns.next >= L.MAX_CONNS) return false;
        i32[L.CONN_BYTES / 4 + conns.next * 2] = g;
        i32[L.CONN_BYTES / 4 + conns.next * 2 + 1] = count;
        conns.next++;
      }
    }
  }
  i32[at + L.P_CONNS] = first | ((conns.next - first) << 16);
  if (p.inIface && !writeIface(i32, at + L.P_IN_IFACE, p.inIface.name, p.inIface.prefix)) return false;
  if (p.outIface && !writeIface(i32, at + L.P_OUT_IFACE, p.outIface.name, p.outIface.prefix)) return false;
  return true;
}

/** The wasm engine, with counts of the work it handed to the reference walk (see the header). */
export interface WasmEngine extends Engine, ColumnarEngine {
  readonly stats: { hostWalks: number; hostTraces: number };
  /**
   * Load path (src/engine/columns.ts): trace() of the packets in `cols` with one PRNG stream, in
   * wasm (assembly/index.ts traceCols, one call per COLS packets), results into `out`. Packet i is
   * `templates.get(key)` (key = origin * 512 + (family 6 ? 256 : 0) + protocol, as CT_INDEX) with
   * the columns' addresses and ports. False when the host must walk the batch (the caller then
   * uses trace()).
   */
  traceColumns(cols: PacketColumns, templates: ReadonlyMap<number, WalkPacket>, seed: number, out: ResultColumns): boolean;
}

/**
 * `host` (load path): the engine for walks the wasm hands back, when `rs` has no rule objects to
 * build the reference walk from (a shared compiled form, src/compile/shared.ts); called at most once.
 */
export function createWasmEngine(rs: Ruleset, compiled?: CompiledRuleset, host?: () => Engine): WasmEngine {
  const c = compiled ?? compileRuleset(rs);
  return engineOver(rs, c, instantiate(c), host);
}

/** The engine over an instance whose memory holds `c`'s words (c.words itself is not read again). */
function engineOver(rs: Ruleset, c: CompiledRuleset, ex: EngineExports, host?: () => Engine): WasmEngine {
  // Views made once: the module never grows its memory after instantiate().
  const i32 = new Int32Array(ex.memory.buffer);
  const f64 = new Float64Array(ex.memory.buffer);
  const ctx: DecodeContext = {
    rs,
    strings: c.strings,
    i32,
    f64,
    ruleSteps: new Array<StepRef>(RULE_STEP_SLOTS),
    ruleStepIds: new Int32Array(RULE_STEP_SLOTS),
    ipvsReals: c.ipvs.reals,
    // Sparse: a walk meets a few chains' policies, and an array sized for every chain (250k at 20k
    // services) costs an open tens of ms of fresh memory before its first answer.
    policySteps: [],
  };
  // From the instance's copy: an opener may have dropped (or never held) c.words.
  const nth = i32[L.RS_BASE_BYTES / 4 + L.H_NNTH];
  const forcedAt = L.FORCED_BYTES / 4;
  let reference: Engine | null = null;
  const stats = { hostWalks: 0, hostTraces: 0 };
  const ref = (): Engine => (reference ??= host ? host() : createReferenceEngine(rs));
  const hostWalk = (pkt: WalkPacket, forced: ArrayLike<number>): WalkRecord => {
    stats.hostWalks++;
    return ref().walk(pkt, forced);
  };
  const hostTrace = (pkts: WalkPacket[], seed: number): TraceRecord[] => {
    stats.hostTraces++;
    return ref().trace(pkts, seed);
  };
  /** The packet in input record 0, when walk() wrote it and nothing has overwritten it since. */
  let written: WalkPacket | null = null;
  // Recent list ids by name, made when a packet first brings recent history: a kube-proxy node has
  // one list per affinity service (20k at 20k services), which an open need not index.
  const hasRecent = c.recentLists.length > 0;
  let recentIds: Map<string, number> | undefined;
  const byEndpoint = c.ipvs.byEndpoint;

  /** Loads a packet's earlier connections into the recent table; false when it is full. */
  const loadRecent = (pkt: WalkPacket): boolean => {
    if (pkt.recent.size === 0) return true;
    recentIds ??= new Map(c.recentLists.map((name, i) => [name, i]));
    for (const [name, entries] of pkt.recent) {
      const id = recentIds.get(name);
      if (id === undefined) continue; // no rule reads this list
      for (const [key, e] of entries) {
        const w = key.split(',').map(Number);
        if (!ex.recentAdd(id, w[0], w[1] ?? 0, w[2] ?? 0, w[3] ?? 0, e.secondsAgo, e.hits)) return false;
      }
    }
    return true;
  };

  /** Runs packets [from, to) of a trace batch in wasm chunks; false when the host must take the batch. */
  const traceRun = (pkts: WalkPacket[], from: number, to: number, out: TraceRecord[]): boolean => {
    for (let start = from; start < to; start += L.MAX_BATCH) {
      const n = Math.min(L.MAX_BATCH, to - start);
      const conns: ConnCursor = { next: 0, byEndpoint };
      for (let i = 0; i < n; i++) if (!writePacket(i32, i, pkts[start + i], conns)) return false;
      const done = ex.trace(n);
      if (done < n) {
        const st = i32[L.TRACE_OUT_BYTES / 4 + done * L.TRACE_WORDS + L.TR_STATUS];
        if (st === L.ST_HOST) return false;
        fail(st);
      }
      let asm = L.TASM_BYTES / 4;
      for (let i = 0; i < n; i++) {
        const at = L.TRACE_OUT_BYTES / 4 + i * L.TRACE_WORDS;
        const fam = pkts[start + i].family;
        const assumptions = [];
        for (let k = 0, na = i32[at + L.TR_NASM]; k < na; k++, asm += L.ASM_WORDS) assumptions.push(assumptionAt(rs, c.strings, i32, asm));
        out.push({
          verdict: verdictOf(i32[at + L.TR_VERDICT]),
          dst: addrAt(i32, at + L.TR_DST, fam),
          dport: i32[at + L.TR_DPORT],
          src: addrAt(i32, at + L.TR_SRC, fam),
          masquerade: i32[at + L.TR_MASQ] !== 0,
          rulesEvaluated: i32[at + L.TR_RULES],
          assumptions,
        });
      }
    }
    return true;
  };

  // ---- load path: columnar batch trace (no recent history or connection counts in columns) ----
  const u8 = new Uint8Array(ex.memory.buffer);
  const u16 = new Uint16Array(ex.memory.buffer);
  const u32 = new Uint32Array(ex.memory.buffer);
  const traceColumns = (cols: PacketColumns, templates: ReadonlyMap<number, WalkPacket>, seed: number, out: ResultColumns): boolean => {
    written = null;
    if (templates.size > L.MAX_TEMPLATES) return false;
    i32.fill(-1, L.CT_INDEX / 4, L.CT_INDEX / 4 + L.CT_KEYS);
    let t = 0;
    for (const [key, p] of templates) {
      if (!writePacketAt(i32, L.CT_PKTS / 4 + t * L.PKT_WORDS, p, { next: 0, byEndpoint })) return false;
      i32[L.CT_INDEX / 4 + key] = t++;
    }
    ex.traceBegin(seed >>> 0, nth);
    ex.recentReset();
    const n = cols.family.length;
    for (let start = 0; start < n; start += L.COLS) {
      const end = Math.min(n, start + L.COLS);
      const m = end - start;
      u8.set(cols.family.subarray(start, end), L.CI_FAMILY);
      u8.set(cols.protocol.subarray(start, end), L.CI_PROTO);
      u8.set(cols.origin.subarray(start, end), L.CI_ORIGIN);
      u16.set(cols.sport.subarray(start, end), L.CI_SPORT / 2);
      u16.set(cols.dport.subarray(start, end), L.CI_DPORT / 2);
      u32.set(cols.src.subarray(4 * start, 4 * end), L.CI_SRC / 4);
      u32.set(cols.dst.subarray(4 * start, 4 * end), L.CI_DST / 4);
      const done = ex.traceCols(m);
      if (done < m) {
        const st = i32[L.CO_STATUS / 4];
        if (st === L.ST_HOST) return false;
        fail(st);
      }
      out.verdict.set(u8.subarray(L.CO_VERDICT, L.CO_VERDICT + m), start);
      out.masquerade.set(u8.subarray(L.CO_MASQ, L.CO_MASQ + m), start);
      out.dport.set(u16.subarray(L.CO_DPORT / 2, L.CO_DPORT / 2 + m), start);
      out.rulesEvaluated.set(u32.subarray(L.CO_RULES / 4, L.CO_RULES / 4 + m), start);
      out.dst.set(u32.subarray(L.CO_DST / 4, L.CO_DST / 4 + 4 * m), 4 * start);
      out.src.set(u32.subarray(L.CO_SRC / 4, L.CO_SRC / 4 + 4 * m), 4 * start);
    }
    return true;
  };
  // ---- end load path ----

  return {
    name: 'wasm',
    stats,
    traceColumns,
    walk(pkt: WalkPacket, forced: ArrayLike<number>): WalkRecord {
      if (forced.length > L.MAX_FORCED) return hostWalk(pkt, forced);
      // explain replays one packet object many times: written once (the walk does not change the
      // input region; trace and traceColumns, which do, clear `written`).
      if (pkt !== written) {
        written = null;
        if (!writePacket(i32, 0, pkt, { next: 0, byEndpoint })) return hostWalk(pkt, forced);
        written = pkt;
      }
      if (hasRecent) {
        ex.recentReset();
        if (!loadRecent(pkt)) return hostWalk(pkt, forced);
      }
      for (let i = 0; i < forced.length; i++) i32[forcedAt + i] = forced[i];
      const st = ex.walk(forced.length);
      if (st === L.ST_HOST) return hostWalk(pkt, forced);
      if (st !== L.ST_OK) fail(st);
      return decodeWalk(ctx, pkt);
    },
    trace(pkts: WalkPacket[], seed: number): TraceRecord[] {
      written = null;
      ex.traceBegin(seed >>> 0, nth);
      ex.recentReset();
      const out: TraceRecord[] = [];
      // A packet that brings recent history has it merged into the batch's lists right before
      // its own walk (as the reference does), so the batch is cut there.
      let from = 0;
      for (let i = 0; i < pkts.length; i++) {
        if (!hasRecent || pkts[i].recent.size === 0) continue;
        if (!traceRun(pkts, from, i, out) || !loadRecent(pkts[i])) return hostTrace(pkts, seed);
        from = i;
      }
      if (!traceRun(pkts, from, pkts.length, out)) return hostTrace(pkts, seed);
      return out;
    },
  };
}
