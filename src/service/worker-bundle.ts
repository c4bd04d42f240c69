// The pool worker as one file (`npm run build:ts` runs this after tsc): dist/service/worker.bundle.js.
// Every thread the pool starts (the workers at boot, the loader on each upload after it idled out)
// imports the library; unbundled that is ~300 module files of typebox, ip-num and lru-cache plus
// ours, each resolved and compiled on its own: ~0.7 s of CPU a thread, ~0.2 s from the bundle.
// Packages with files or native parts of their own stay external (piscina). Each bundled module's
// `import.meta.url` becomes its own file's URL, written relative to the bundle, so paths built from
// it (the wasm binary, examples/) resolve exactly as unbundled, wherever the package is installed.

import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Pure-JS packages inlined into the bundle (the rest stay imports, resolved from node_modules). */
const INLINED = new Set(['typebox', 'ip-num', 'lru-cache']);

function plugins(outfile: string, root: string): Plugin[] {
  const outDir = dirname(outfile);
  return [
    {
      name: 'own-import-meta-url',
      setup(b) {
        b.onLoad({ filter: /\.[jt]s$/ }, async (args) => {
          const text = await readFile(args.path, 'utf8');
          const loader = args.path.endsWith('.ts') ? 'ts' : 'js';
          if (!args.path.startsWith(root)) return { contents: text, loader };
          const rel = relative(outDir, args.path).split(sep).join('/');
          return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader };
        });
      },
    },
    {
      name: 'packages-external-but-inlined',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:')) return { path: args.path, external: true };
          const parts = args.path.split('/');
          const pkg = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
          return INLINED.has(pkg) ? undefined : { path: args.path, external: true };
        });
      },
    },
  ];
}

/**
 * Bundles the worker module `entry` (dist/service/worker.js, or src/service/worker.ts) into
 * `outfile`. `root`: the folder whose modules get their own import.meta.url (default: entry's
 * grandparent, dist/ or src/).
 */
export async function bundleWorker(entry: string, outfile: string, root = dirname(dirname(entry))): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    plugins: plugins(outfile, resolve(root) + sep),
  });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const here = dirname(fileURLToPath(import.meta.url));
  await bundleWorker(`${here}/worker.js`, `${here}/worker.bundle.js`);
}
