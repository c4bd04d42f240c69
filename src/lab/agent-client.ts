// The parent side of an agent (agent.ts): spawns it inside a namespace and sends it requests.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LAB_PATH, LabError } from './exec.js';
import type { ListenSpec, ProbeRecord, ProbeRequest, Request, Response } from './protocol.js';

/**
 * How to start agent.ts: from dist/ it is plain JS; from src/ (vitest, tsx) node needs tsx's loader,
 * resolved from here so the working directory does not matter. LANDFALL_LAB_AGENT_FILE names a
 * prebuilt agent instead (the test suite bundles agent.ts once per run: no tsx start-up per agent).
 */
export function agentCommand(): string[] {
  const prebuilt = process.env.LANDFALL_LAB_AGENT_FILE;
  if (prebuilt) return [process.execPath, resolve(prebuilt)];
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const loader = pathToFileURL(createRequire(self).resolve('tsx')).href;
    return [process.execPath, '--import', loader, fileURLToPath(new URL('./agent.ts', self))];
  }
  return [process.execPath, fileURLToPath(new URL('./agent.js', self))];
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class AgentClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited: string | null = null;
  private stderrTail = '';

  private constructor(readonly namespace: string, ttlMs: number) {
    this.child = spawn('ip', ['netns', 'exec', namespace, ...agentCommand()], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PATH: LAB_PATH, LANDFALL_AGENT_TTL_MS: String(ttlMs) },
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    this.child.stderr.on('data', (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString('utf8')).slice(-2000);
    });
    this.child.stdin.on('error', () => undefined);
    this.child.on('exit', (code, signal) => {
      this.exited = `agent in ${namespace} exited (${signal ?? code})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new LabError(this.exited));
      }
      this.pending.clear();
    });
  }

  /** Starts an agent in `namespace` and waits until it answers. */
  static async start(namespace: string, ttlMs = 30 * 60_000): Promise<AgentClient> {
    const a = new AgentClient(namespace, ttlMs);
    try {
      await a.request({ op: 'ping' }, 15_000);
    } catch (e) {
      a.stop();
      throw e;
    }
    return a;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  listen(specs: ListenSpec[], tcpWildcard = true): Promise<{ sockets: number }> {
    return this.request({ op: 'listen', specs, tcpWildcard }, 30_000) as Promise<{ sockets: number }>;
  }

  probe(req: Omit<ProbeRequest, 'op'>): Promise<ProbeRecord[]> {
    // Worst case: every connection waits its full timeout, `concurrency` at a time; plus slack.
    const waves = Math.ceil(req.count / Math.max(1, req.concurrency));
    const budget = waves * (req.timeoutMs + 250) + 10_000;
    return this.request({ op: 'probe', ...req }, budget) as Promise<ProbeRecord[]>;
  }

  /** Ends the agent: closing stdin makes it exit; the kill is for one that does not. */
  stop(): void {
    if (this.exited) return;
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 1_000);
    t.unref();
    this.child.once('exit', () => clearTimeout(t));
  }

  private request(body: Omit<Request, 'id'> & Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.exited) return Promise.reject(new LabError(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LabError(`agent in ${this.namespace}: ${String(body.op)} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  private onLine(line: string): void {
    let r: Response;
    try {
      r = JSON.parse(line) as Response;
    } catch {
      return; // not ours (a stray log line); requests time out if their answer never comes
    }
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.result);
    else p.reject(new LabError(`agent in ${this.namespace}: ${r.error}`));
  }
}
