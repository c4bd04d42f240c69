// After a restart, persisted rulesets are read back on first use, each on its own: a request on
// ruleset A is answered while ruleset B (asked for first) is still being brought back — here B's
// compiled file is from another build, so B is recompiled from its dump in the loader.
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateIptables } from '../../src/kube/generate.js';
import { nodeDump, startApp, tempDir, webQuery } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('restart with persisted rulesets', () => {
  it('answers A while B is still being read back; neither was parsed at start', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const big = generateIptables({ services: 1500, endpoints: 5, seed: 2 });
    const bQuery = { protocol: big.services[0]!.protocol, destination: big.services[0]!.clusterIP, port: big.services[0]!.port, origin: 'pod' as const };
    const first = await startApp({}, { dataDir });
    const a = (await first.app.inject({ method: 'POST', url: '/v1/rulesets', payload: await nodeDump() })).json().id as string;
    const b = (await first.app.inject({ method: 'POST', url: '/v1/rulesets', payload: { iptables: big.text, node: big.node } })).json().id as string;
    await first.close();
    // B's compiled form from "another build": it must be recompiled from its dump on first use.
    const file = join(dataDir, `${b}.compiled`);
    const stale = await readFile(file);
    stale.writeInt32LE(stale.readInt32LE(8) + 1, 8);
    await writeFile(file, stale);

    const second = await startApp({}, { dataDir });
    try {
      expect(second.app.landfall.store.size).toBe(0); // listed, not read
      const settled: string[] = [];
      const onB = second.app
        .inject({ method: 'POST', url: `/v1/rulesets/${b}/explain`, payload: bQuery })
        .then((r) => (settled.push('B'), r));
      const onA = await second.app.inject({ method: 'POST', url: `/v1/rulesets/${a}/explain`, payload: webQuery });
      settled.push('A');
      expect(onA.statusCode, onA.body).toBe(200);
      const rB = await onB;
      expect(rB.statusCode, rB.body).toBe(200);
      expect(settled).toEqual(['A', 'B']);
      // B was recompiled once and its fresh compiled form written back.
      expect((await readFile(file)).equals(stale)).toBe(false);
    } finally {
      await second.close();
    }
  });
});
