// A worker opening a ruleset keeps answering the rulesets it has open: the open copies the words
// into the wasm instance a piece at a time (here a tiny piece, so an open spans many turns of the
// worker's event loop) and the worker takes the tasks that arrive meanwhile. Observed through what
// the worker reports with each answer (TaskTimings: the order it finished tasks in, the opens it
// started, the pieces an open took), never through time.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { WorkerPool } from '../../src/service/pool.js';
import { RulesetStore, encodeInput, idOf, type StoredRuleset } from '../../src/service/store.js';
import { refOf, type RulesetRef, type TaskResult } from '../../src/service/protocol.js';
import { compileShared, isWholeShared, openSharedRuleset, sharedSection } from '../../src/shared-ruleset.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { Query } from '../../src/model/contracts.js';
import { tempDir, testWorkerFile } from './helpers.js';

/** A generated node, its stored entry (input + whole compiled form) and a few queries on it. */
function node(services: number, seed: number) {
  const gen = generateIptables({ services, endpoints: 3, seed });
  const bundle = { iptables: gen.text, node: gen.node };
  const input = encodeInput(bundle);
  const id = idOf(input);
  const packed = compileShared(bundle, { id });
  const entry: StoredRuleset = { id, stats: packed.stats as unknown as Record<string, unknown>, warnings: packed.warnings, inputBytes: input.byteLength, input, shared: packed.shared };
  const queries: Query[] = gen.services.slice(0, 3).map((s) => ({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const }));
  // The bytes an answer must be: the same compiled form opened at once, in this thread.
  const sync = openSharedRuleset(packed.shared);
  return { id, entry, queries, answer: (q: Query) => JSON.stringify(sync.explain(q)), services: () => sync.servicesJson() };
}

const A = node(20, 3);
const B = node(400, 4);
const C = node(400, 5);

const PIECE = 64;
let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function makePool(cacheBytes = 1 << 28): WorkerPool {
  const filename = testWorkerFile();
  pool = new WorkerPool({ size: 1, queueMax: 64, taskTimeoutMs: 60_000, worker: { cacheBytes, openPieceBytes: PIECE }, ...(filename ? { filename } : {}) });
  return pool;
}

function ok(r: TaskResult): Extract<TaskResult, { ok: true }> {
  if (!r.ok) throw new Error(JSON.stringify(r.fault));
  return r;
}
const text = (r: TaskResult) => Buffer.from(ok(r).binary!).toString('utf8');

/**
 * With A open: B's first explain (it opens B); once a ping sent behind it has come back (so the
 * worker has begun B's open), an explain on A, another on B and B's services. A is answered while
 * B opens; B's three are answered from one open, each as a direct open answers.
 */
async function answersWhileOpening(p: WorkerPool, a: RulesetRef, b: RulesetRef): Promise<void> {
  const warm = ok(await p.run({ op: 'explain', ruleset: a, query: A.queries[0]! }));
  const opening = p.run({ op: 'explain', ruleset: b, query: B.queries[0]! });
  const ping = ok(await p.run({ op: 'ping' }));
  const [onA, b2, services, b1] = await Promise.all([
    p.run({ op: 'explain', ruleset: a, query: A.queries[1]! }),
    p.run({ op: 'explain', ruleset: b, query: B.queries[1]! }),
    p.run({ op: 'services', ruleset: b }),
    opening,
  ]);
  // B's open took many pieces (so many turns); the ping and the answer on A came before it ended.
  expect(ok(b1!).timings.loadMs).toBeDefined();
  expect(b1!.timings.openPieces).toBeGreaterThan(1000);
  expect(ping.timings.order).toBeLessThan(b1!.timings.order);
  expect(ok(onA!).timings.loadMs).toBeUndefined();
  expect(onA!.timings.order).toBeLessThan(b1!.timings.order);
  expect(text(onA!)).toBe(A.answer(A.queries[1]!));
  // One open of B served all three of its tasks, each answered as a direct open would.
  expect(b1!.timings.opens).toBe(warm.timings.opens + 1);
  for (const r of [b2!, services!]) {
    expect(ok(r).timings.loadMs).toBeUndefined();
    expect(r.timings.opens).toBe(b1!.timings.opens);
  }
  expect(text(b1!)).toBe(B.answer(B.queries[0]!));
  expect(text(b2!)).toBe(B.answer(B.queries[1]!));
  expect(ok(services!).json).toBe(B.services());
  expect(new Set([warm, ping, b1!, onA!, b2!, services!].map((r) => r.timings.parses))).toEqual(new Set([0]));
}

describe('a worker opening a ruleset answers the rulesets it has open', () => {
  beforeAll(() => {
    // Many pieces at this size: the open spans many turns of the worker's event loop.
    expect(sharedSection(B.entry.shared!, 'words').length / PIECE).toBeGreaterThan(1000);
  });

  it('an explain on open set A sent after B began opening is answered first; B opens once for all its requests', async () => {
    await answersWhileOpening(makePool(), refOf(A.entry), refOf(B.entry));
  });

  it('the same for a persisted resident part after a restart (the real store on a temp dir)', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const log = { info: () => {}, warn: () => {} };
    const before = new RulesetStore({ dataDir, maxBytes: 1 << 28, log });
    for (const n of [A, B]) await before.put({ ...n.entry });
    // A restart: a fresh store lists the directory and reads each set back on first use.
    const after = new RulesetStore({ dataDir, maxBytes: 1 << 28, log });
    await after.index();
    const a = (await after.get(A.id))!;
    const b = (await after.get(B.id))!;
    expect(isWholeShared(b.shared!)).toBe(false);
    expect(b.compiledFile).toBeDefined();
    await answersWhileOpening(makePool(), refOf(a), refOf(b));
  });

  it('two sets opening at once take turns: A is answered before either ends, each opens once', async () => {
    const p = makePool();
    const [a, b, c] = [A, B, C].map((n) => refOf(n.entry));
    const warm = ok(await p.run({ op: 'explain', ruleset: a!, query: A.queries[0]! }));
    const opening = [p.run({ op: 'explain', ruleset: b!, query: B.queries[0]! }), p.run({ op: 'explain', ruleset: c!, query: C.queries[0]! })];
    await p.run({ op: 'ping' });
    const [onA, b2, c2] = await Promise.all([
      p.run({ op: 'explain', ruleset: a!, query: A.queries[1]! }),
      p.run({ op: 'explain', ruleset: b!, query: B.queries[1]! }),
      p.run({ op: 'explain', ruleset: c!, query: C.queries[1]! }),
    ]);
    const [b1, c1] = (await Promise.all(opening)).map(ok);
    expect(onA!.timings.order).toBeLessThan(Math.min(b1!.timings.order, c1!.timings.order));
    expect(text(onA!)).toBe(A.answer(A.queries[1]!));
    expect([b1!.timings.loadMs, c1!.timings.loadMs].every((ms) => ms !== undefined)).toBe(true);
    expect([ok(b2!).timings.loadMs, ok(c2!).timings.loadMs]).toEqual([undefined, undefined]);
    expect(Math.max(b1!.timings.opens, c1!.timings.opens, b2!.timings.opens, c2!.timings.opens)).toBe(warm.timings.opens + 2);
    expect([text(b1!), text(b2!), text(c1!), text(c2!)]).toEqual([B.answer(B.queries[0]!), B.answer(B.queries[1]!), C.answer(C.queries[0]!), C.answer(C.queries[1]!)]);
  });

  it('an upload opening B everywhere does not hold back explains on A (the batching path)', async () => {
    const p = makePool();
    const a = { ...refOf(A.entry), id: A.id };
    await p.explain(a, A.queries[0]!);
    const settled: string[] = [];
    const opening = p.openEverywhere(refOf(B.entry)).then((threads) => (settled.push('open B'), threads));
    const onA = p.explain(a, A.queries[1]!).then((r) => (settled.push('explain A'), r));
    const [threads, answer] = await Promise.all([opening, onA]);
    expect(settled).toEqual(['explain A', 'open B']);
    expect(threads).toEqual(new Set(p.threads.map((t) => t.threadId)));
    expect(text(answer)).toBe(A.answer(A.queries[1]!));
    // B is open now: its explain opens nothing.
    const onB = ok(await p.explain({ ...refOf(B.entry), id: B.id }, B.queries[2]!));
    expect(onB.timings.loadMs).toBeUndefined();
    expect(text(onB)).toBe(B.answer(B.queries[2]!));
  });
});

describe('opening a set does not close the sets answered meanwhile', () => {
  // A budget that holds B or C but not both (their words are about the same size).
  const words = (n: { entry: StoredRuleset }) => sharedSection(n.entry.shared!, 'words').length;
  const budget = Math.max(words(B), words(C)) + Math.min(words(B), words(C)) / 2;

  it('B, answered while C opens, stays open after C is (no second open of B); an open nothing is answered during drops the least recent', async () => {
    const p = makePool(budget);
    const [a, b, c] = [A, B, C].map((n) => refOf(n.entry));
    const onB = ok(await p.run({ op: 'explain', ruleset: b!, query: B.queries[0]! }));
    expect(onB.timings.loadMs).toBeDefined();
    // C's open is in progress (the ping behind its task came back) when B is asked again.
    const opening = p.run({ op: 'explain', ruleset: c!, query: C.queries[0]! });
    await p.run({ op: 'ping' });
    const during = ok(await p.run({ op: 'explain', ruleset: b!, query: B.queries[1]! }));
    const c1 = ok(await opening);
    expect(during.timings.order).toBeLessThan(c1.timings.order);
    expect(c1.timings.loadMs).toBeDefined();
    // Both are open now, over the budget: neither answer opens anything.
    const [b2, c2] = (await Promise.all([p.run({ op: 'explain', ruleset: b!, query: B.queries[2]! }), p.run({ op: 'explain', ruleset: c!, query: C.queries[1]! })])).map(ok);
    for (const r of [during, b2!, c2!]) expect(r.timings.loadMs).toBeUndefined();
    expect(b2!.timings.opens).toBe(c1.timings.opens);
    expect(c2!.timings.cached).toBe(2);
    expect(text(b2!)).toBe(B.answer(B.queries[2]!));
    expect(text(c2!)).toBe(C.answer(C.queries[1]!));
    // A opens with nothing answered meanwhile: the least recent of B and C (B, asked before C just now) goes.
    ok(await p.run({ op: 'explain', ruleset: a!, query: A.queries[0]! }));
    const c3 = ok(await p.run({ op: 'explain', ruleset: c!, query: C.queries[2]! }));
    expect(c3.timings.loadMs).toBeUndefined();
    const b3 = ok(await p.run({ op: 'explain', ruleset: b!, query: B.queries[0]! }));
    expect(b3.timings.loadMs).toBeDefined();
    expect(text(b3)).toBe(B.answer(B.queries[0]!));
  });
});
