import { describe, expect, it } from 'vitest';
import { ipsetNames, nfacctNames, scanDnatTargets, scanNftDnatTargets, stripNfacct, words } from '../../src/lab/dump.js';

describe('dump scan', () => {
  it('splits words like iptables-save quotes them', () => {
    expect(words('-A X -m comment --comment "ns/a:b cluster IP" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'ns/a:b cluster IP', '-j', 'Y']);
    expect(words('--comment "say \\"hi\\""')).toEqual(['--comment', 'say "hi"']);
    expect(words('--comment ""')).toEqual(['--comment', '']);
  });

  it('finds nft DNAT targets: listings, kube-proxy scripts, numgen maps', () => {
    const text = [
      '\tchain endpoint-X {',
      '\t\tmeta l4proto tcp dnat to 10.180.0.1:80',
      '\t}',
      '\t\tmeta l4proto udp dnat ip to numgen random mod 2 map { 0 : 10.244.0.10 . 53, 1 : 10.244.0.8 . 53 }',
      'add rule ip kube-proxy service-Y meta l4proto tcp dnat ip addr . port to numgen random mod 1 map { 0 : 10.180.0.4 . 8080 }',
      '\t\tdnat to 10.0.0.9:443',
      '\t\tmeta l4proto tcp dnat ip to ip daddr map @targets',
    ].join('\n');
    const scan = scanNftDnatTargets(text);
    expect(scan.targets).toEqual([
      { proto: 'tcp', ip: '10.180.0.1', port: 80 },
      { proto: 'udp', ip: '10.244.0.10', port: 53 },
      { proto: 'udp', ip: '10.244.0.8', port: 53 },
      { proto: 'tcp', ip: '10.180.0.4', port: 8080 },
      { proto: 'tcp', ip: '10.0.0.9', port: 443 },
      { proto: 'udp', ip: '10.0.0.9', port: 443 },
    ]);
    expect(scan.skipped).toHaveLength(1);
    expect(scan.skipped[0]).toMatch(/^line 7: .*ip daddr map @targets/);
  });

  it('finds DNAT targets in every spelling', () => {
    const dump = [
      '*nat',
      '-A KUBE-SEP-A -m comment --comment ns/a:p -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080',
      '[12:720] -A KUBE-SEP-B -p udp -m udp -j DNAT --to-destination 10.244.1.6:53',
      '-A KUBE-SEP-C -p tcp -j DNAT --to-destination [fd00::5]:80',
      '-A X -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.9',
      '-A Y -p tcp -j DNAT --to-destination 10.0.1.1-10.0.1.3:81',
      '-A Z -j DNAT --to-destination 10.0.2.1:9000',
      '-A W -p tcp -j DNAT --to-destination 10.0.3.1',
      '-A V -p tcp -j DNAT --to-destination 10.0.1.1:80-90000',
      '# -A C -j DNAT --to-destination 1.1.1.1:1',
      'COMMIT',
    ].join('\n');
    const scan = scanDnatTargets(dump);
    expect(scan.targets).toEqual([
      { proto: 'tcp', ip: '10.244.1.5', port: 8080 },
      { proto: 'udp', ip: '10.244.1.6', port: 53 },
      { proto: 'tcp', ip: 'fd00::5', port: 80 },
      { proto: 'tcp', ip: '10.0.0.9', port: 443 },
      { proto: 'tcp', ip: '10.0.1.1', port: 81 },
      { proto: 'tcp', ip: '10.0.1.2', port: 81 },
      { proto: 'tcp', ip: '10.0.1.3', port: 81 },
      { proto: 'tcp', ip: '10.0.2.1', port: 9000 },
      { proto: 'udp', ip: '10.0.2.1', port: 9000 },
    ]);
    expect(scan.skipped).toHaveLength(2);
    expect(scan.skipped[0]).toMatch(/^line 8: .*10\.0\.3\.1/);
  });

  it('lists and strips nfacct matches without touching anything else', () => {
    const dump = [
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name  localhost_nps_accepted_pkts -j KUBE-EXT-X',
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP',
      '-A KUBE-FORWARD -m comment --comment "nfacct in a comment" -j ACCEPT',
    ].join('\n');
    expect(nfacctNames(dump)).toEqual(['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts']);
    const s = stripNfacct(dump);
    expect(s.rules).toBe(2);
    expect(s.text.split('\n')).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -j KUBE-EXT-X',
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
      '-A KUBE-FORWARD -m comment --comment "nfacct in a comment" -j ACCEPT',
    ]);
  });

  it('lists ipsets but not recent --set', () => {
    expect(ipsetNames('-A X -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\n-A Y -m recent --set --name Z -j ACCEPT')).toEqual(['KUBE-CLUSTER-IP']);
  });
});
