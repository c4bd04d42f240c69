// The lab itself, against hand-written rules whose kernel behaviour is not in doubt.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareOutcomes, KernelLab } from '../../src/lab/index.js';
import { KERNEL_ALPHA } from '../kernel/check.js';
import { availability, labSuiteTitle } from './support.js';

const RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:MASQ - [0:0]
:POST - [0:0]
:STICKY - [0:0]
-A PREROUTING -j SVC
-A OUTPUT -j SVC
-A POSTROUTING -j POST
-A MASQ -j MARK --or-mark 0x4000
-A POST -m mark ! --mark 0x4000/0x4000 -j RETURN
-A POST -j MARK --xor-mark 0x4000
-A POST -j MASQUERADE --random-fully
-A SVC -d 10.96.0.10/32 -p tcp -m tcp --dport 80 ! -s 10.244.0.0/16 -j MASQ
-A SVC -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.244.1.5:8080
-A SVC -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m nfacct --nfacct-name lab_pkts -j DNAT --to-destination 10.244.1.6:8080
-A SVC -d 10.96.0.53/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.7:53
-A SVC -d 10.96.0.60/32 -p tcp -m tcp --dport 80 -j STICKY
-A STICKY -p tcp -m recent --name A --rcheck --seconds 60 --reap -j DNAT --to-destination 10.244.2.1:80
-A STICKY -p tcp -m recent --name B --rcheck --seconds 60 --reap -j DNAT --to-destination 10.244.2.2:80
-A STICKY -p tcp -m statistic --mode random --probability 0.5 -m recent --name A --set -j DNAT --to-destination 10.244.2.1:80
-A STICKY -p tcp -m recent --name B --set -j DNAT --to-destination 10.244.2.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.96.0.20/32 -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT -d 10.96.0.20/32 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -d 10.96.0.21/32 -j DROP
-A OUTPUT -d 10.96.0.21/32 -j DROP
COMMIT
`;

const RULES6 = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -d fd00:96::10/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:10:244::5]:8080
-A OUTPUT -d fd00:96::10/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:10:244::5]:8080
COMMIT
`;

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]);

describe.skipIf(!availability.ok)(labSuiteTitle('kernel lab'), () => {
  let lab: KernelLab;
  let warnings: string[] = [];

  beforeAll(async () => {
    lab = await KernelLab.create();
    warnings = (await lab.load({ iptables: RULES, ip6tables: RULES6 })).warnings;
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('lands on both DNAT targets evenly; masquerades outside clients only', async () => {
    const half = [
      { probability: 0.5, verdict: 'accept' as const, endpoint: '10.244.1.5:8080', masquerade: true },
      { probability: 0.5, verdict: 'accept' as const, endpoint: '10.244.1.6:8080', masquerade: true },
    ];
    const ext = await lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.10', port: 80, count: 200 });
    // The suite-wide significance level (Bonferroni over every kernel comparison in a run).
    expect(compareOutcomes(half, ext, { alpha: KERNEL_ALPHA }).problems).toEqual([]);
    expect(ext.outcomes[0].sources).toEqual(['10.244.0.1']);
    const pod = await lab.probe({ origin: 'pod', proto: 'tcp', destination: '10.96.0.10', port: 80, source: '10.244.3.3', count: 200 });
    const unmasked = half.map((o) => ({ ...o, masquerade: false }));
    expect(compareOutcomes(unmasked, pod, { alpha: KERNEL_ALPHA }).problems).toEqual([]);
    expect(pod.outcomes[0].sources).toEqual(['10.244.3.3']);
  });

  it('says what it did about nfacct when the tool is missing', () => {
    const hasNfacct = warnings.every((w) => !w.includes('nfacct'));
    if (!hasNfacct) expect(warnings.join('\n')).toMatch(/removed "-m nfacct" from 1 rule\(s\).*lab_pkts/);
  });

  it('tells REJECT (refused) from DROP (timeout), for outside and host clients', async () => {
    const [rej, drop, hostRej, hostDropUdp] = await Promise.all([
      lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.20', port: 80, count: 5 }),
      lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.21', port: 80, count: 5, timeoutMs: 500 }),
      lab.probe({ origin: 'host', proto: 'udp', destination: '10.96.0.20', port: 80, count: 5 }),
      lab.probe({ origin: 'host', proto: 'udp', destination: '10.96.0.21', port: 80, count: 5 }),
    ]);
    expect(rej.outcomes).toMatchObject([{ verdict: 'reject', count: 5, codes: ['ECONNREFUSED'] }]);
    expect(drop.outcomes).toMatchObject([{ verdict: 'drop', count: 5 }]);
    expect(hostRej.outcomes).toMatchObject([{ verdict: 'reject', count: 5 }]);
    // The node's own OUTPUT DROP fails the send at once with EPERM.
    expect(hostDropUdp.outcomes).toMatchObject([{ verdict: 'drop', count: 5, codes: ['EPERM'] }]);
  });

  it('carries UDP, from outside and from the host (masquerade only where a rule says so)', async () => {
    const ext = await lab.probe({ origin: 'external', proto: 'udp', destination: '10.96.0.53', port: 53, count: 20 });
    expect(ext.outcomes).toMatchObject([{ verdict: 'accept', endpoint: '10.244.1.7:53', masquerade: false, sources: ['203.0.113.10'], count: 20 }]);
    const host = await lab.probe({ origin: 'host', proto: 'udp', destination: '10.96.0.53', port: 53, count: 5 });
    expect(host.outcomes).toMatchObject([{ verdict: 'accept', endpoint: '10.244.1.7:53', masquerade: false, sources: ['192.168.0.2'] }]);
  });

  it('keeps recent-list affinity across sequential connections of one client', async () => {
    for (const source of ['203.0.113.31', '203.0.113.32', '203.0.113.33', '203.0.113.34']) {
      const s = await lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.60', port: 80, source, count: 8, concurrency: 1 });
      expect(s.outcomes).toHaveLength(1);
      expect(s.outcomes[0]).toMatchObject({ verdict: 'accept', count: 8 });
    }
  });

  it('routes IPv6 through ip6tables rules', async () => {
    const ext = await lab.probe({ origin: 'external', proto: 'tcp', destination: 'fd00:96::10', port: 80, count: 5 });
    expect(ext.outcomes).toMatchObject([{ verdict: 'accept', endpoint: '[fd00:10:244::5]:8080', masquerade: false, sources: ['2001:db8:113::10'] }]);
    const pod = await lab.probe({ origin: 'pod', proto: 'tcp', destination: 'fd00:96::10', port: 80, count: 5 });
    expect(pod.outcomes).toMatchObject([{ verdict: 'accept', endpoint: '[fd00:10:244::5]:8080', sources: ['fd00:10:244::2'] }]);
  });

  it('shows the loaded rules the way iptables-save prints them', async () => {
    const saved = await lab.save();
    expect(saved).toMatch(/-A SVC -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0\.50000000000 -j DNAT --to-destination 10\.244\.1\.5:8080/);
    expect(saved).toMatch(/--mask 255\.255\.255\.255 --rsource/);
  });

  it('answers a burst of 200 REJECTs at once, none turning into a timeout', async () => {
    const s = await lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.20', port: 80, count: 200, concurrency: 200, timeoutMs: 800 });
    expect(s.outcomes).toMatchObject([{ verdict: 'reject', count: 200 }]);
    // Answered by the first SYN, not a retransmission a second later.
    expect(Math.max(...s.records.map((r) => r.us))).toBeLessThan(800_000);
  });

  it('replaces the rules on a second load and forgets old connections', async () => {
    await lab.load({ iptables: RULES.replace(/^-A SVC -d 10\.96\.0\.10.*\n/gm, '') });
    const s = await lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.10', port: 80, count: 3, timeoutMs: 300 });
    // No DNAT any more: the packet leaves by the default route toward ext, which drops it.
    expect(s.outcomes).toMatchObject([{ verdict: 'drop', count: 3 }]);
  });

  // Last: it empties the rules.
  it('measures TCP setup through loaded rules and with none (landfall scale --kernel)', async () => {
    const through = await lab.latency('external', [
      { destination: '10.96.0.60', port: 80 },
      { destination: '10.96.0.21', port: 80 },
      { destination: '10.96.0.60', port: 80 },
    ], { timeoutMs: 300 });
    expect(through).toMatchObject({ connected: 2, failed: 1 });
    expect(through.p50).toBeGreaterThan(0);
    expect(through.p50).toBeLessThan(300_000);
    await lab.clear();
    const direct = await lab.latency('external', Array.from({ length: 20 }, () => ({ destination: '10.244.1.5', port: 8080 })));
    expect(direct.connected).toBe(20);
    expect(direct.p99).toBeGreaterThanOrEqual(direct.p50);
  });
});

describe.skipIf(!availability.ok)(labSuiteTitle('kernel lab topology'), () => {
  it('names the node interfaces as the dump expects and always removes its namespaces', async () => {
    const lab = await KernelLab.create({ uplink: 'ens5', podsInterface: 'eni1a2b', v6: null });
    const names = Object.values(lab.ns);
    try {
      expect(namespaces()).toEqual(expect.arrayContaining(names));
      const report = await lab.load({
        iptables: `*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -i eni+ -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.5:80
-A PREROUTING -i ens5 -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.6:80
-A PREROUTING -d 10.96.0.53/32 -p udp --dport 53 -j DNAT --to-destination 10.244.1.7:53
COMMIT
`,
      }, { listen: 'tcp' });
      expect(report.targets).toBe(2); // the UDP target gets no socket with listen: 'tcp'
      const [pod, ext] = await Promise.all([
        lab.probe({ origin: 'pod', proto: 'tcp', destination: '10.96.0.10', port: 80, count: 3 }),
        lab.probe({ origin: 'external', proto: 'tcp', destination: '10.96.0.10', port: 80, count: 3 }),
      ]);
      expect(pod.outcomes).toMatchObject([{ endpoint: '10.244.1.5:80', count: 3 }]);
      expect(ext.outcomes).toMatchObject([{ endpoint: '10.244.1.6:80', count: 3 }]);
    } finally {
      await lab.close();
      await lab.close();
    }
    const left = namespaces();
    for (const n of names) expect(left).not.toContain(n);
    await expect(lab.probe({ origin: 'pod', proto: 'tcp', destination: '10.96.0.10', port: 80 })).rejects.toThrow(/closed/);
  });

  it('refuses interface names the kernel would refuse', async () => {
    await expect(KernelLab.create({ podsInterface: 'a-name-far-too-long' })).rejects.toThrow(/invalid interface name/);
  });
});
