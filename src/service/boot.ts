// Startup work, run once after ready(): start every worker, load the bundled example under the
// alias `example`, and list the persisted rulesets. Persisted rulesets are read when first asked
// for (src/service/store.ts), so start-up does not wait for them and /readyz means "the example
// is loaded and the pool is up".

import { readNodeDir } from '../examples.js';
// The app's type without importing app.ts (which imports this file); `landfall` is declared there.
import type { FastifyInstance as App } from 'fastify';
import { compileInput } from './load.js';
import { encodeInput, idOf } from './store.js';
import { refOf } from './protocol.js';
import type { RulesetBundle } from '../model/contracts.js';

export async function boot(app: App, exampleDir: string | null): Promise<void> {
  const lf = app.landfall;
  const listed = lf.store.index().then((ids) => app.log.info({ persisted: ids.length }, 'persisted rulesets listed (read on first use)'));
  await lf.pool.warmUp();

  if (exampleDir) {
    const bundle = readNodeDir(exampleDir) as RulesetBundle | null;
    if (!bundle) {
      app.log.warn({ dir: exampleDir }, 'no bundled example found; the alias `example` is unavailable');
    } else {
      const input = encodeInput(bundle);
      const entry = await compileInput(lf, idOf(input), input);
      await lf.store.put(entry, false);
      lf.store.setAlias('example', entry.id);
      // Each worker opens it and answers one query, so no first request pays for a cold thread.
      await lf.pool.openEverywhere(refOf(entry), { protocol: 'tcp', destination: '192.0.2.1', port: 80, origin: 'pod' });
      app.log.info({ id: entry.id }, 'bundled example loaded as `example`');
    }
  }
  await listed;
}
