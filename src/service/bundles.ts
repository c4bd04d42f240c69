// Which file a build runs: a module's esbuild bundle (src/service/bundle-build.ts, made by
// `npm run build:ts`) when there is one as new as the module itself, else the module.

import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `<name>.bundle.js` in `dir` unless it is missing or older than `<name>.js` (tsc run again without
 * the bundling step), else `<name>.js`.
 */
export function builtFile(dir: string, name: string): string {
  const plain = join(dir, `${name}.js`);
  const bundle = join(dir, `${name}.bundle.js`);
  const b = statSync(bundle, { throwIfNoEntry: false });
  const p = statSync(plain, { throwIfNoEntry: false });
  return b && (!p || b.mtimeMs >= p.mtimeMs) ? bundle : plain;
}

/**
 * In a build with a fresh server bundle, its URL for import(); else null, and the caller imports
 * server.js itself (under tsx, and in bundles of our own that already contain it).
 */
export function serverBundleUrl(): string | null {
  if (import.meta.url.endsWith('.ts')) return null;
  const file = builtFile(dirname(fileURLToPath(import.meta.url)), 'server');
  return file.endsWith('.bundle.js') ? pathToFileURL(file).href : null;
}
