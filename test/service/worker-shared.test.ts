// Workers never parse: the loader parses and compiles an upload once into the shared compiled
// form, and every answering worker answers explain / trace / services from that form alone —
// each task reports how many dumps its worker has ever parsed, and it stays 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerPool } from '../../src/service/pool.js';
import { residentPart } from '../../src/shared-ruleset.js';
import { encodeInput, idOf } from '../../src/service/store.js';
import type { Task, TaskResult } from '../../src/service/protocol.js';
import { loadRuleset } from '../../src/ruleset.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { Query as QueryT } from '../../src/model/contracts.js';

const gen = generateIptables({ services: 40, endpoints: 3, seed: 11 });
const bundle = { iptables: gen.text, node: gen.node };
const lib = loadRuleset(bundle);
const input = encodeInput(bundle);
const id = idOf(input);
let pool: WorkerPool;

beforeAll(async () => {
  pool = new WorkerPool({ size: 2, queueMax: 1024, taskTimeoutMs: 60_000, worker: { cacheBytes: 1 << 28 } });
  await pool.warmUp();
});
afterAll(async () => pool.close());

/** An explain answer's text (the worker sends it as UTF-8 bytes). */
function answerText(r: Extract<TaskResult, { ok: true }>): string {
  return Buffer.from(r.binary!).toString('utf8');
}

function ok(r: TaskResult): Extract<TaskResult, { ok: true }> {
  if (!r.ok) throw new Error(JSON.stringify(r.fault));
  return r;
}

describe('the load path across workers', () => {
  it('the ruleset id is the hash of the stored bytes (one hash per upload)', () => {
    expect(id).toBe(lib.id);
  });

  it('the loader parses once; answering workers answer from the shared form without parsing', async () => {
    const loaded = ok(await pool.run({ op: 'load', ruleset: { id, input } }));
    expect(loaded.id).toBe(id);
    expect(loaded.shared).toBeInstanceOf(SharedArrayBuffer);
    expect(loaded.timings.parses).toBe(1);
    const answerThreads = new Set(pool.threads.map((t) => t.threadId));
    expect(answerThreads.has(loaded.timings.thread)).toBe(false);

    const ruleset = { id, input, shared: loaded.shared! };
    const queries: QueryT[] = lib.services().flatMap((s) => [
      { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const },
      { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'host' as const },
    ]);
    const tasks: Task[] = [
      ...queries.map((query): Task => ({ op: 'explain', ruleset, query })),
      { op: 'trace', ruleset, packets: queries, seed: 5 },
      { op: 'services', ruleset },
    ];
    const results = (await Promise.all(tasks.map((t) => pool.run(t)))).map(ok);
    results.forEach((r, i) => {
      expect(answerThreads.has(r.timings.thread)).toBe(true);
      expect(r.timings.parses).toBe(0);
      const t = tasks[i]!;
      // An explain's answer comes as its JSON in UTF-8 bytes.
      if (t.op === 'explain') expect(JSON.parse(answerText(r))).toEqual(JSON.parse(JSON.stringify(lib.explain(t.query as Parameters<typeof lib.explain>[0]))));
      if (t.op === 'trace') expect(JSON.parse(r.json)).toEqual({ results: lib.trace(queries as Parameters<typeof lib.trace>[0], { seed: 5 }) });
      if (t.op === 'services') expect(JSON.parse(r.json)).toEqual(JSON.parse(JSON.stringify({ services: lib.services() })));
    });
  });

  it('openEverywhere opens a ruleset in every worker, so no later answer opens it; a resident part opens from its file', async () => {
    const loaded = ok(await pool.run({ op: 'load', ruleset: { id, input } }));
    // What the store keeps once the ruleset is on disk: the resident part, the whole form in a file.
    const dir = await mkdtemp(join(tmpdir(), 'landfall-open-'));
    const compiledFile = join(dir, `${id}.compiled`);
    await writeFile(compiledFile, Buffer.from(loaded.shared!));
    const inputFile = join(dir, `${id}.ruleset`);
    await writeFile(inputFile, Buffer.concat([Buffer.from('{}\n'), Buffer.from(input)]));
    try {
      // Another id, so no worker has it cached from the test above.
      const ruleset = { id: 'f'.repeat(64), inputFile, shared: residentPart(loaded.shared!), compiledFile };
      const opened = await pool.openEverywhere(ruleset);
      expect(opened).toEqual(new Set(pool.threads.map((t) => t.threadId)));
      const queries: QueryT[] = lib.services().map((s) => ({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const }));
      const results = (await Promise.all(queries.map((query) => pool.run({ op: 'explain', ruleset, query })))).map(ok);
      expect(new Set(results.map((r) => r.timings.thread)).size).toBe(2);
      results.forEach((r, i) => {
        expect(r.timings.loadMs).toBeUndefined();
        expect(r.timings.parses).toBe(0);
        expect(JSON.parse(answerText(r))).toEqual(JSON.parse(JSON.stringify(lib.explain(queries[i]!))));
      });
      const services = ok(await pool.run({ op: 'services', ruleset }));
      expect(JSON.parse(services.json)).toEqual(JSON.parse(JSON.stringify({ services: lib.services() })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
