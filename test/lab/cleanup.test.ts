// Namespaces never outlive their lab: removed on SIGTERM, and after a SIGKILL by the next lab.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KernelLab } from '../../src/lab/index.js';
import { availability, labSuiteTitle } from './support.js';

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]);

/** Starts child-lab.ts, resolves with its namespaces once the lab is up. */
function childLab(): Promise<{ pid: number; names: string[]; exited: Promise<void> }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, fileURLToPath(new URL('./child-lab.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child lab did not start within 20 s'));
    }, 20_000);
    child.stdout.once('data', (b: Buffer) => {
      clearTimeout(timer);
      resolve({ pid: child.pid as number, names: JSON.parse(b.toString('utf8')) as string[], exited });
    });
  });
}

describe.skipIf(!availability.ok)(labSuiteTitle('kernel lab cleanup'), () => {
  it('removes its namespaces when the process gets SIGTERM', async () => {
    const c = await childLab();
    expect(namespaces()).toEqual(expect.arrayContaining(c.names));
    process.kill(c.pid, 'SIGTERM');
    await c.exited;
    const left = namespaces();
    for (const n of c.names) expect(left).not.toContain(n);
  });

  it('sweeps the namespaces of a SIGKILLed process when the next lab starts', async () => {
    // A process that is surely gone: a finished child's pid, as a SIGKILLed test run leaves it.
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    const names = ['node', 'ext', 'pods'].map((role) => `lf-${dead.pid}-zz${Date.now().toString(36).slice(-4)}-${role}`);
    for (const n of names) execFileSync('ip', ['netns', 'add', n]);
    try {
      const lab = await KernelLab.create({ v6: null });
      await lab.close();
      const left = namespaces();
      for (const n of names) expect(left).not.toContain(n);
    } finally {
      for (const n of names) if (namespaces().includes(n)) execFileSync('ip', ['netns', 'del', n]);
    }
  });
});
