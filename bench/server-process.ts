// A real landfall server process for the benches that measure the service (bench/load.ts,
// bench/fleet.ts, bench/restart.ts): started from src/ under tsx (or the build in dist/) with GC
// exposed, on a free port, with its own data dir.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** performance.now() at spawn, and how long until it said it listens. */
  t0: number;
  listenMs: number;
}

/** Resident memory of a process in MiB (0.1), every thread included. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number((Number(m[1]) / 1024).toFixed(1)) : NaN;
}

/** CPU time a process has used so far (user + system, every thread), ms; the kernel counts in ticks of 10 ms. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface StartOptions {
  /** Run the built server (dist/, `npm run build:ts` first) instead of src/ under tsx: what `npm start` runs. */
  dist?: boolean;
  env?: Record<string, string>;
  /** --expose-gc (default true: memory figures are taken after a GC; the server then also collects after each open). */
  exposeGc?: boolean;
}

export function startServer(dataDir: string, opts: StartOptions = {}): Promise<ServerProcess> {
  const t0 = performance.now();
  const entry = opts.dist ? [join(root, 'dist/service/main.js')] : ['--import', 'tsx', join(root, 'src/service/main.ts')];
  if (opts.dist && !existsSync(entry[0]!)) throw new Error('dist/service/main.js is missing: run npm run build:ts first');
  const proc = spawn(process.execPath, [...(opts.exposeGc === false ? [] : ['--expose-gc']), ...entry], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LANDFALL_DATA_DIR: dataDir, LOG_LEVEL: 'info', LANDFALL_MAX_EVENT_LOOP_DELAY_MS: '0', ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /listening at (http:\/\/[\d.]+:\d+)/.exec(line);
      if (m) resolve({ proc, url: m[1]!, t0, listenMs: performance.now() - t0 });
    });
  });
}

/** Polls `url` until it answers 200 (5 minutes at most). */
export async function until200(url: string): Promise<void> {
  for (let i = 0; i < 15_000; i++) {
    if ((await fetch(url).catch(() => undefined))?.status === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url} never 200`);
}

/** SIGTERM; resolves with the milliseconds until the process exited. */
export function stopServer(proc: ChildProcess): Promise<number> {
  const t0 = performance.now();
  return new Promise((r) => {
    proc.removeAllListeners('exit');
    proc.once('exit', () => r(Math.round(performance.now() - t0)));
    proc.kill('SIGTERM');
  });
}
