// vitest globalSetup: bundles the service's pool worker (src/service/worker.ts and everything it
// imports; packages stay external) into one plain .mjs with esbuild, once per run. A piscina worker
// started from the .ts entry re-imports ~80 TypeScript modules through the tsx loader on every app
// boot (~4-7 s each on 2 loaded cores, ~40 boots in the suite); from the bundle it starts in well
// under a second. Same source, same code path: only the loader differs. The bundle sits two levels
// below the root, like src/engine/wasm.ts, so its `../../build/engine.wasm` URL still resolves.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the bundled pool worker (test/service/helpers.ts testWorkerFile). */
    workerFile: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const outDir = fileURLToPath(new URL('../.build/', import.meta.url));
  const outfile = `${outDir}worker.mjs`;
  await mkdir(outDir, { recursive: true });
  await writeFile(`${outDir}.gitignore`, '*\n');
  await build({
    entryPoints: [fileURLToPath(new URL('../../src/service/worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    outfile,
    logLevel: 'warning',
  });
  project.provide('workerFile', outfile);
}
