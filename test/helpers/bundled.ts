// The entries test/support/worker-bundle.ts bundled for this run (see there), or undefined outside it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

function provided(key: 'workerFile' | 'cliFile' | 'serverFile' | 'fakeWorkerFile'): string | undefined {
  try {
    return inject(key);
  } catch {
    return undefined;
  }
}

/** The service pool worker bundle (src/service/worker.ts). */
export const bundledWorker = (): string | undefined => provided('workerFile');

/** The pool-mechanics stand-in worker (test/service/fixtures/fake-worker.ts): its bundle, else the .ts (under tsx). */
export const fakeWorkerFile = (): string => provided('fakeWorkerFile') ?? fileURLToPath(new URL('../service/fixtures/fake-worker.ts', import.meta.url));

/** argv for `node …` running the CLI: the bundle when there is one, else src/cli.ts under tsx. */
export function cliArgv(root: string): string[] {
  const cli = provided('cliFile');
  return cli ? [cli] : ['--import', 'tsx', join(root, 'src/cli.ts')];
}

/**
 * argv and environment for `node …` running the server entry: the bundled src/service/main.ts with
 * the bundled worker (LANDFALL_WORKER_FILE) when there are bundles, else main.ts under tsx.
 */
export function serverArgv(root: string): { argv: string[]; env: Record<string, string> } {
  const server = provided('serverFile');
  const worker = provided('workerFile');
  if (server && worker) return { argv: [server], env: { LANDFALL_WORKER_FILE: worker } };
  return { argv: ['--import', 'tsx', join(root, 'src/service/main.ts')], env: {} };
}
