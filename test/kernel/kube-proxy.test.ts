// Kernel differential tests: a kube-proxy node's rules loaded into a network namespace, real
// connections sent through them, and where they landed compared with landfall's explain — endpoint
// sets equal, frequencies within a chi-square bound (p > 0.001), masquerade and verdict equal.
// Each scenario is checked against explain on the dump as kube-proxy writes it and as iptables-save
// prints it back from the kernel, with every engine that loads.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareOutcomes, KernelLab, summarize, type ProbeRecord } from '../../src/lab/index.js';
import type { Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';
import { CLIENT, SCENARIOS, STICKY } from './scenarios.js';

const FIXTURE = readFileSync(new URL('./fixtures/kube-proxy-node.txt', import.meta.url), 'utf8');
const lib = await loadLibrary();
if (!lib.ok) console.warn(`[kernel] differential tests skipped: ${lib.reason}`);
const title = lib.ok ? labSuiteTitle('kernel vs explain: kube-proxy node') : `kernel vs explain: kube-proxy node — skipped: ${lib.reason}`;

describe.skipIf(!availability.ok || !lib.ok)(title, () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create({ v6: null });
    const report = await lab.load({ iptables: FIXTURE });
    for (const w of report.warnings) console.info(`[kernel] ${w}`);
    const loaded = loadVariants(lib, { 'kube-proxy dump': { iptables: FIXTURE }, 'iptables-save dump': { iptables: await lab.save() } }, lab.nodeContext());
    variants = loaded.variants;
    for (const n of loaded.notes) console.info(`[kernel] ${n}`);
  });

  // Conntrack entries outlive their connections (TCP TIME_WAIT: 120 s). A later connection whose
  // reply tuple clashes with one (same endpoint, same client address and port, e.g. an earlier
  // scenario's) gets its source port remapped by the kernel, which would look like masquerade.

  labLifecycle(() => lab, timings, () => 'kube-proxy node (IPv4)');

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const t0 = performance.now();
      const observed = await lab.probe({ origin: s.origin, proto: s.protocol, destination: s.destination, port: s.port, source: s.source, count: s.count, timeoutMs: s.timeoutMs });
      timings.add(s.name, performance.now() - t0, s.count);
      const query: Query = { protocol: s.protocol, destination: s.destination, port: s.port, source: s.source, origin: s.origin };
      expect(disagreements(variants, query, observed, s.name).join('\n')).toBe('');
    });
  }

  it('session affinity: first connections spread over the endpoints, later ones stay', async () => {
    const t0 = performance.now();
    const base: Omit<Query, 'source'> = { protocol: 'tcp', destination: STICKY.destination, port: STICKY.port, origin: 'external' };
    // Distinct clients: every first connection finds no recent entry and walks the statistic rules.
    const clients = Array.from({ length: 100 }, (_, i) => `203.0.113.${20 + i}`);
    const first = await Promise.all(clients.map((source) => lab.probe({ origin: 'external', proto: 'tcp', destination: STICKY.destination, port: STICKY.port, source, count: 1, timeoutMs: 3_000 })));
    const records: ProbeRecord[] = first.flatMap((f) => f.records);
    const problems = disagreements(variants, { ...base, source: clients[0] }, summarize(records), 'first connections of 100 clients');
    // Then a quarter of them again, sequentially: the recent list pins each where it first landed.
    let repeats = 0;
    for (let i = 0; i < clients.length; i += 4) {
      const landed = first[i].outcomes[0];
      if (landed?.verdict !== 'accept' || !landed.endpoint) {
        problems.push(`client ${clients[i]} first connection: ${landed?.verdict ?? 'nothing'}`);
        continue;
      }
      const again = await lab.probe({ origin: 'external', proto: 'tcp', destination: STICKY.destination, port: STICKY.port, source: clients[i], count: 5, concurrency: 1, timeoutMs: 3_000 });
      repeats += 5;
      const recent = [{ name: STICKY.sep[landed.endpoint], address: clients[i], secondsAgo: 1 }];
      problems.push(...disagreements(variants, { ...base, source: clients[i], recent }, again, `client ${clients[i]} after landing on ${landed.endpoint}`));
    }
    timings.add('session affinity (100 clients, 25 of them 5 more times)', performance.now() - t0, clients.length + repeats);
    expect(problems.join('\n')).toBe('');
  });

  // MASQUERADE takes the outgoing interface's address: the lab's pods interface (cni0, an exact
  // name) holds the pod CIDR's gateway, and landfall models exactly that (SEMANTICS.md).
  it('masquerade source is the pods-side interface address, as the kernel picks it', async () => {
    const observed = await lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.10', port: 80, source: CLIENT, count: 10 });
    const kernel = [...new Set(observed.outcomes.flatMap((o) => o.sources))];
    expect(kernel).toEqual([lab.topology.v4.podGateway]);
    for (const v of variants) {
      const result = v.rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 80, source: CLIENT, origin: 'external' });
      expect([...new Set(result.outcomes.map((o) => o.source))], v.name).toEqual(kernel);
      const strict = compareOutcomes(result.outcomes, observed, { checkSource: 'all' });
      expect(strict.problems.join('; '), v.name).toBe('');
    }
  });
});
