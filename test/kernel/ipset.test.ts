// Kernel differential tests for rules that decide by ipset membership: the sets are restored
// (`ipset restore`) before the rules, and explain gets the same `ipset save` text.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab, optionalTools } from '../../src/lab/index.js';
import type { Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, type ExplainingRuleset } from './library.js';

const RULES = readFileSync(new URL('./fixtures/ipset-node.txt', import.meta.url), 'utf8');
const SETS = readFileSync(new URL('./fixtures/ipset-node.ipsets', import.meta.url), 'utf8');
const lib = await loadLibrary();
const hasIpset = optionalTools().ipset;
const reason = !lib.ok ? lib.reason : !hasIpset ? 'the ipset tool is not installed (apt-get install ipset)' : null;
const title = reason ? `kernel vs explain: ipset rules — skipped: ${reason}` : labSuiteTitle('kernel vs explain: ipset rules');

const SCENARIOS: Array<Query & { name: string; count: number; source: string }> = [
  { name: 'service picked by a hash:ip,port set', protocol: 'tcp', destination: '10.96.1.10', port: 80, source: '203.0.113.10', origin: 'external', count: 200 },
  { name: 'masquerade by a hash:net source set', protocol: 'tcp', destination: '10.96.1.10', port: 80, source: '198.51.100.10', origin: 'external', count: 100 },
  { name: 'REJECT by a hash:net source set', protocol: 'tcp', destination: '10.96.1.10', port: 80, source: '203.0.113.200', origin: 'external', count: 5 },
  { name: 'port not in the service set: not DNATed, DROPped by the endpoint set', protocol: 'tcp', destination: '10.96.1.10', port: 81, source: '203.0.113.10', origin: 'external', count: 4 },
  { name: 'node port picked by a bitmap:port set', protocol: 'tcp', destination: '192.168.0.2', port: 30100, source: '203.0.113.10', origin: 'external', count: 100 },
];

describe.skipIf(!availability.ok || reason !== null)(title, () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create({ v6: null });
    await lab.load({ iptables: RULES, ipsets: SETS });
    const saved = await lab.save();
    const node = lab.nodeContext();
    for (const [name, iptables] of Object.entries({ 'ipset dump': RULES, 'kernel re-saved': saved }))
      for (const engine of ['reference', 'wasm'] as const) {
        try {
          const rs: ExplainingRuleset = (lib.loadRuleset as (b: object, o: object) => ExplainingRuleset)({ iptables, ipsets: SETS, node }, { engine });
          variants.push({ name: `${name} / ${engine}`, rs });
        } catch (e) {
          if (engine === 'reference') throw e;
          console.info(`[kernel] ${name} / wasm not compared: ${(e as Error).message.split('\n')[0]}`);
        }
      }
  });


  labLifecycle(() => lab, timings, () => 'ipset rules');

  for (const { name, count, ...query } of SCENARIOS) {
    it(name, async () => {
      const t0 = performance.now();
      const observed = await lab.probe({ origin: query.origin ?? 'external', proto: 'tcp', destination: query.destination, port: query.port ?? 0, source: query.source, count, timeoutMs: count > 5 ? 3_000 : 1_000 });
      timings.add(name, performance.now() - t0, count);
      expect(disagreements(variants, query, observed, name).join('\n')).toBe('');
    });
  }
});
