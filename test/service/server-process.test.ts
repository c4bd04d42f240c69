// A real server process on a real port: start, upload, explain; stop; start again on the same
// data directory (with a corrupt file dropped in) and explain again by id — nothing lost, and
// nothing re-parsed: the compiled form persisted beside the upload is read back on first use.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connect } from 'node:net';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverArgv } from '../helpers/bundled.js';
import { nodeDump, tempDir, webQuery } from './helpers.js';

// The process entry is src/service/main.ts, bundled once per run by test/support/worker-bundle.ts
// and started with the bundled pool worker: the same modules as `node --import tsx main.ts`, but
// neither the process nor its worker threads re-import ~80 TypeScript files through tsx, which
// took most of this file's time. Outside that setup, main.ts under tsx.
const server = serverArgv(fileURLToPath(new URL('../../', import.meta.url)));
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Server {
  url: string;
  proc: ChildProcess;
  logs: Record<string, unknown>[];
}

/** Starts the server entry (src/service/main.ts) on port 0 and resolves with its URL. */
function startServer(dataDir: string): Promise<Server> {
  const proc = spawn(process.execPath, server.argv, {
    env: { ...process.env, ...server.env, PORT: '0', HOST: '127.0.0.1', LANDFALL_DATA_DIR: dataDir, LANDFALL_POOL_SIZE: '1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(proc);
  const logs: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(rec.msg));
      if (m) resolve({ url: m[1]!, proc, logs });
    });
  });
}

async function untilReady(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server never became ready');
}

/** Liveness answers 200 as soon as the server listens, before start-up work is done. */
async function untilLive(url: string): Promise<void> {
  const res = await fetch(`${url}/healthz`);
  expect(res.status).toBe(200);
}

async function stop(s: Server): Promise<number | null> {
  // Drop the "exited early" rejection installed at start, then wait for this exit.
  s.proc.removeAllListeners('exit');
  const exited = new Promise<number | null>((r) => s.proc.once('exit', (code) => r(code)));
  s.proc.kill('SIGTERM');
  return exited;
}

/** The first test's restarted server, handed to the second (which stops it). */
let restarted: Server | undefined;

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('a real listening server', () => {
  it('keeps uploaded rulesets across a restart on the same data directory', { timeout: 120_000 }, async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);

    const first = await startServer(dataDir);
    await untilReady(first.url);
    const up = await fetch(`${first.url}/v1/rulesets`, json(await nodeDump()));
    expect(up.status).toBe(201);
    const { id } = (await up.json()) as { id: string };
    const before = await fetch(`${first.url}/v1/rulesets/${id}/explain`, json(webQuery));
    expect(before.status).toBe(200);
    const answer = await before.json();
    expect(await stop(first)).toBe(0);

    // A corrupt file and a stray file must not keep the next start from serving.
    await writeFile(join(dataDir, `${'e'.repeat(64)}.ruleset`), 'garbage');
    await writeFile(join(dataDir, 'README'), 'not a ruleset');

    // The compiled form was persisted beside the bundle, so the restart needs no parse for it.
    expect((await readdir(dataDir)).filter((f) => f.startsWith(id)).sort()).toEqual([`${id}.compiled`, `${id}.ruleset`]);

    const second = await startServer(dataDir);
    // Liveness does not wait for start-up work.
    await untilLive(second.url);
    await untilReady(second.url);
    const after = await fetch(`${second.url}/v1/rulesets/${id}/explain`, json(webQuery));
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual(answer);
    expect((await fetch(`${second.url}/v1/rulesets/${id}`)).status).toBe(200);
    // Persisted rulesets are read on first use: the corrupt one is found (and skipped) when asked for.
    expect((await fetch(`${second.url}/v1/rulesets/${'e'.repeat(64)}`)).status).toBe(404);
    // Only the bundled example went through the loader: the persisted ruleset was not parsed again.
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toMatch(/landfall_ruleset_load_seconds_count\{phase="parse"\} 1\n/);
    const skipped = second.logs.filter((l) => String(l.msg).startsWith('skipping'));
    expect(skipped.map((l) => l.msg).sort()).toEqual(['skipping a corrupt ruleset file', 'skipping a file that is not a landfall ruleset']);
    // Stopped by the next test: its SIGTERM (exit 0 expected there too) finds a request in flight.
    restarted = second;
  });

  it('SIGTERM with a request in flight: it is answered, and its kept-alive connection does not hold the exit', { timeout: 120_000 }, async () => {
    // The restarted server of the test above, ready and idle (a fresh one if that test failed
    // before handing it over): one server start fewer, the same shutdown.
    let s = restarted;
    restarted = undefined;
    if (!s) {
      const dataDir = await tempDir();
      dirs.push(dataDir);
      s = await startServer(dataDir);
      await untilReady(s.url);
    }
    const { port } = new URL(s.url);
    // A keep-alive request whose body is still arriving when the signal comes: not idle at close().
    const sock = connect(Number(port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const body = JSON.stringify(webQuery);
    sock.write(`POST /v1/rulesets/example/explain HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    let answer = '';
    sock.on('data', (d) => (answer += String(d)));
    const closed = new Promise((r) => sock.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    const exited = stop(s);
    await new Promise((r) => setTimeout(r, 200));
    sock.write(body.slice(5));
    expect(await exited).toBe(0);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    // It exited because the server closed, not because the shutdown deadline ran out.
    expect(s.logs.some((l) => String(l.msg).includes('shutdown deadline'))).toBe(false);
  });
});
