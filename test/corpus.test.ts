// The real-dump corpus (test/corpus/<name>/, each with its SOURCE.md): node dumps other people
// pasted into public issues and docs, loaded as they are, with answers checked by hand. Every
// expectation below says why it is right by reading the rules; line numbers are the files'.
import { describe, expect, it } from 'vitest';
import { loadRuleset, type LoadInput, type LoadOptions } from '../src/ruleset.js';
import type { NodeInput, Query } from '../src/model/contracts.js';
import { corpusFile, parseErrorOf } from './helpers/fixtures.js';

function load(name: string, opts: LoadOptions = {}, node?: NodeInput) {
  expect(corpusFile(name, 'SOURCE.md'), `${name}/SOURCE.md`).toMatch(/Source: https:\/\//);
  const b: LoadInput = {};
  const ipt = corpusFile(name, 'iptables.txt');
  const ipvs = corpusFile(name, 'ipvs.txt');
  if (ipt !== undefined) b.iptables = ipt;
  if (ipvs !== undefined) b.ipvs = ipvs;
  if (node) b.node = node;
  return loadRuleset(b, { engine: 'reference', ...opts });
}

/** One outcome's verdict, endpoint, masquerade and the path as "line:chain". */
function only(rs: ReturnType<typeof load>, q: Query) {
  const r = rs.explain(q);
  expect(r.outcomes, JSON.stringify(r.outcomes)).toHaveLength(1);
  const o = r.outcomes[0];
  return { verdict: o.verdict, endpoint: o.endpoint, masquerade: o.masquerade, path: o.path.map((s) => `${s.line}:${s.chain}`) };
}

describe('flannel-k3s-nat-S: `iptables -t nat -S` in the flannel pod (flannel-io/flannel#1462)', () => {
  // Line 1 is the `kubectl exec` the user ran first: not iptables, so strict mode stops there and
  // lenient mode skips it; line 2's `iptables -t nat -S` names the table.
  it('strict mode stops at the kubectl line; lenient skips it and takes nat from the command', () => {
    expect(parseErrorOf(() => load('flannel-k3s-nat-S')).line).toBe(1);
    expect(load('flannel-k3s-nat-S', { lenient: true }).warnings).toEqual([expect.stringMatching(/^iptables:1:1: skipped a line that is not iptables-save/)]);
  });
  // The paste has no node address; 192.168.1.10 is this test's, so locality is settled (not the subject here).
  const rs = load('flannel-k3s-nat-S', { lenient: true }, { addresses: ['192.168.1.10'] });
  it('pod to the internet is masqueraded by line 8', () => {
    // Line 7 needs the destination in 10.200.0.0/16 (no); line 8: source in the flannel network,
    // destination not multicast → MASQUERADE.
    expect(only(rs, { protocol: 'udp', destination: '8.8.8.8', port: 53, source: '10.200.0.5', origin: 'pod' })).toEqual({ verdict: 'accept', endpoint: '8.8.8.8:53', masquerade: true, path: ['8:POSTROUTING'] });
  });
  it('pod to pod on another node keeps its source (line 7 RETURN, then the -P line-6 policy)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.200.1.7', port: 80, source: '10.200.0.5', origin: 'pod' })).toEqual({ verdict: 'accept', endpoint: '10.200.1.7:80', masquerade: false, path: ['7:POSTROUTING', '6:POSTROUTING'] });
  });
  it('outside to this node\'s pod subnet is left alone (line 9), to another node\'s is masqueraded (line 10)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.200.0.9', port: 80, source: '192.168.1.50' }).path).toEqual(['9:POSTROUTING', '6:POSTROUTING']);
    expect(only(rs, { protocol: 'tcp', destination: '10.200.3.9', port: 80, source: '192.168.1.50' })).toMatchObject({ masquerade: true, path: ['10:POSTROUTING'] });
  });
});

describe('flannel-host-nat-S: the host\'s nat table, cut short (flannel-io/flannel#1462)', () => {
  // The node address is not in the paste; 192.168.205.10 is this test's, so addrtype LOCAL is settled.
  const rs = load('flannel-host-nat-S', { lenient: true }, { addresses: ['192.168.205.10'] });
  it('a Docker container to the internet: the empty KUBE-SERVICES returns, 1.1.1.1 is not LOCAL, line 24 masquerades', () => {
    expect(
      only(rs, { protocol: 'tcp', destination: '1.1.1.1', port: 443, source: '172.16.0.5', origin: 'pod', inInterface: 'docker0', outInterface: 'eth0' }),
    ).toEqual({ verdict: 'accept', endpoint: '1.1.1.1:443', masquerade: true, path: ['20:PREROUTING', '3:PREROUTING', '24:POSTROUTING'] });
  });
  it('the same container to another container on docker0 is not masqueraded (! -o docker0)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '172.16.0.9', port: 80, source: '172.16.0.5', origin: 'pod', inInterface: 'docker0', outInterface: 'docker0' }).masquerade).toBe(false);
  });
});

describe('kube-router-filter: a complete filter table (cloudnativelabs/kube-router#341)', () => {
  const rs = load('kube-router-filter', {}, { addresses: ['192.168.50.2'] });
  it('a pod to the internet: KUBE-FORWARD has nothing for a NEW unmarked packet, line 14 accepts the pod source', () => {
    expect(only(rs, { protocol: 'tcp', destination: '93.184.216.34', port: 443, source: '10.244.1.5', origin: 'pod' })).toEqual({ verdict: 'accept', endpoint: '93.184.216.34:443', masquerade: false, path: ['13:FORWARD', '14:FORWARD'] });
  });
  it('forwarded traffic that is not the pod network falls to the FORWARD policy DROP (line 4)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '192.168.50.7', port: 443, source: '203.0.113.10' })).toMatchObject({ verdict: 'drop', path: ['13:FORWARD', '4:FORWARD'] });
  });
  it('a packet marked 0x8000 for the node is dropped by KUBE-FIREWALL (line 18)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '192.168.50.2', port: 22, source: '203.0.113.10', mark: 0x8000 })).toMatchObject({ verdict: 'drop', path: ['11:INPUT', '18:KUBE-FIREWALL'] });
  });
});

describe('iptables-nft-docker-filter: Docker chains and the localnet guard (cloudnativelabs/kube-router#1069)', () => {
  // Node address not in the paste: this test's, so INPUT vs FORWARD is settled.
  const rs = load('iptables-nft-docker-filter', {}, { addresses: ['192.168.1.10'] });
  it('a NEW connection from outside to 127.0.0.1 is dropped by "block incoming localnet connections" (line 25)', () => {
    const r = rs.explain({ protocol: 'tcp', destination: '127.0.0.1', port: 10248, source: '203.0.113.10', inInterface: 'eth0' });
    expect(r.outcomes.map((o) => [o.verdict, o.path.map((s) => s.line)])).toEqual([['drop', [11, 25]]]);
  });
  it('a container to the internet passes DOCKER-USER and both isolation stages, then line 16 accepts', () => {
    expect(only(rs, { protocol: 'tcp', destination: '1.1.1.1', port: 443, source: '172.17.0.2', origin: 'pod', inInterface: 'docker0', outInterface: 'eth0' })).toMatchObject({
      verdict: 'accept',
      path: ['12:FORWARD', '23:DOCKER-USER', '13:FORWARD', '19:DOCKER-ISOLATION-STAGE-1', '22:DOCKER-ISOLATION-STAGE-2', '20:DOCKER-ISOLATION-STAGE-1', '16:FORWARD'],
    });
  });
  it('a NEW connection from outside into docker0 finds an empty DOCKER chain and the FORWARD policy DROP', () => {
    expect(only(rs, { protocol: 'tcp', destination: '172.17.0.2', port: 80, source: '203.0.113.10', inInterface: 'eth0', outInterface: 'docker0' })).toMatchObject({
      verdict: 'drop',
      path: ['12:FORWARD', '23:DOCKER-USER', '13:FORWARD', '20:DOCKER-ISOLATION-STAGE-1', '15:FORWARD', '3:FORWARD'],
    });
  });
});

describe('calico-mangle-counters: `iptables-save -c` mangle table (projectcalico/calico#1044)', () => {
  // Node address not in the paste: this test's, so INPUT vs FORWARD is settled.
  const rs = load('calico-mangle-counters', {}, { addresses: ['192.168.1.10'] });
  it('a pod packet (in on cali+) is accepted by line 14 before the host-endpoint chain', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.0.8', port: 443, source: '192.168.1.7', origin: 'pod', inInterface: 'cali12345' }).path).toEqual(['11:PREROUTING', '14:cali-PREROUTING']);
  });
  it('an ESTABLISHED packet is accepted by the conntrack rule (line 12)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.0.8', port: 443, source: '203.0.113.10', state: 'ESTABLISHED' }).path).toEqual(['11:PREROUTING', '12:cali-PREROUTING']);
  });
  it('a NEW packet from outside: the empty cali-from-host-endpoint returns, no mark, the PREROUTING policy (line 3) accepts', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.0.8', port: 443, source: '203.0.113.10' })).toMatchObject({ verdict: 'accept', path: ['11:PREROUTING', '15:cali-PREROUTING', '3:PREROUTING'] });
  });
});

describe('weave-list-rules: `iptables --list-rules` in the weave container (weaveworks/weave#3287)', () => {
  // The prompt's command names no table: `iptables -S` lists filter. Strict mode loads it.
  const rs = load('weave-list-rules', {}, { addresses: ['192.168.1.20'] });
  it('pod traffic leaving the weave bridge is accepted by line 18', () => {
    expect(only(rs, { protocol: 'tcp', destination: '8.8.8.8', port: 443, source: '10.32.0.5', origin: 'pod', inInterface: 'weave', outInterface: 'eth0' }).path).toEqual(['18:FORWARD']);
  });
  it('NEW traffic into weave: WEAVE-NPC is declared but its rules are not in this paste, so NFLOG (16) then DROP (17)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.32.0.9', port: 80, source: '203.0.113.10', inInterface: 'eth0', outInterface: 'weave' })).toMatchObject({ verdict: 'drop', path: ['15:FORWARD', '16:FORWARD', '17:FORWARD'] });
  });
  it('host output without the IPsec mark passes line 23 (mark 0x20000 not set) to the OUTPUT policy (line 4)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.0.5', port: 80, origin: 'host' })).toMatchObject({ verdict: 'accept', path: ['21:OUTPUT', '22:OUTPUT', '4:OUTPUT'] });
  });
});

describe('kind-grep-fragment: `iptables-save | grep test-svc` on a kind worker (katacoda tutorial)', () => {
  it('strict mode stops at the Markdown fence; lenient infers nat and says what is missing', () => {
    expect(parseErrorOf(() => load('kind-grep-fragment')).message).toMatch(/Markdown fence/);
    const w = load('kind-grep-fragment', { lenient: true }).warnings;
    expect(w.filter((x) => /rules without a \*table header/.test(x))).toEqual([expect.stringMatching(/^iptables:3:1: .*placed in the nat table \(inferred from KUBE-MARK-MASQ, /)]);
    expect(w.filter((x) => /not reached from any built-in chain/.test(x)).map((x) => x.split(':').slice(1, 2)[0])).toEqual(['3', '9']);
    expect(w.filter((x) => /jump to missing chain "KUBE-MARK-(MASQ|DROP)"/.test(x))).toHaveLength(6);
  });
  it('services: the NodePort 32070 service with eTP Local and two endpoints at 50% each (lines 11-12)', () => {
    const svc = load('kind-grep-fragment', { lenient: true }).services();
    expect(svc).toHaveLength(1);
    expect(svc[0]).toMatchObject({
      name: 'default/test-svc',
      protocol: 'tcp',
      clusterIP: '10.96.115.88',
      port: 80,
      nodePort: 32070,
      externalTrafficPolicy: 'Local',
      endpoints: [
        { endpoint: '10.244.1.3:80', probability: 0.5 },
        { endpoint: '10.244.2.3:80', probability: 0.5 },
      ],
    });
  });
});

describe('ipvsadm-listing: `ipvsadm -L -n` without ipsets (opsnull/follow-me-install-kubernetes-cluster#251)', () => {
  const rs = load('ipvsadm-listing');
  it('warns that the cluster-IP/NodePort split is inferred without ipsets', () => {
    expect(rs.warnings).toEqual([expect.stringMatching(/^ipvs: no ipsets given .*inferred/)]);
  });
  it('cluster IPs keep their ports and rr shares; NodePorts attach to the service with the same endpoints', () => {
    const svc = rs.services();
    const byIp = (ip: string) => svc.find((s) => s.clusterIP === ip)!;
    // 10.254.0.1:443 rr persistent 10800 → two API servers, half each, affinity 10800 s.
    expect(byIp('10.254.0.1')).toMatchObject({ port: 443, affinitySeconds: 10800, endpoints: [{ endpoint: '172.16.16.81:6443', probability: 0.5 }, { endpoint: '172.16.16.82:6443', probability: 0.5 }] });
    // The dashboard 10.254.9.36:443 → 10.253.35.2:8443; 10.253.102.0/.1:32767 have the same one
    // endpoint, so they are its NodePort (both addresses carry only NodePort-range ports).
    expect(byIp('10.254.9.36')).toMatchObject({ port: 443, nodePort: 32767, endpoints: [{ endpoint: '10.253.35.2:8443', probability: 1 }] });
    expect(byIp('10.254.0.2').endpoints.map((e) => e.probability)).toEqual([0.5, 0.5]);
    // 10.253.102.0:32429's four endpoints match no cluster IP in the listing: a NodePort service
    // of its own, no cluster IP, its own rr shares (not 0%).
    const np = svc.find((s) => s.nodePort === 32429)!;
    expect(np).toMatchObject({ clusterIP: '', endpoints: [0, 1, 2, 3].map(() => expect.objectContaining({ probability: 0.25 })) });
    expect(svc).toHaveLength(5);
  });
});

describe('cilium-grep-raw-nat: `iptables-save | grep CILIUM`, raw and nat lines in one run (cilium/cilium#26882)', () => {
  const rs = load('cilium-grep-raw-nat', { lenient: true }, { addresses: ['192.168.1.20'] });
  // Line 1 is the command (`iptables-save | grep`): read as a prompt, it names no table.
  it('puts the NOTRACK rules in raw (CT targets, *_raw chains) and the feeders below them in nat (*_nat chains)', () => {
    expect(rs.warnings).toEqual([
      expect.stringMatching(/^iptables:2:1: rules without a \*table header: placed in the raw table \(inferred from CILIUM_OUTPUT_raw, CILIUM_PRE_raw, CT\)/),
      expect.stringMatching(/^iptables:11:1: rules without a \*table header: placed in the nat table \(inferred from CILIUM_OUTPUT_nat, CILIUM_POST_nat, CILIUM_PRE_nat\)/),
    ]);
    const raw = rs.ruleset.v4!.tables.get('raw')!;
    expect(raw.chains.get('OUTPUT')!.rules.map((r) => r.line)).toEqual([5]);
    expect(rs.ruleset.v4!.tables.get('nat')!.chains.get('PREROUTING')!.rules.map((r) => r.line)).toEqual([14]);
  });
  it('proxy return traffic (mark 0xa00) leaving on lxc+ is NOTRACKed by line 6 and goes on (raw OUTPUT policy, first seen at line 5)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.1.5', port: 8080, origin: 'host', mark: 0xa00, outInterface: 'lxc1234' })).toMatchObject({ verdict: 'accept', path: ['5:OUTPUT', '6:CILIUM_OUTPUT_raw', '5:OUTPUT'] });
  });
  it('proxy traffic arriving with mark 0x200 is NOTRACKed in raw PREROUTING (line 10)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.1.5', port: 8080, source: '203.0.113.10', mark: 0x200 }).path).toEqual(['4:PREROUTING', '10:CILIUM_PRE_raw', '4:PREROUTING']);
  });
});

describe('cilium-kpr-filter: Cilium kube-proxy replacement filter rules, headerless (cilium/cilium#31565)', () => {
  const rs = load('cilium-kpr-filter', { lenient: true }, { addresses: ['192.168.1.20'] });
  it('infers filter and names the chains the paste jumps to but lacks', () => {
    expect(rs.warnings[0]).toMatch(/^iptables:1:1: rules without a \*table header: placed in the filter table/);
    expect(rs.warnings.filter((w) => /jump to missing chain/.test(w))).toEqual([
      'iptables:2:13: jump to missing chain "KUBE-FIREWALL"',
      'iptables:3:13: jump to missing chain "nixos-fw"',
      'iptables:6:14: jump to missing chain "KUBE-FIREWALL"',
    ]);
  });
  it('a pod (in on lxc+) to the internet is accepted by CILIUM_FORWARD line 9', () => {
    expect(only(rs, { protocol: 'tcp', destination: '8.8.8.8', port: 443, source: '10.0.1.5', origin: 'pod', inInterface: 'lxc1234', outInterface: 'eth0' }).path).toEqual(['4:FORWARD', '9:CILIUM_FORWARD']);
  });
  it('input to the node runs through KUBE-FIREWALL and nixos-fw, which the paste lacks: uncertain at lines 2 and 3, never a crash', () => {
    const r = rs.explain({ protocol: 'tcp', destination: '192.168.1.20', port: 22, source: '203.0.113.10' });
    expect(r.uncertain.map((u) => u.line)).toEqual([2, 3]);
    expect(r.outcomes.length).toBeGreaterThan(0);
  });
});

describe('gke-ip-masq-grep: GKE `iptables-save | grep -i IP-MASQ` (kubernetes/kubernetes#64212)', () => {
  // 10.128.0.7 is this test's node address (not in the paste): it settles `addrtype ! --dst-type LOCAL`.
  const rs = load('gke-ip-masq-grep', { lenient: true }, { addresses: ['10.128.0.7'] });
  it('infers nat from the IP-MASQ chain names (the `$ iptables-save |grep` prompt names no table)', () => {
    expect(rs.warnings).toEqual([expect.stringMatching(/^iptables:2:1: rules without a \*table header: placed in the nat table \(inferred from IP-MASQ, IP-MASQ-AGENT\)/)]);
  });
  it('a pod to a 10/8 VPC address is not masqueraded: IP-MASQ returns at line 7, IP-MASQ-AGENT has no rules here', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.0.5.5', port: 443, source: '10.32.1.5', origin: 'pod' })).toEqual({
      verdict: 'accept',
      endpoint: '10.0.5.5:443',
      masquerade: false,
      path: ['4:POSTROUTING', '7:IP-MASQ', '5:POSTROUTING', '4:POSTROUTING'],
    });
  });
});

describe('openshift3-filter: OpenShift Origin 3.x node filter table, no COMMIT (openshift/origin#7546)', () => {
  const node = { addresses: ['10.1.2.3'] };
  it('strict mode wants the COMMIT; lenient repairs it with a warning', () => {
    expect(parseErrorOf(() => load('openshift3-filter', {}, node)).message).toMatch(/not committed \(missing COMMIT\)/);
    expect(load('openshift3-filter', { lenient: true }, node).warnings).toEqual(['iptables:29:1: table "filter" is not committed (missing COMMIT)']);
  });
  const rs = load('openshift3-filter', { lenient: true }, node);
  it('the master API port 8443 is accepted by its first rule (line 13)', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.1.2.3', port: 8443, source: '203.0.113.10' }).path).toEqual(['13:INPUT']);
  });
  it('VXLAN from another node is accepted by the "001 vxlan incoming" rule (line 22)', () => {
    expect(only(rs, { protocol: 'udp', destination: '10.1.2.3', port: 4789, source: '10.1.2.4' }).path).toEqual(['22:INPUT']);
  });
  it('a NEW connection to the kubelet (10250) passes the empty OS_FIREWALL_ALLOW and is rejected by line 28', () => {
    expect(only(rs, { protocol: 'tcp', destination: '10.1.2.3', port: 10250, source: '203.0.113.10' })).toMatchObject({ verdict: 'reject', path: ['27:INPUT', '28:INPUT'] });
  });
});

describe('refused or reported, never loaded wrong', () => {
  it('k3s-iptables-L: an `iptables -L -n -v` listing is refused at line 1 with what to run (k3s-io/k3s#7096)', () => {
    for (const lenient of [false, true]) {
      const e = parseErrorOf(() => load('k3s-iptables-L', { lenient }));
      expect([e.line, e.column]).toEqual([1, 1]);
      expect(e.message).toMatch(/`iptables -L` listing.*iptables-save/);
    }
  });
  it('kubeadm-wrapped-line: a terminal-wrapped `-j KUBE-POSTROUTI … NG` is reported at line 19, the column of "NG" (kubernetes/kubernetes#61944)', () => {
    const text = corpusFile('kubeadm-wrapped-line', 'iptables.txt')!;
    const col = text.split('\n')[18].indexOf(' NG') + 2;
    for (const lenient of [false, true]) {
      const e = parseErrorOf(() => load('kubeadm-wrapped-line', { lenient }));
      expect([e.line, e.column]).toEqual([19, col]);
      expect(e.message).toMatch(/unexpected word "NG"/);
    }
  });
});
