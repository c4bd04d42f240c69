// vitest globalSetup: bundles, with esbuild, once per run, the entries the tests start as fresh
// threads or processes: the service's pool worker (src/service/worker.ts), the command line
// (src/cli.ts), the server process entry (src/service/main.ts, run with LANDFALL_WORKER_FILE
// pointing at the worker bundle, so neither the process nor its workers go through tsx) and the
// scaling lab's per-point worker (src/scale/worker.ts, LANDFALL_SCALE_WORKER_FILE) and the kernel
// lab's in-namespace agent (src/lab/agent.ts, LANDFALL_LAB_AGENT_FILE), and the pool tests' stand-in
// worker (test/service/fixtures/fake-worker.ts).
// Started from .ts, each re-imports ~80 TypeScript modules through the tsx loader: ~4-7 s per
// service-test app boot (~40 in the suite) on 2 loaded cores, ~1-3 s per CLI process. From a
// bundle they start in a fraction of that. Same source, same code paths: only the loader differs.
// Packages stay external (resolved from node_modules as before) except three pure-JS ones that
// every entry loads at start (typebox, ip-num, lru-cache: ~300 small module files, ~0.5 s of CPU
// per process or worker thread to resolve and compile one by one), and every `import.meta.url` in a
// bundled module is replaced by that module's own source URL, so paths built from it (the wasm
// binary, examples/, collect.sh, a .ts worker under tsx) resolve exactly as they do under tsx.
// The one exception is src/cli.ts, whose "am I the main module" check compares it to argv[1].
import { build, type Plugin } from 'esbuild';
import { packagesExternalButInlined } from '../../src/service/bundle-build.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the bundled pool worker (test/service/helpers.ts testWorkerFile). */
    workerFile: string;
    /** Absolute path of the bundled CLI (run as `node <cliFile> args…`). */
    cliFile: string;
    /** Absolute path of the bundled server entry, src/service/main.ts (run as `node <serverFile>`). */
    serverFile: string;
    /** Absolute path of the bundled scaling-point worker, src/scale/worker.ts (LANDFALL_SCALE_WORKER_FILE). */
    scaleWorkerFile: string;
    /** Absolute path of the bundled kernel-lab agent, src/lab/agent.ts (LANDFALL_LAB_AGENT_FILE). */
    labAgentFile: string;
    /** Absolute path of the bundled pool-mechanics stand-in, test/service/fixtures/fake-worker.ts. */
    fakeWorkerFile: string;
  }
}

const src = fileURLToPath(new URL('../../src/', import.meta.url));
const cliEntry = `${src}cli.ts`;

/**
 * `import.meta.url` → the source file's URL, in every src/ module but the CLI entry. Absolute, not
 * relative to the bundle as in the build's bundles (src/service/bundle-build.ts): the split CLI
 * bundle moves modules into chunks/, where a path relative to the entry would miss.
 */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (args.path === cliEntry) return { contents: text, loader: 'ts' };
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

export default async function setup(project: TestProject): Promise<void> {
  const outDir = fileURLToPath(new URL('../.build/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  await writeFile(`${outDir}.gitignore`, '*\n');
  const bundle = (entry: string, outfile: string) =>
    build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      outfile,
      logLevel: 'warning',
      plugins: [sourceUrls, packagesExternalButInlined],
    });
  // The CLI imports its commands' modules (the server, fastify and its plugins, piscina, the
  // scaling lab…) with `await import()` when a command needs them. One bundle file would hoist
  // them all into its top-level imports, and every CLI process (a dozen per run) would load
  // fastify & co. for `explain` too: ~0.7 s of CPU each. Split, they stay lazy, as under tsx.
  const cliBundle = () =>
    build({
      entryPoints: [cliEntry],
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      outdir: `${outDir}cli`,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      logLevel: 'warning',
      plugins: [sourceUrls, packagesExternalButInlined],
    });
  await Promise.all([
    bundle(`${src}service/worker.ts`, `${outDir}worker.mjs`),
    cliBundle(),
    bundle(`${src}service/main.ts`, `${outDir}main.mjs`),
    bundle(`${src}scale/worker.ts`, `${outDir}scale-worker.mjs`),
    bundle(`${src}lab/agent.ts`, `${outDir}lab-agent.mjs`),
    // The pool tests' stand-in worker: every pool they make starts threads from it (and replaces
    // the ones a crash or time limit stops), each paying the tsx loader's start-up when run from .ts.
    bundle(fileURLToPath(new URL('../service/fixtures/fake-worker.ts', import.meta.url)), `${outDir}fake-worker.mjs`),
  ]);
  project.provide('workerFile', `${outDir}worker.mjs`);
  project.provide('cliFile', `${outDir}cli/cli.mjs`);
  project.provide('serverFile', `${outDir}main.mjs`);
  project.provide('scaleWorkerFile', `${outDir}scale-worker.mjs`);
  project.provide('fakeWorkerFile', `${outDir}fake-worker.mjs`);
  // Every scaling point starts a worker thread; from src/ that worker re-imports the engine through
  // tsx (seconds per point on a loaded machine). Through the environment so it reaches the scale
  // runs inside test files, the servers they start and the CLI processes they spawn alike.
  process.env.LANDFALL_SCALE_WORKER_FILE = `${outDir}scale-worker.mjs`;
  // Likewise each kernel-lab namespace's agent process (three per lab): tsx adds ~0.4 s of CPU to
  // every one of them, for a file that imports node built-ins only.
  project.provide('labAgentFile', `${outDir}lab-agent.mjs`);
  process.env.LANDFALL_LAB_AGENT_FILE = `${outDir}lab-agent.mjs`;
}
