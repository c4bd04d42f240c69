// Namespaces must go away, whatever happens: after each lab, on process exit, on SIGINT/SIGTERM,
// and (for a run that was SIGKILLed) on the next run, for namespaces whose creator is dead.
// Only namespaces named by this module are ever deleted: `lf-<pid>-<random>-<role>`.
import { run, runSync } from './exec.js';

const live = new Set<string>();
let hooked = false;

const NAME = /^lf-(\d+)-([a-z0-9]+)-(node|ext|pods)$/;

/** A fresh unique prefix for one lab's namespaces. */
export function newLabPrefix(): string {
  return `lf-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

function deleteAllSync(): void {
  for (const ns of live) runSync('ip', ['netns', 'del', ns]);
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  deleteAllSync();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  // Re-raise so the process ends the way it would have without us.
  process.kill(process.pid, sig);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', deleteAllSync);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Records a namespace as ours to delete (before creating it, so a failure half-way still cleans). */
export function track(ns: string): void {
  hook();
  live.add(ns);
}

/** Deletes a namespace now (its veth ends go with it). */
export async function deleteNamespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'del', ns], { allowFailure: true, timeoutMs: 10_000 });
  live.delete(ns);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes lab namespaces left behind by processes that no longer exist; returns their names. */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { allowFailure: true, timeoutMs: 5_000 });
  const stale: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const name = line.split(' ')[0];
    const m = NAME.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) stale.push(name);
  }
  for (const ns of stale) await run('ip', ['netns', 'del', ns], { allowFailure: true, timeoutMs: 10_000 });
  return stale;
}
