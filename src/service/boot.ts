// Startup work, run once after ready(): start every worker, load the bundled example under the
// alias `example`, and re-load each persisted ruleset (which also proves it still parses to its
// own id — a file from another landfall version or a corrupted one is skipped with a log line).

import { readNodeDir } from '../examples.js';
// The app's type without importing app.ts (which imports this file); `landfall` is declared there.
import type { FastifyInstance as App } from 'fastify';
import { encodeInput, type StoredRuleset } from './store.js';
import type { RulesetBundle } from '../model/contracts.js';

export async function boot(app: App, exampleDir: string | null): Promise<void> {
  const { pool, store, run } = app.landfall;
  await pool.warmUp();

  if (exampleDir) {
    const bundle = readNodeDir(exampleDir) as RulesetBundle | null;
    if (!bundle) {
      app.log.warn({ dir: exampleDir }, 'no bundled example found; the alias `example` is unavailable');
    } else {
      const input = encodeInput(bundle);
      const { json, id } = await run({ op: 'load', ruleset: { id: null, input } });
      const { stats, warnings } = JSON.parse(json) as Pick<StoredRuleset, 'stats' | 'warnings'>;
      await store.put({ id: id!, stats, warnings, input }, false);
      store.setAlias('example', id!);
      app.log.info({ id }, 'bundled example loaded as `example`');
    }
  }

  // Load persisted rulesets a few at a time: each is a parse in some worker.
  const pending = new Set<Promise<void>>();
  let loaded = 0;
  for await (const entry of store.readAll()) {
    const p = verify(app, entry)
      .then((ok) => {
        if (ok) loaded++;
      })
      .finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= pool.size) await Promise.race(pending);
  }
  await Promise.all(pending);
  app.log.info({ loaded }, 'persisted rulesets loaded');
}

async function verify(app: App, entry: StoredRuleset): Promise<boolean> {
  try {
    const { id } = await app.landfall.run({ op: 'load', ruleset: { id: null, input: entry.input } });
    if (id !== entry.id) {
      app.log.warn({ file: entry.id, id }, 'skipping a persisted ruleset whose content hashes to another id');
      return false;
    }
    await app.landfall.store.put(entry, false);
    return true;
  } catch (err) {
    app.log.warn({ file: entry.id, err: (err as Error).message }, 'skipping a persisted ruleset that no longer loads');
    return false;
  }
}
