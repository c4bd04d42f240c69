// The entries test/support/worker-bundle.ts bundled for this run (see there), or undefined outside it.
import { join } from 'node:path';
import { inject } from 'vitest';

function provided(key: 'workerFile' | 'cliFile'): string | undefined {
  try {
    return inject(key);
  } catch {
    return undefined;
  }
}

/** The service pool worker bundle (src/service/worker.ts). */
export const bundledWorker = (): string | undefined => provided('workerFile');

/** argv for `node …` running the CLI: the bundle when there is one, else src/cli.ts under tsx. */
export function cliArgv(root: string): string[] {
  const cli = provided('cliFile');
  return cli ? [cli] : ['--import', 'tsx', join(root, 'src/cli.ts')];
}
