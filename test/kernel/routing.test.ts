// Kernel differential tests of routing from the node's own tables (ip -j addr / route / rule):
// the outgoing interface and MASQUERADE's source. The lab's node gets a second link to the pods
// namespace (an overlay-style `flannel.1` holding 10.244.1.0/32, with a pod route through it whose
// `src` names the uplink address — MASQUERADE ignores prefsrc and takes the interface's own
// address) and a second uplink `eth1` to the outside used by policy routing (`ip rule from POD
// lookup 100`, as AWS VPC CNI does for pods on secondary ENIs). explain, given the node's iproute2
// JSON as `ip -j` prints it, must name the source the kernel's listeners saw.
import { describe, expect, it, beforeAll } from 'vitest';
import { compareOutcomes, KernelLab, type ProbeSummary } from '../../src/lab/index.js';
import { run } from '../../src/lab/exec.js';
import type { ExplainResult, NodeInput, Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { KERNEL_ALPHA, labLifecycle, Timings } from './check.js';
import { loadLibrary } from './library.js';

const lib = await loadLibrary();
const title = lib.ok ? labSuiteTitle('kernel vs explain: routing from the node tables') : `kernel vs explain: routing — skipped: ${lib.reason}`;

const NODE_IP = '192.168.0.2';
const CLIENT = '203.0.113.10';
const OVERLAY_POD = '10.244.1.5'; // behind flannel.1
const OVERLAY_ADDR = '10.244.1.0'; // flannel.1's own address
const ENI_POD = '10.244.0.7'; // policy-routed out of eth1
const PLAIN_POD = '10.244.0.9'; // main table: out of eth0
const ETH1_ADDR = '172.16.0.5';
const INTERNET = { proto: 'tcp' as const, ip: '203.0.113.99', port: 443 };

const DUMP = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d ${NODE_IP}/32 -p tcp -m tcp --dport 30080 -j DNAT --to-destination ${OVERLAY_POD}:8080
-A POSTROUTING -s 203.0.113.0/24 -j MASQUERADE
-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE
COMMIT
`;

async function ipIn(ns: string, args: string[]): Promise<string> {
  return (await run('ip', ['-n', ns, ...args], { timeoutMs: 10_000 })).stdout;
}

describe.skipIf(!availability.ok || !lib.ok)(title, () => {
  let lab: KernelLab;
  let node: NodeInput;
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    if (!lib.ok) return;
    lab = await KernelLab.create({ v6: null });
    await lab.load({ iptables: DUMP });
    await lab.addPods([ENI_POD, PLAIN_POD]);
    await lab.listenOutside([INTERNET]);
    const { node: n, ext, pods } = lab.ns;
    // overlay-style link node ↔ pods, and a second uplink node ↔ ext
    await run('ip', ['link', 'add', 'flannel.1', 'netns', n, 'type', 'veth', 'peer', 'name', 'fl1p', 'netns', pods]);
    await run('ip', ['link', 'add', 'eth1', 'netns', n, 'type', 'veth', 'peer', 'name', 'e1p', 'netns', ext]);
    await ipIn(n, ['addr', 'add', `${OVERLAY_ADDR}/32`, 'dev', 'flannel.1']);
    await ipIn(n, ['link', 'set', 'flannel.1', 'up']);
    await ipIn(pods, ['link', 'set', 'fl1p', 'up']);
    await ipIn(n, ['route', 'replace', `${OVERLAY_POD}/32`, 'dev', 'flannel.1', 'src', NODE_IP]);
    await ipIn(n, ['addr', 'add', `${ETH1_ADDR}/24`, 'dev', 'eth1']);
    await ipIn(n, ['link', 'set', 'eth1', 'up']);
    await ipIn(ext, ['addr', 'add', '172.16.0.1/24', 'dev', 'e1p']);
    await ipIn(ext, ['link', 'set', 'e1p', 'up']);
    await ipIn(n, ['route', 'add', 'default', 'via', '172.16.0.1', 'dev', 'eth1', 'table', '100']);
    await ipIn(n, ['rule', 'add', 'from', ENI_POD, 'lookup', '100', 'pref', '100']);
    const addrs = await ipIn(n, ['-j', 'addr']);
    const routes = (await ipIn(n, ['-j', '-4', 'route', 'show', 'table', 'all'])) + (await ipIn(n, ['-j', '-6', 'route', 'show', 'table', 'all']));
    const rules = (await ipIn(n, ['-j', '-4', 'rule'])) + (await ipIn(n, ['-j', '-6', 'rule']));
    node = { podCIDRs: ['10.244.0.0/16'], interfaces: { uplink: 'eth0', pods: lab.topology.podsInterface }, ipAddr: addrs, ipRoute: routes, ipRule: rules };
  });

  labLifecycle(() => lab, timings, () => 'routing');

  /** Both engines: the kernel's outcomes, the source it saw included; returns the wasm answer. */
  function agree(query: Query, observed: ProbeSummary): ExplainResult {
    let last: ExplainResult | undefined;
    for (const engine of ['reference', 'wasm'] as const) {
      if (!lib.ok) throw new Error(lib.reason);
      const r = lib.loadRuleset({ iptables: DUMP, node }, { engine }).explain(query);
      const c = compareOutcomes(r.outcomes, observed, { checkSource: 'all', alpha: KERNEL_ALPHA });
      expect(c.problems, `${engine}\n${c.table}`).toEqual([]);
      expect(r.uncertain, engine).toEqual([]);
      last = r;
    }
    return last!;
  }

  it('NodePort to a pod behind an overlay link: masqueraded to that link address, not the uplink or the route src', async () => {
    const q: Query = { protocol: 'tcp', destination: NODE_IP, port: 30080, source: CLIENT, origin: 'external' };
    const t0 = performance.now();
    const observed = await lab.probe({ origin: 'external', proto: 'tcp', destination: NODE_IP, port: 30080, source: CLIENT, count: 20, timeoutMs: 3_000 });
    timings.add('overlay NodePort', performance.now() - t0, 20);
    expect(observed.outcomes).toMatchObject([{ verdict: 'accept', masquerade: true, sources: [OVERLAY_ADDR] }]);
    const r = agree(q, observed);
    expect(r.outcomes).toMatchObject([{ source: OVERLAY_ADDR, outInterface: 'flannel.1', assumes: [] }]);
  });

  it('policy routing (ip rule from POD lookup 100): the pod egresses on eth1 and is masqueraded to its address', async () => {
    const q: Query = { protocol: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: ENI_POD, origin: 'pod' };
    const t0 = performance.now();
    const observed = await lab.probe({ origin: 'pod', proto: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: ENI_POD, count: 10, timeoutMs: 3_000 });
    timings.add('policy-routed pod', performance.now() - t0, 10);
    expect(observed.outcomes).toMatchObject([{ verdict: 'accept', masquerade: true, sources: [ETH1_ADDR] }]);
    const r = agree(q, observed);
    expect(r.outcomes).toMatchObject([{ source: ETH1_ADDR, outInterface: 'eth1' }]);
  });

  it('a pod the rule does not select takes the main table: eth0 and the node address', async () => {
    const q: Query = { protocol: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: PLAIN_POD, origin: 'pod' };
    const t0 = performance.now();
    const observed = await lab.probe({ origin: 'pod', proto: 'tcp', destination: INTERNET.ip, port: INTERNET.port, source: PLAIN_POD, count: 10, timeoutMs: 3_000 });
    timings.add('main-table pod', performance.now() - t0, 10);
    expect(observed.outcomes).toMatchObject([{ verdict: 'accept', masquerade: true, sources: [NODE_IP] }]);
    const r = agree(q, observed);
    expect(r.outcomes).toMatchObject([{ source: NODE_IP, outInterface: 'eth0' }]);
  });
});
