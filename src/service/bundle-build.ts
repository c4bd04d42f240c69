// Bundles run by `npm run build:ts` after tsc: dist/service/worker.bundle.js (every pool thread:
// the workers at boot, the loader on each upload after it idled out) and server.bundle.js (the
// server `landfall serve`, `npm start` and main.js start; bundles.ts picks them). Unbundled, a
// thread or process imports ~300 module files of typebox, ip-num and lru-cache plus ours, each
// resolved and compiled on its own (~0.74 s of CPU for the worker, ~0.12 s from its bundle).
// Packages with files or native parts of their own (fastify and its plugins, piscina) stay
// external. Each bundled module's `import.meta.url` becomes its own file's URL, written relative
// to the bundle, so paths built from it (the wasm binary, examples/, the web build, package.json,
// the worker file) resolve exactly as unbundled, wherever the package is installed.

import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Pure-JS packages inlined into a bundle (no files of their own to find, no native parts). */
const INLINED = new Set(['typebox', 'ip-num', 'lru-cache']);

/** Bare imports stay imports (resolved from node_modules) but for the INLINED packages. */
export const packagesExternalButInlined: Plugin = {
  name: 'packages-external-but-inlined',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const parts = args.path.split('/');
      const pkg = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      return INLINED.has(pkg) ? undefined : { path: args.path, external: true };
    });
  },
};

/** Each module under `root` gets its own file's URL for import.meta.url, relative to the bundle in `outDir`. */
function ownImportMetaUrl(outDir: string, root: string): Plugin {
  return {
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
  };
}

/**
 * Bundles the module `entry` (dist/service/worker.js, or src/service/worker.ts in tests) into
 * `outfile`. `root`: the folder whose modules get their own import.meta.url (dist/ or src/).
 */
export async function bundleModule(entry: string, outfile: string, root: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    plugins: [ownImportMetaUrl(dirname(outfile), resolve(root) + sep), packagesExternalButInlined],
  });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = dirname(here);
  await Promise.all(['worker', 'server'].map((m) => bundleModule(`${here}/${m}.js`, `${here}/${m}.bundle.js`, dist)));
}
