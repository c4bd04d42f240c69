// Startup work, run once after ready(): start every worker, load the bundled example under the
// alias `example`, and re-load each persisted ruleset (which also proves it still parses to its
// own id — a file from another landfall version or a corrupted one is skipped with a log line).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { App } from './app.js';
import { encodeInput, type StoredRuleset } from './store.js';
import type { RulesetBundleT } from './schemas.js';

export async function boot(app: App, exampleDir: string | null): Promise<void> {
  const { pool, store, run } = app.landfall;
  await pool.warmUp();

  if (exampleDir) {
    const bundle = await readExample(exampleDir);
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

/**
 * The example directory holds the dumps as files: one whose name starts with `iptables` (the
 * IPv4 dump, required), and optionally `ip6tables*`, `ipvs*`, `ipset*`, and `node.json`.
 */
export async function readExample(dir: string): Promise<RulesetBundleT | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return null;
  }
  const pick = (re: RegExp) => names.find((n) => re.test(n));
  const text = async (re: RegExp) => {
    const n = pick(re);
    return n ? readFile(join(dir, n), 'utf8') : undefined;
  };
  const iptables = await text(/^iptables(?!.*\.md$)/);
  if (iptables === undefined) return null;
  const bundle: RulesetBundleT = { iptables };
  const ip6tables = await text(/^ip6tables(?!.*\.md$)/);
  const ipvs = await text(/^ipvs(?!.*\.md$)/);
  const ipsets = await text(/^ipsets?(?!.*\.md$)/);
  if (ip6tables !== undefined) bundle.ip6tables = ip6tables;
  if (ipvs !== undefined) bundle.ipvs = ipvs;
  if (ipsets !== undefined) bundle.ipsets = ipsets;
  const node = await text(/^node\.json$/);
  if (node !== undefined) bundle.node = JSON.parse(node) as RulesetBundleT['node'];
  return bundle;
}
