// A pool worker: holds loaded rulesets (each with its WASM engine instance) by id, and answers
// explain / trace / services for them. Everything the library throws is caught and returned as a
// WorkerFault record, so the only way a task rejects is the worker itself dying (crash, timeout).

import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { threadId } from 'node:worker_threads';
import { loadRuleset, buildRuleset } from '../ruleset.js';
import type { RulesetBundle } from '../model/contracts.js';
import { readFileSync } from 'node:fs';
import { compileShared, fileFill, fileTail, isCurrentShared, isWholeShared, openSharedRulesetStepwise, sharedSection } from '../shared-ruleset.js';
import { decodePackets, encodeResults } from '../engine/columns-wire.js';
import { toFault } from './errors.js';
import { encodeAnswer, encodeAnswers } from './answer-batch.js';
import { writeExplainJson } from '../engine/explain-json.js';
import { collectIfExposed } from './gc.js';
import { OpenSets } from './open-sets.js';
import { GATE, type BatchAnswers, type RulesetRef, type Task, type TaskResult, type TaskTimings, type WorkerConfig } from './protocol.js';

/** What a worker answers from: a shared compiled form opened here, or (reference engine) a parsed ruleset. */
interface Answering {
  id: string;
  stats: unknown;
  warnings: string[];
  explain: ReturnType<typeof loadRuleset>['explain'];
  trace: ReturnType<typeof loadRuleset>['trace'];
  traceColumns: ReturnType<typeof loadRuleset>['traceColumns'];
  servicesJson(): string;
}

const config: WorkerConfig = (workerData as WorkerConfig | undefined) ?? { cacheBytes: 512 * 1024 * 1024 };

/**
 * Open rulesets by id, bounded by the memory each holds; a set answered while another opens is not
 * dropped for it (src/service/open-sets.ts).
 */
const cache = new OpenSets<Answering>(Math.max(1, config.cacheBytes));

/** Dumps this worker has parsed since it started (the load path's proof: answering never parses). */
let parses = 0;

/**
 * Stored input → the bundle and how to read it (a lenient upload carries `lenient: true`: store.ts
 * encodeInput). The input is in memory, or in its `.ruleset` file after the header line.
 */
function parse(ref: RulesetRef): { bundle: RulesetBundle; lenient: boolean } {
  parses++;
  let bytes: Buffer;
  if (ref.input) {
    // Buffer.from over a SharedArrayBuffer is a view, not a copy; toString copies once into a string.
    bytes = Buffer.from(ref.input);
  } else if (ref.inputFile) {
    const file = readFileSync(ref.inputFile);
    bytes = file.subarray(file.indexOf(10) + 1);
  } else {
    throw new Error(`ruleset ${ref.id}: no input to parse`);
  }
  const bundle = JSON.parse(bytes.toString('utf8')) as RulesetBundle & { lenient?: boolean };
  return { bundle, lenient: bundle.lenient === true };
}

/** Opens of a shared form in progress, by ruleset id: every task for that id awaits the one open. */
const opening = new Map<string, Promise<Answering>>();
/** Opens this worker has started since it began (each ruleset once while it stays cached). */
let opens = 0;
/** Tasks this worker has finished (TaskTimings.order). */
let finished = 0;
/** Opens waiting for their next turn, served one per turn of the event loop (pump). */
const turns: (() => void)[] = [];
let pumping = false;
/**
 * An open's next turn: one open piece per turn of the event loop, whatever the number of opens in
 * flight, so a task that arrived meanwhile (its handler is sync) waits for one piece at most.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => {
    turns.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}
function pump(): void {
  const next = turns.shift();
  // Scheduled from the check phase: runs in the next turn, after the messages that came in.
  if (turns.length > 0) setImmediate(pump);
  else pumping = false;
  next?.();
}

/**
 * The ruleset a task asks for: cached, or being opened (the open in flight), or opened now. A shared
 * compiled form opens stepwise (src/shared-ruleset.ts openSharedRulesetStepwise): the words go
 * into the wasm instance a piece at a time with a turn of the event loop between pieces, so the
 * tasks this worker holds for rulesets already open are answered meanwhile (the pool sends a busy
 * worker more tasks: src/service/pool.ts).
 */
function open(ref: RulesetRef, timings: TaskTimings): Answering | Promise<Answering> {
  if (ref.id) {
    const hit = cache.get(ref.id);
    if (hit) return hit;
    const inFlight = opening.get(ref.id);
    if (inFlight) return inFlight;
  }
  const t0 = performance.now();
  const since = cache.mark();
  if (ref.shared && config.engine !== 'reference' && isCurrentShared(ref.shared)) {
    // The usual path: the compiled form, shared with every worker; the dump is parsed only for
    // a walk the wasm engine hands back (src/shared-ruleset.ts).
    // A resident part reads its words (and the services answer) from the whole form's file.
    const whole = isWholeShared(ref.shared);
    if (!whole && !ref.compiledFile) throw new Error(`ruleset ${ref.id}: a resident compiled form without its file`);
    const shared = ref.shared;
    opens++;
    const p = openSharedRulesetStepwise(shared, {
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
      ...(whole ? {} : { tail: fileTail(ref.compiledFile!), fill: fileFill(ref.compiledFile!) }),
      parse: () => {
        const { bundle, lenient } = parse(ref);
        return buildRuleset(bundle, { lenient }).ruleset;
      },
      yield: turn,
      ...(config.openPieceBytes ? { pieceBytes: config.openPieceBytes } : {}),
      pieces: (n) => (timings.openPieces = n),
    }).then((rs: Answering) => {
      timings.loadMs = performance.now() - t0;
      // What this worker holds of its own: the words, copied into its wasm instance.
      if (ref.id) cache.add(ref.id, rs, sharedSection(shared, 'words').length, since);
      return rs;
    });
    if (ref.id) {
      const id = ref.id;
      opening.set(id, p);
      // Settled either way: a failed open is tried again by the next request.
      p.then(
        () => opening.delete(id),
        () => opening.delete(id),
      );
    }
    return p;
  }
  const { bundle, lenient } = parse(ref);
  const lib = loadRuleset(bundle, {
    lenient,
    ...(config.engine ? { engine: config.engine } : {}),
    ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
  });
  const rs: Answering = { ...lib, servicesJson: () => JSON.stringify({ services: lib.services() }) };
  timings.parseMs = lib.stats.parseMs;
  timings.compileMs = lib.stats.compileMs;
  timings.loadMs = performance.now() - t0;
  if (ref.id) cache.add(ref.id, rs, lib.stats.bytes * 25, since);
  collectIfExposed(); // the parse's garbage
  return rs;
}

/** A result whose buffers piscina transfers to the main thread instead of copying them. */
function transferring(res: TaskResult, buffers: ArrayBuffer[]): TaskResult {
  if (buffers.length === 0) return res;
  return move({ [transferableSymbol]: buffers, [valueSymbol]: res } as never) as unknown as TaskResult;
}

/** A task's answer, or (when the ruleset is still being opened) a promise of it. */
export default function run(task: Task): TaskResult | Promise<TaskResult> {
  const timings: TaskTimings = { runMs: 0, cached: cache.size, parses, opens, order: 0, thread: threadId };
  const gate = task.gate ? new Int32Array(task.gate) : undefined;
  if (gate) {
    // The pool may have given up on this task while it waited here (its time limit): skip it.
    gate[1] = threadId;
    if (Atomics.compareExchange(gate, 0, GATE.waiting, GATE.running) !== GATE.waiting) return finish({ ok: false, fault: { code: 'internal', detail: 'cancelled before it started' }, timings }, gate);
  }
  try {
    if (task.op === 'ping') return finish({ ok: true, json: '{}', timings }, gate);
    if (task.op === 'load') return finish(load(task, timings), gate);
    const rs = open(task.ruleset, timings);
    if (!(rs instanceof Promise)) return finish(answer(task, rs, timings), gate);
    if (gate) Atomics.store(gate, 0, GATE.awaiting);
    return rs.then(
      async (opened) => {
        // A turn of its own: the open's last step (the engine over the copied words) and each
        // waiting task's first answer on the new set (several ms) are not one stretch that the
        // tasks for other sets, arrived meanwhile, wait behind.
        await turn();
        // Given up on while it waited for the open (the pool answered it with its time limit).
        if (gate && Atomics.compareExchange(gate, 0, GATE.awaiting, GATE.running) !== GATE.awaiting) return finish({ ok: false, fault: { code: 'internal', detail: 'cancelled while its ruleset opened' }, timings }, gate);
        return finish(answer(task, opened, timings), gate);
      },
      (err: unknown) => {
        if (gate) Atomics.compareExchange(gate, 0, GATE.awaiting, GATE.running);
        return finish({ ok: false, fault: toFault(err), timings }, gate);
      },
    );
  } catch (err) {
    return finish({ ok: false, fault: toFault(err), timings }, gate);
  }
}

/**
 * Stamps the counters a result reports, marks its gate done (its answer is on its way) and wraps
 * it so that the buffers made for it alone (encodeAnswer(s), encodeResults) go over without a copy.
 */
function finish(res: TaskResult, gate: Int32Array | undefined): TaskResult {
  res.timings.cached = cache.size;
  res.timings.parses = parses;
  res.timings.opens = opens;
  res.timings.order = ++finished;
  if (gate) Atomics.store(gate, 0, GATE.done);
  if (!res.ok) return res;
  // Answers of a batch share one buffer: each buffer is listed once.
  const buffers = new Set<ArrayBuffer>();
  if (res.binary) buffers.add(res.binary.buffer as ArrayBuffer);
  for (const b of res.answers?.answers ?? []) if (b) buffers.add(b.buffer as ArrayBuffer);
  return transferring(res, [...buffers]);
}

/** The loader thread (src/service/pool.ts): parse and compile once, for every worker. */
function load(task: Task & { op: 'load' }, timings: TaskTimings): TaskResult {
  try {
    const t0 = performance.now();
    const { bundle, lenient } = parse(task.ruleset);
    const packed = compileShared(bundle, { lenient, ...(task.ruleset.id ? { id: task.ruleset.id } : {}) });
    timings.loadMs = performance.now() - t0;
    timings.parseMs = packed.stats.parseMs;
    timings.compileMs = packed.stats.compileMs;
    return { ok: true, json: JSON.stringify({ id: packed.id, stats: packed.stats, warnings: packed.warnings }), id: packed.id, shared: packed.shared, timings };
  } catch (err) {
    return { ok: false, fault: toFault(err), timings };
  }
}

/** The answer to a task on an open ruleset. */
function answer(task: Exclude<Task, { op: 'ping' | 'load' }>, rs: Answering, timings: TaskTimings): TaskResult {
  try {
    let json = '';
    let binary: Uint8Array | undefined;
    let answers: BatchAnswers | undefined;
    const t0 = performance.now();
    switch (task.op) {
      case 'open':
        // One explain warms this worker's code paths (the first one in a thread is several times slower).
        if (task.warm) {
          try {
            rs.explain(task.warm);
          } catch {
            // only a warm-up: whatever it hit, a real request reports
          }
        }
        json = '{}';
        break;
      case 'explain':
        binary = encodeAnswer((out) => writeExplainJson(out, rs.explain(task.query)));
        break;
      case 'explainBatch':
        answers = encodeAnswers(task.queries, (out, q) => writeExplainJson(out, rs.explain(q)));
        break;
      case 'trace':
        json = JSON.stringify({ results: rs.trace(task.packets, task.seed === undefined ? {} : { seed: task.seed }) });
        break;
      case 'services':
        json = rs.servicesJson();
        break;
      case 'traceColumns': {
        const { cols, seed } = decodePackets(task.packets);
        binary = encodeResults(rs.traceColumns(cols, { seed }));
        break;
      }
    }
    if (task.op !== 'open') timings.runMs = performance.now() - t0;
    const res: TaskResult = { ok: true, json, timings };
    if (binary !== undefined) res.binary = binary;
    if (answers !== undefined) res.answers = answers;
    return res;
  } catch (err) {
    return { ok: false, fault: toFault(err), timings };
  }
}
