// Timing helpers the benches share (bench/engine-suite.ts, bench/load.ts, bench/fleet.ts): CPU time
// of a call (steadier than wall time on a shared machine) and `iptables-restore --test` on a dump
// inside a throwaway network namespace, the yardstick parse + compile is compared with.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Wall milliseconds since `t0` (performance.now()), to 0.01 ms. */
export function ms(t0: number): number {
  return Number((performance.now() - t0).toFixed(2));
}

/** CPU milliseconds (this process, user + system) one run of fn takes. */
export function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** CPU microseconds per call of fn, over at least `budgetMs` of CPU time. */
export function cpuPerCall(budgetMs: number, fn: () => void): number {
  fn();
  let calls = 0;
  const c0 = process.cpuUsage();
  let used = 0;
  while (used < budgetMs * 1000) {
    fn();
    calls++;
    const c = process.cpuUsage(c0);
    used = c.user + c.system;
  }
  return used / calls;
}

/** `iptables-restore --test` on the dump inside a throwaway network namespace; wall ms or a reason. */
export function restoreTest(text: string): { ms: number | null; note?: string } {
  if (process.getuid?.() !== 0) return { ms: null, note: 'not root' };
  const which = spawnSync('sh', ['-c', 'command -v iptables-restore && command -v ip'], { encoding: 'utf8' });
  if (which.status !== 0) return { ms: null, note: 'iptables-restore or ip not installed' };
  const ns = `lf-bench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-'));
  const file = join(dir, 'dump.txt');
  writeFileSync(file, text);
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { ms: null, note: `ip netns add failed: ${String((e as Error).message).split('\n')[0]}` };
  }
  try {
    const t0 = performance.now();
    const r = spawnSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--test', file], { encoding: 'utf8' });
    const t = ms(t0);
    if (r.status !== 0) return { ms: null, note: `iptables-restore --test failed: ${(r.stderr || '').trim().split('\n')[0]}` };
    return { ms: t };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}
