// The service's load path: an upload's input is parsed and compiled once, by the loader thread
// (src/service/pool.ts), into the shared compiled form that every worker answers from and the
// store persists. A stored ruleset without a current compiled form (a file from another build)
// is recompiled here on its first use, once however many requests ask at the same time.

import type { Landfall } from './landfall.js';
import { ApiError } from './errors.js';
import type { StoredRuleset } from './store.js';

const compiling = new WeakMap<Landfall, Map<string, Promise<StoredRuleset>>>();

/** Parses and compiles `input` (whose id is `id`) in the loader; the entry to store. */
export async function compileInput(lf: Landfall, id: string, input: SharedArrayBuffer): Promise<StoredRuleset> {
  const res = await lf.run({ op: 'load', ruleset: { id, input } });
  if (!res.shared || res.id !== id) throw new Error(`the loader returned ${res.id ?? 'no id'} for ${id}`);
  const { stats, warnings } = JSON.parse(res.json) as Pick<StoredRuleset, 'stats' | 'warnings'>;
  return { id, stats, warnings, inputBytes: input.byteLength, input, shared: res.shared };
}

/** The entry with its compiled form, compiling (and persisting) it first when it has none. */
export async function withCompiled(lf: Landfall, entry: StoredRuleset): Promise<StoredRuleset> {
  if (entry.shared) return entry;
  let inflight = compiling.get(lf);
  if (!inflight) compiling.set(lf, (inflight = new Map()));
  let p = inflight.get(entry.id);
  if (!p) {
    p = (async () => {
      try {
        const fresh = await compileInput(lf, entry.id, await lf.store.readInput(entry));
        await lf.store.put(fresh, !lf.store.aliasesOf(entry.id).length);
        return fresh;
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) {
          throw new ApiError('ruleset-not-found', `ruleset ${entry.id} is stored but no longer loads (${err.message}); upload it again`);
        }
        throw err;
      }
    })().finally(() => inflight!.delete(entry.id));
    inflight.set(entry.id, p);
  }
  return p;
}
