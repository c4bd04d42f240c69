// Kernel differential tests on an EKS node (AWS VPC CNI + kube-proxy): fixtures/eks-node.txt is a
// copy of examples/eks-node/iptables.txt, frozen so the scenarios below keep their meaning.
// What it adds over the plain kube-proxy node: pods behind `eni+` interfaces, no local-traffic
// detector (so no ClusterIP masquerade rule at all), AWS-SNAT-CHAIN egress SNAT to the node's
// primary address, CONNMARK/addrtype --limit-iface-in in mangle, iptables-save's own rule order.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareOutcomes, KernelLab } from '../../src/lab/index.js';
import type { Origin, Protocol, Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';

const FIXTURE = readFileSync(new URL('./fixtures/eks-node.txt', import.meta.url), 'utf8');
const lib = await loadLibrary();
const title = lib.ok ? labSuiteTitle('kernel vs explain: EKS node') : `kernel vs explain: EKS node — skipped: ${lib.reason}`;

const NODE_IP = '192.168.31.45';
const POD = '192.168.20.25'; // in the node's pod range 192.168.20.16/28, not an endpoint
const CLIENT = '203.0.113.10';
/** Servers outside the cluster: on the internet, and elsewhere in the VPC (192.168.0.0/16). */
const INTERNET = { proto: 'tcp' as const, ip: '203.0.113.99', port: 443 };
const VPC_HOST = { proto: 'tcp' as const, ip: '192.168.50.10', port: 443 };

interface EksScenario {
  name: string;
  origin: Origin;
  protocol: Extract<Protocol, 'tcp' | 'udp'>;
  destination: string;
  port: number;
  source: string;
  count: number;
}

const SCENARIOS: EksScenario[] = [
  { name: 'EKS: kube-dns over UDP from a pod', origin: 'pod', protocol: 'udp', destination: '10.100.0.10', port: 53, source: POD, count: 200 },
  { name: 'EKS: ClusterIP from a pod (2 endpoints, one on another node)', origin: 'pod', protocol: 'tcp', destination: '10.100.37.12', port: 80, source: POD, count: 200 },
  { name: 'EKS: ClusterIP from outside: no local-traffic detector, so never masqueraded', origin: 'external', protocol: 'tcp', destination: '10.100.37.12', port: 80, source: CLIENT, count: 100 },
  { name: 'EKS: kubernetes API service from a pod', origin: 'pod', protocol: 'tcp', destination: '10.100.0.1', port: 443, source: POD, count: 100 },
  { name: 'EKS: NodePort (eTP=Cluster) from outside: masqueraded', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 31248, source: CLIENT, count: 200 },
  { name: 'EKS: NodePort (eTP=Local) from outside: local endpoint, source kept', origin: 'external', protocol: 'tcp', destination: NODE_IP, port: 30443, source: CLIENT, count: 40 },
  { name: 'EKS: NodePort (eTP=Local) from the host: every endpoint, masqueraded', origin: 'host', protocol: 'tcp', destination: NODE_IP, port: 30443, source: NODE_IP, count: 100 },
  { name: 'EKS: NodePort on 127.0.0.1 from the host', origin: 'host', protocol: 'tcp', destination: '127.0.0.1', port: 31248, source: '127.0.0.1', count: 100 },
  { name: 'EKS: hairpin through game-2048', origin: 'pod', protocol: 'tcp', destination: '10.100.159.184', port: 80, source: '192.168.20.21', count: 200 },
  { name: 'EKS: pod to another VPC address: AWS-SNAT-CHAIN returns, source kept', origin: 'pod', protocol: 'tcp', destination: VPC_HOST.ip, port: VPC_HOST.port, source: POD, count: 10 },
];

describe.skipIf(!availability.ok || !lib.ok)(title, () => {
  let lab: KernelLab;
  let variants: Variant[] = [];
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create({
      uplink: 'eth0',
      podsInterface: 'eni1a2b3c4d5e6',
      v4: { nodeAddress: NODE_IP, extAddress: '192.168.31.1', prefixLen: 24, podGateway: '169.254.1.1', podCIDR: '192.168.20.16/28', externalClients: ['203.0.113.0/24', '192.168.50.0/24'] },
      v6: null,
    });
    await lab.load({ iptables: FIXTURE });
    await lab.listenOutside([INTERNET, VPC_HOST]);
    const node = { ...lab.nodeContext(), podCIDRs: ['192.168.20.16/28', '192.168.20.32/28'] };
    const loaded = loadVariants(lib, { 'EKS dump': { iptables: FIXTURE }, 'EKS dump re-saved': { iptables: await lab.save() } }, node);
    variants = loaded.variants;
    for (const n of loaded.notes) console.info(`[kernel] ${n}`);
  });

  // Conntrack entries outlive their connections (TCP TIME_WAIT: 120 s). A later connection whose
  // reply tuple clashes with one (same endpoint, same client address and port, e.g. an earlier
  // scenario's) gets its source port remapped by the kernel, which would look like masquerade.

  labLifecycle(() => lab, timings, () => 'EKS node');

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const t0 = performance.now();
      const observed = await lab.probe({ origin: s.origin, proto: s.protocol, destination: s.destination, port: s.port, source: s.source, count: s.count, timeoutMs: 3_000 });
      timings.add(s.name, performance.now() - t0, s.count);
      const query: Query = { protocol: s.protocol, destination: s.destination, port: s.port, source: s.source, origin: s.origin };
      // CONNMARK --limit-iface-in in mangle is uncertain to explain (which interface holds which
      // address is not in the node context) but only sets a connmark; outcomes must still agree.
      expect(disagreements(variants, query, observed, s.name, { allowUncertain: true }).join('\n')).toBe('');
    });
  }

  // SNAT names its address, so here the source after NAT is compared too, not only "masqueraded".
  it('EKS: pod to the internet: AWS-SNAT-CHAIN SNATs to the node primary address', async () => {
    const t0 = performance.now();
    const observed = await lab.probe({ origin: 'pod', proto: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: POD, count: 10, timeoutMs: 3_000 });
    timings.add('EKS: pod to the internet (SNAT)', performance.now() - t0, 10);
    expect(observed.outcomes).toMatchObject([{ verdict: 'accept', masquerade: true, sources: [NODE_IP] }]);
    const problems: string[] = [];
    for (const v of variants) {
      const result = v.rs.explain({ protocol: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: POD, origin: 'pod' });
      const c = compareOutcomes(result.outcomes, observed, { checkSource: 'all' });
      if (!c.ok) problems.push(`${v.name}: ${c.problems.join('; ')}\n${c.table}`);
    }
    expect(problems.join('\n')).toBe('');
  });
});
