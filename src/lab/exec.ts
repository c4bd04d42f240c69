// Running the few system tools the lab needs (ip, iptables-restore, ipset, conntrack, nfacct).
//
// Every call is bounded in time: a hung tool must not hang a test run or `landfall scale --kernel`.
// Nothing here goes through a shell, so dump text and names never get interpreted.
import { spawn, spawnSync } from 'node:child_process';
import { LandfallError } from '../model/errors.js';

/**
 * iproute2 and iptables live in sbin directories that a non-login or CI shell may leave off PATH;
 * the lab runs as root anyway, so look there too.
 */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
export const LAB_PATH = [...(process.env.PATH ?? '/usr/bin:/bin').split(':'), ...SBIN].filter((d, i, a) => d && a.indexOf(d) === i).join(':');
const LAB_ENV = { ...process.env, PATH: LAB_PATH };

export class LabError extends LandfallError {
  readonly code = 'lab-failed';
  constructor(
    message: string,
    /** The command that failed, for the report. */
    readonly command?: string,
    /** Its stderr, trimmed. */
    readonly stderr?: string,
  ) {
    super(stderr ? `${message}: ${stderr}` : message);
    this.name = 'LabError';
  }
}

export interface RunOptions {
  /** Text written to the tool's stdin (then closed). */
  input?: string;
  /** Kill the tool after this long (default 20 s). */
  timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting when the tool fails. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `cmd args…`, collecting its output; rejects with a LabError on failure or timeout. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const started = performance.now();
  const line = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: LAB_ENV });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new LabError(`cannot run ${cmd}: ${e.message}`, line));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const res: RunResult = {
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8').trim(),
        ms: performance.now() - started,
      };
      if (timedOut) reject(new LabError(`${shorten(line)} timed out after ${timeoutMs} ms`, line, res.stderr));
      else if (res.code !== 0 && !opts.allowFailure) reject(new LabError(`${shorten(line)} failed (exit ${res.code})`, line, res.stderr));
      else resolve(res);
    });
    // EPIPE when the tool exits before reading all of its input: the exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Synchronous variant for exit handlers, where nothing asynchronous runs any more. */
export function runSync(cmd: string, args: readonly string[], timeoutMs = 5_000): number {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: timeoutMs, env: LAB_ENV });
  return r.status ?? -1;
}

/** True when `tool` is found on PATH (or is an executable path). */
export function haveTool(tool: string): boolean {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore', timeout: 2_000, env: LAB_ENV });
  return r.status === 0;
}

function shorten(s: string): string {
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
