// The load path for many readers (the service's workers): a node's dumps are parsed and compiled
// ONCE into the shared compiled form (src/compile/shared.ts) — one SharedArrayBuffer with the
// compiled rules, the texts answers render, the summary and the services answer — and any thread
// holding that buffer answers explain / trace / services without the dump or the parsed model.
//
// The one exception is a walk the wasm engine hands back to the reference walk (an interface name
// longer than its blocks, a full recent table, …: src/engine/wasm.ts): that needs the rule
// objects, so the caller passes `parse`, which is called (once) only then.

import { compileRuleset } from './engine/wasm.js';
import { isWhole, openShared, packShared } from './compile/shared.js';
import { DEFAULT_MAX_PATHS, explain, prepareExplain, traceAll } from './engine/explain.js';
import { traceColumns, type PacketColumns, type ResultColumns } from './engine/columns.js';
import { createReferenceEngine } from './engine/reference.js';
import { createWasmEngine, openWasmEngine, type OpenSteps } from './engine/wasm.js';
import type { Engine } from './engine/types.js';
import { discoverServices } from './kube/services.js';
import type { ExplainResult, Query, TraceResult } from './model/contracts.js';
import type { Ruleset } from './model/ruleset.js';
import { buildRuleset, rulesetId, statsOf, type LoadStats } from './ruleset.js';
import type { RulesetBundle } from './model/contracts.js';

export { isCurrent as isCurrentShared, isWhole as isWholeShared, residentPart, sectionOf as sharedSection } from './compile/shared.js';
import { sharedBlob, type ReadTail } from './compile/shared.js';
import { closeSync, openSync, readSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';

/** Reads byte ranges of a whole shared form kept in a file (what a resident part opens with). */
export function fileTail(path: string): ReadTail {
  return (at, length) => {
    const out = Buffer.allocUnsafeSlow(length);
    const fd = openSync(path, 'r');
    try {
      for (let done = 0; done < length; ) {
        const n = readSync(fd, out, done, length - done, at + done);
        if (n === 0) throw new Error(`${path}: shorter than its shared form says`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return out;
  };
}

/** Reads bytes of a whole shared form kept in a file into `into`, asynchronously (openSharedRulesetStepwise). */
export type FillTail = (into: Uint8Array, at: number) => Promise<void>;

/**
 * This thread's fills, one at a time (see fileFill): the tail of the chain of those in flight.
 * Module state, so one per thread, whatever the number of opens.
 */
let filling: Promise<void> = Promise.resolve();

/**
 * fileTail without blocking: each call reads one range with the thread pool's file reads. A
 * thread's fills run one after the other, however many opens are in flight: each read is mostly
 * first touches of fresh memory (page faults) on one of libuv's pool threads, which every thread of
 * the process shares, and several at once would take the cores from the threads answering requests.
 */
export function fileFill(path: string): FillTail {
  return (into, at) => {
    const p = filling.then(() => readRange(path, into, at));
    filling = p.catch(() => {});
    return p;
  };
}

async function readRange(path: string, into: Uint8Array, at: number): Promise<void> {
  const fh = await openFile(path, 'r');
  try {
    for (let done = 0; done < into.length; ) {
      const { bytesRead } = await fh.read(into, done, into.length - done, at + done);
      if (bytesRead === 0) throw new Error(`${path}: shorter than its shared form says`);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The services answer (`{"services":[…]}`, UTF-8) compileShared computed once, as a view into the
 * shared form: any thread serves it as bytes, with no walk, no discovery and no copy.
 */
export function sharedServicesJson(sab: SharedArrayBuffer): Uint8Array {
  return sharedBlob(sab);
}

export interface SharedSummary {
  id: string;
  stats: LoadStats;
  warnings: string[];
}

/** Parses and compiles a bundle into the shared form. Throws ParseError / QueryError like loadRuleset. */
export function compileShared(bundle: RulesetBundle, opts: { lenient?: boolean; id?: string } = {}): SharedSummary & { shared: SharedArrayBuffer } {
  const t0 = performance.now();
  const { ruleset, warnings, inputs } = buildRuleset(bundle, opts);
  const t1 = performance.now();
  const compiled = compileRuleset(ruleset);
  const t2 = performance.now();
  const summary: SharedSummary = {
    id: opts.id ?? rulesetId(bundle),
    stats: { ...statsOf(bundle, ruleset, inputs), parseMs: round(t1 - t0), compileMs: round(t2 - t1) },
    warnings,
  };
  // The services answer is computed here, where the rule objects are, and travels as text.
  const services = JSON.stringify({ services: discoverServices(ruleset) });
  return { ...summary, shared: packShared(ruleset, compiled, summary, services) };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** A ruleset answered from its shared form. */
export interface SharedRuleset extends SharedSummary {
  readonly ruleset: Ruleset;
  readonly engine: Engine;
  explain(query: Query, opts?: { maxPaths?: number }): ExplainResult;
  trace(queries: Query[], opts?: { seed?: number }): TraceResult[];
  traceColumns(packets: PacketColumns, opts?: { seed?: number; out?: ResultColumns }): ResultColumns;
  /** `{"services":[…]}` exactly as the HTTP answer. */
  servicesJson(): string;
}

export interface OpenOptions {
  maxPaths?: number;
  /** The parsed model, for walks the wasm engine hands back (rare); called at most once. */
  parse?: () => Ruleset;
  /** Where the words and the services answer are read from when `sab` is only the resident part (fileTail). */
  tail?: ReadTail;
}

/** Opens a shared form (throws when it is not this build's format: recompile from the bytes). */
export function openSharedRuleset(sab: SharedArrayBuffer, opts: OpenOptions = {}): SharedRuleset {
  const view = openShared(sab, opts.tail);
  const engine = createWasmEngine(view.ruleset, view.compiled, hostOf(opts));
  return answering(view, engine, opts);
}

/**
 * openSharedRuleset for a thread that keeps answering meanwhile: the words go into the engine a
 * piece at a time, `yield` awaited between pieces (src/engine/wasm.ts openWasmEngine); a resident
 * part reads them from its file with `fill` (asynchronous reads), straight into the instance's
 * memory. The result answers exactly as openSharedRuleset's.
 */
export async function openSharedRulesetStepwise(
  sab: SharedArrayBuffer,
  opts: OpenOptions & Omit<OpenSteps, 'read'> & { fill?: FillTail },
): Promise<SharedRuleset> {
  const view = openShared(sab, opts.tail, { words: false });
  const whole = isWhole(sab);
  if (!whole && !opts.fill) throw new Error('shared ruleset: a resident part opens stepwise only with a way to read its words (fill)');
  const steps: OpenSteps = { yield: opts.yield, ...(opts.pieceBytes ? { pieceBytes: opts.pieceBytes } : {}), ...(opts.pieces ? { pieces: opts.pieces } : {}) };
  if (whole) view.compiled.words = new Int32Array(sab, view.wordsAt, view.wordBytes / 4);
  else steps.read = { wordBytes: view.wordBytes, fill: (into, from) => opts.fill!(into, view.wordsAt + from) };
  await opts.yield(); // the tables and JSON sections were read: a turn for others before the words
  const engine = await openWasmEngine(view.ruleset, view.compiled, hostOf(opts), steps);
  await opts.yield();
  await prepareExplain(view.ruleset, opts.yield);
  return answering(view, engine, opts);
}

function hostOf(opts: OpenOptions): () => Engine {
  return () => {
    if (!opts.parse) throw new Error('this walk needs the reference engine, and the shared form was opened without its dump');
    return createReferenceEngine(opts.parse());
  };
}

function answering(view: ReturnType<typeof openShared>, engine: Engine, opts: OpenOptions): SharedRuleset {
  const rs = view.ruleset;
  // The engine copied the words into its instance and reads them no more; a copy read from a file
  // (resident part) must not stay reachable through the compiled record the engine keeps.
  view.compiled.words = new Int32Array(0);
  const blob = view.blob;
  const summary = view.meta() as SharedSummary;
  const maxPaths = opts.maxPaths ?? DEFAULT_MAX_PATHS;
  return {
    ...summary,
    ruleset: rs,
    engine,
    explain: (query, o) => explain(rs, engine, query, { maxPaths: o?.maxPaths ?? maxPaths }),
    trace: (queries, o) => traceAll(rs, engine, queries, o?.seed ?? 0),
    traceColumns: (cols, o) => traceColumns(rs.node, engine, cols, o?.seed ?? 0, o?.out),
    servicesJson: blob,
  };
}
