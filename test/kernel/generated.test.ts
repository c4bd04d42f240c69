// Kernel differential tests on generated kube-proxy nodes (src/kube/generate.ts, when present):
// every service of a seeded mix — ClusterIP, NodePort, LoadBalancer with and without source
// ranges, externalIPs, eTP/iTP Local, affinity, no endpoints — probed from a pod, the host and
// outside, and compared with explain on the dump in both styles the generator writes (as kube-proxy
// restores it, as iptables-save prints it) and as the kernel saves it back.
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab } from '../../src/lab/index.js';
import type { NodeInput } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';
import { generateIptables } from '../../src/kube/generate.js';
import { EXT_PREFIXES, NODE_IP, probesFor, runProbe, type GenService } from './generated-probes.js';

type Generate = (o: Record<string, unknown>) => { text: string; services: GenService[]; node: NodeInput };

const lib = await loadLibrary();
const gen = { ok: true as const, generate: generateIptables as unknown as Generate };
const skipReason = !lib.ok ? lib.reason : null;
const title = skipReason ? `kernel vs explain: generated kube-proxy node — skipped: ${skipReason}` : labSuiteTitle('kernel vs explain: generated kube-proxy node');

const OPTIONS = {
  services: 24,
  endpoints: 3,
  seed: 11,
  nodeIP: NODE_IP,
  mix: { nodePort: 0.3, loadBalancer: 0.25, externalIPs: 0.15, etpLocal: 0.35, itpLocal: 0.1, affinity: 0.15, noEndpoints: 0.08, sourceRanges: 0.6 },
};
/** Two nodes: a broad mix, and a smaller one with kube-proxy's --masquerade-all. */
const CONFIGS: Array<{ label: string; options: typeof OPTIONS & { masqueradeAll?: boolean }; checkCoverage: boolean }> = [
  { label: `${OPTIONS.services} services × ${OPTIONS.endpoints} endpoints, seed ${OPTIONS.seed}`, options: OPTIONS, checkCoverage: true },
  { label: '8 services × 2 endpoints, seed 5, --masquerade-all', options: { ...OPTIONS, services: 8, endpoints: 2, seed: 5, masqueradeAll: true }, checkCoverage: false },
];

for (const config of CONFIGS) {
  const generated = gen.ok ? gen.generate(config.options) : null;
  const PROBES = generated ? generated.services.flatMap(probesFor) : [];

  describe.skipIf(!availability.ok || skipReason !== null)(`${title} (${config.label})`, () => {
    let lab: KernelLab;
    let variants: Variant[] = [];
    const timings = new Timings();

    beforeAll(async () => {
      timings.begin();
      if (!lib.ok || !gen.ok || !generated) return;
      lab = await KernelLab.create({ v4: { nodeAddress: NODE_IP, externalClients: EXT_PREFIXES }, v6: null });
      await lab.load({ iptables: generated.text });
      // All pod clients up front: one route batch instead of one per probe.
      await lab.addPods([...new Set(PROBES.filter((p) => p.origin === 'pod').flatMap((p) => p.sources))]);
      const restoreStyle = gen.generate({ ...config.options, style: 'restore' }).text;
      const node: NodeInput = { ...generated.node, addresses: [...(generated.node.addresses ?? []), lab.topology.v4.podGateway] };
      const dumps = { 'generated (save style)': { iptables: generated.text }, 'generated (restore style)': { iptables: restoreStyle }, 'kernel re-saved': { iptables: await lab.save() } };
      const loaded = loadVariants(lib, dumps, node);
      variants = loaded.variants;
      for (const n of loaded.notes) console.info(`[kernel] ${n}`);
    });

    labLifecycle(() => lab, timings, () => `generated node (${config.label})`);

    if (config.checkCoverage)
      it('covers every kind of service the mix asks for', () => {
        const names = PROBES.map((p) => p.name).join('\n');
        for (const kind of ['ClusterIP from a pod', 'NodePort from outside', 'externalIP', 'LB ', 'from inside', 'from outside 1']) expect(names).toContain(kind);
      });

    for (const p of PROBES) {
      it(p.name, async () => {
        const t0 = performance.now();
        const { observed, query, checkSource } = await runProbe(lab, p);
        timings.add(p.name, performance.now() - t0, observed.total);
        expect(disagreements(variants, query, observed, p.name, { checkSource }).join('\n')).toBe('');
      });
    }
  });
}
