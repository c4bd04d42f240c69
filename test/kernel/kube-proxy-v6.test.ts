// Kernel differential tests, IPv6: the IPv6 family of a dual-stack kube-proxy node loaded with
// ip6tables-restore (next to its IPv4 family), real IPv6 connections, compared with explain.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab } from '../../src/lab/index.js';
import type { Origin, Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';

const V4 = readFileSync(new URL('./fixtures/kube-proxy-node.txt', import.meta.url), 'utf8');
const V6 = readFileSync(new URL('./fixtures/kube-proxy-node-v6.txt', import.meta.url), 'utf8');
const lib = await loadLibrary();
const title = lib.ok ? labSuiteTitle('kernel vs explain: kube-proxy node, IPv6') : `kernel vs explain: kube-proxy node, IPv6 — skipped: ${lib.reason}`;

const NODE6 = 'fd00:192:168::2';
const SCENARIOS: Array<{ name: string; origin: Origin; destination: string; port: number; source: string; count: number }> = [
  { name: 'IPv6 ClusterIP from a pod: 2 endpoints, no masquerade', origin: 'pod', destination: 'fd00:96::10', port: 80, source: 'fd00:10:244:3::3', count: 200 },
  { name: 'IPv6 ClusterIP from outside: masqueraded', origin: 'external', destination: 'fd00:96::10', port: 80, source: '2001:db8:113::10', count: 100 },
  { name: 'IPv6 ClusterIP from the host: masqueraded', origin: 'host', destination: 'fd00:96::10', port: 80, source: NODE6, count: 100 },
  { name: 'IPv6 NodePort from outside: masqueraded', origin: 'external', destination: NODE6, port: 30080, source: '2001:db8:113::10', count: 100 },
  { name: 'IPv6 hairpin: an endpoint calling its own service', origin: 'pod', destination: 'fd00:96::10', port: 80, source: 'fd00:10:244:1::5', count: 200 },
];

describe.skipIf(!availability.ok || !lib.ok)(title, () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create();
    await lab.load({ iptables: V4, ip6tables: V6 });
    const loaded = loadVariants(lib, { 'kube-proxy dumps': { iptables: V4, ip6tables: V6 }, 'iptables-save dumps': { iptables: await lab.save(4), ip6tables: await lab.save(6) } }, lab.nodeContext());
    variants = loaded.variants;
    for (const n of loaded.notes) console.info(`[kernel] ${n}`);
  });

  // Conntrack entries outlive their connections (TCP TIME_WAIT: 120 s). A later connection whose
  // reply tuple clashes with one (same endpoint, same client address and port, e.g. an earlier
  // scenario's) gets its source port remapped by the kernel, which would look like masquerade.

  labLifecycle(() => lab, timings, () => 'kube-proxy node (IPv6)');

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const t0 = performance.now();
      const observed = await lab.probe({ origin: s.origin, proto: 'tcp', destination: s.destination, port: s.port, source: s.source, count: s.count, timeoutMs: 3_000 });
      timings.add(s.name, performance.now() - t0, s.count);
      const query: Query = { protocol: 'tcp', destination: s.destination, port: s.port, source: s.source, origin: s.origin };
      expect(disagreements(variants, query, observed, s.name).join('\n')).toBe('');
    });
  }
});
