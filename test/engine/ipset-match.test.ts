import { describe, expect, it } from 'vitest';
import { parseAddr, type Addr } from '../../src/model/addr.js';
import { setMatch, type SetPacket } from '../../src/engine/ipset-match.js';
import { parseIpsets } from '../../src/parse/ipset.js';

const A = (s: string): Addr => parseAddr(s)!;

type Over = Partial<Omit<SetPacket, 'src' | 'dst' | 'inIface' | 'outIface'>> & { src?: string; dst?: string; inIface?: string | null; outIface?: string | null };

/** A packet for set lookups; interfaces by exact name. */
function pkt(over: Over = {}): SetPacket {
  const { src, dst, inIface, outIface, ...rest } = over;
  const s = A(src ?? '10.0.0.1');
  const iface = (name: string | null) => (name === null ? null : { name, prefix: false });
  return {
    family: s.family, proto: 6, src: s, dst: A(dst ?? (s.family === 6 ? 'fd00::10' : '10.96.0.10')),
    sport: 40000, dport: 80, inIface: iface(inIface === undefined ? 'eth0' : inIface), outIface: iface(outIface === undefined ? 'cni0' : outIface), ...rest,
  };
}

const sets = parseIpsets(`
create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
add KUBE-CLUSTER-IP 10.96.0.10,tcp:80
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
add KUBE-CLUSTER-IP 10.96.0.11,tcp:8000-8002
create IPS hash:ip family inet hashsize 1024 maxelem 65536
add IPS 10.96.0.10
add IPS 192.168.5.0/30
add IPS 172.16.0.5-172.16.0.9
create NETS hash:net family inet hashsize 1024 maxelem 65536
add NETS 10.0.0.0/8
add NETS 10.1.0.0/16 nomatch
add NETS 10.1.2.0/24
create NETS6 hash:net family inet6 hashsize 1024 maxelem 65536
add NETS6 fd00::/16
create LOOP hash:ip,port,ip family inet hashsize 1024 maxelem 65536
add LOOP 10.244.1.5,tcp:8080,10.244.1.5
create SRC-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536
add SRC-CIDR 203.0.113.7,tcp:443,198.51.100.0/24
add SRC-CIDR 203.0.113.7,tcp:443,198.51.100.128/25 nomatch
create NETPORT hash:net,port family inet hashsize 1024 maxelem 65536
add NETPORT 10.0.0.0/8,udp:53
create NETIF hash:net,iface family inet hashsize 1024 maxelem 65536
add NETIF 10.0.0.0/8,eth0
add NETIF 192.168.0.0/16,veth wildcard
create NODEPORTS bitmap:port range 0-65535
add NODEPORTS 30080
add NODEPORTS 31000-31002
create ICMPS hash:ip,port family inet hashsize 1024 maxelem 65536
add ICMPS 10.96.0.10,icmp:echo-request
create BOTH list:set size 8
add BOTH NETS6
add BOTH IPS
create HALF list:set size 8
add HALF MISSING
add HALF IPS
`);

describe('hash:ip,port', () => {
  it('matches address and protocol:port together', () => {
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt())).toBe(true);
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt({ proto: 17 }))).toBe(false); // udp:80 is not tcp:80
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt({ proto: 17, dport: 53 }))).toBe(true);
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt({ dport: 81 }))).toBe(false);
  });
  it('port ranges in adds expand like the kernel', () => {
    for (const p of [8000, 8001, 8002]) expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt({ dst: '10.96.0.11', dport: p }))).toBe(true);
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt({ dst: '10.96.0.11', dport: 8003 }))).toBe(false);
  });
  it('directions pick the packet fields: src,dst is source address and destination port', () => {
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['src', 'dst'], pkt({ src: '10.96.0.10', dst: '1.2.3.4' }))).toBe(true);
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'src'], pkt({ sport: 80, dport: 1 }))).toBe(true);
  });
  it('fewer directions than dimensions → no match (kernel: opt->dim < set dimension)', () => {
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst'], pkt())).toBe(false);
  });
  it('extra directions are ignored', () => {
    expect(setMatch(sets, 'KUBE-CLUSTER-IP', ['dst', 'dst', 'src'], pkt())).toBe(true);
  });
  it('ICMP "ports" are type<<8|code', () => {
    expect(setMatch(sets, 'ICMPS', ['dst', 'dst'], pkt({ proto: 1, sport: 0, dport: 0, icmpType: 8, icmpCode: 0 }))).toBe(true);
    expect(setMatch(sets, 'ICMPS', ['dst', 'dst'], pkt({ proto: 1, sport: 0, dport: 0, icmpType: 0, icmpCode: 0 }))).toBe(false);
    expect(setMatch(sets, 'ICMPS', ['dst', 'dst'], pkt({ proto: 1, sport: 0, dport: 0 }))).toBe(null); // type unknown
  });
});

describe('hash:ip', () => {
  it('single addresses, CIDR adds and ranges', () => {
    const m = (a: string) => setMatch(sets, 'IPS', ['dst'], pkt({ dst: a }));
    expect(m('10.96.0.10')).toBe(true);
    expect(m('10.96.0.11')).toBe(false);
    expect(m('192.168.5.3')).toBe(true);
    expect(m('192.168.5.4')).toBe(false);
    expect(m('172.16.0.4')).toBe(false);
    expect(m('172.16.0.5')).toBe(true);
    expect(m('172.16.0.9')).toBe(true);
    expect(m('172.16.0.10')).toBe(false);
  });
  it('a packet of the other family never matches', () => {
    expect(setMatch(sets, 'IPS', ['dst'], pkt({ src: 'fd00::1', dst: 'fd00::2' }))).toBe(false);
  });
});

describe('hash:net (longest prefix, nomatch)', () => {
  const m = (a: string, returnNomatch = false) => setMatch(sets, 'NETS', ['src'], pkt({ src: a }), { returnNomatch });
  it('the most specific entry decides', () => {
    expect(m('10.9.9.9')).toBe(true); // /8
    expect(m('10.1.9.9')).toBe(false); // /16 nomatch
    expect(m('10.1.2.3')).toBe(true); // /24 beats the nomatch /16
    expect(m('11.0.0.1')).toBe(false);
  });
  it('--return-nomatch turns a nomatch element into a match', () => {
    expect(m('10.1.9.9', true)).toBe(true);
    expect(m('11.0.0.1', true)).toBe(false);
  });
  it('IPv6', () => {
    expect(setMatch(sets, 'NETS6', ['src'], pkt({ src: 'fd00:1::5' }))).toBe(true);
    expect(setMatch(sets, 'NETS6', ['src'], pkt({ src: 'fe00::5' }))).toBe(false);
  });
});

describe('three-dimension types', () => {
  it('hash:ip,port,ip (KUBE-LOOP-BACK dst,dst,src hairpin)', () => {
    const hair = pkt({ src: '10.244.1.5', dst: '10.244.1.5', dport: 8080 });
    expect(setMatch(sets, 'LOOP', ['dst', 'dst', 'src'], hair)).toBe(true);
    expect(setMatch(sets, 'LOOP', ['dst', 'dst', 'src'], { ...hair, src: A('10.244.1.6') })).toBe(false);
  });
  it('hash:ip,port,net with a nomatch sub-net', () => {
    const p = (src: string) => pkt({ src, dst: '203.0.113.7', dport: 443 });
    expect(setMatch(sets, 'SRC-CIDR', ['dst', 'dst', 'src'], p('198.51.100.5'))).toBe(true);
    expect(setMatch(sets, 'SRC-CIDR', ['dst', 'dst', 'src'], p('198.51.100.200'))).toBe(false);
    expect(setMatch(sets, 'SRC-CIDR', ['dst', 'dst', 'src'], p('198.51.101.1'))).toBe(false);
  });
  it('hash:net,port', () => {
    expect(setMatch(sets, 'NETPORT', ['dst', 'dst'], pkt({ dst: '10.3.0.1', proto: 17, dport: 53 }))).toBe(true);
    expect(setMatch(sets, 'NETPORT', ['dst', 'dst'], pkt({ dst: '10.3.0.1', proto: 6, dport: 53 }))).toBe(false);
  });
});

describe('hash:net,iface', () => {
  it('src direction → incoming interface, dst → outgoing', () => {
    expect(setMatch(sets, 'NETIF', ['src', 'src'], pkt({ src: '10.1.1.1', inIface: 'eth0' }))).toBe(true);
    expect(setMatch(sets, 'NETIF', ['src', 'src'], pkt({ src: '10.1.1.1', inIface: 'eth1' }))).toBe(false);
    expect(setMatch(sets, 'NETIF', ['src', 'dst'], pkt({ src: '10.1.1.1', outIface: 'eth0' }))).toBe(true);
  });
  it('no interface (locally generated) → no match; wildcard entries match by prefix', () => {
    expect(setMatch(sets, 'NETIF', ['src', 'src'], pkt({ src: '10.1.1.1', inIface: null }))).toBe(false);
    expect(setMatch(sets, 'NETIF', ['src', 'src'], pkt({ src: '192.168.1.1', inIface: 'veth123' }))).toBe(true);
    expect(setMatch(sets, 'NETIF', ['src', 'src'], pkt({ src: '192.168.1.1', inIface: 'eth0' }))).toBe(false);
  });
});

describe('hash:net,iface: a more specific network on another interface hides a wider one (kernel-verified)', () => {
  // ipset test with 10.0.0.0/8,cni0 and 10.0.0.0/20,eth1 → "10.0.3.5,cni0 is NOT in set".
  const s = parseIpsets('create F hash:net,iface family inet\nadd F 10.0.0.0/8,cni0\nadd F 10.0.0.0/20,eth1\nadd F 10.0.16.0/20,physdev:eth2');
  it('stops at the most specific prefix where the network exists', () => {
    expect(setMatch(s, 'F', ['src', 'src'], pkt({ src: '10.0.3.5', inIface: 'cni0' }))).toBe(false);
    expect(setMatch(s, 'F', ['src', 'src'], pkt({ src: '10.0.3.5', inIface: 'eth1' }))).toBe(true);
    expect(setMatch(s, 'F', ['src', 'src'], pkt({ src: '10.0.99.5', inIface: 'cni0' }))).toBe(true);
    // a physdev element also shadows, and never matches a routed packet
    expect(setMatch(s, 'F', ['src', 'src'], pkt({ src: '10.0.17.1', inIface: 'cni0' }))).toBe(false);
    expect(setMatch(s, 'F', ['src', 'src'], pkt({ src: '10.0.17.1', inIface: 'eth2' }))).toBe(false);
  });
  it('duplicate adds: the last one wins, as after ipset restore -exist', () => {
    const d = parseIpsets('create N hash:net family inet\nadd N 10.0.0.0/8\nadd N 10.0.0.0/8 nomatch');
    expect(setMatch(d, 'N', ['src'], pkt({ src: '10.1.1.1' }))).toBe(false);
  });
});

describe('hash:ip,mark', () => {
  const s = parseIpsets('create M hash:ip,mark family inet markmask 0xff00\nadd M 10.0.0.1,0x1234');
  it('masks both the stored and the packet mark with markmask; no mark given → uncertain', () => {
    expect(setMatch(s, 'M', ['dst', 'dst'], { ...pkt({ dst: '10.0.0.1' }), mark: 0x12ff })).toBe(true);
    expect(setMatch(s, 'M', ['dst', 'dst'], { ...pkt({ dst: '10.0.0.1' }), mark: 0x1300 })).toBe(false);
    expect(setMatch(s, 'M', ['dst', 'dst'], pkt({ dst: '10.0.0.1' }))).toBe(null);
  });
  it('hash:mac cannot be decided from a routed packet', () => {
    const m = parseIpsets('create H hash:mac\nadd H 02:00:00:00:00:01');
    expect(setMatch(m, 'H', ['src'], pkt())).toBe(null);
  });
});

describe('bitmap:port', () => {
  it('has no protocol, but only answers for TCP and UDP', () => {
    expect(setMatch(sets, 'NODEPORTS', ['dst'], pkt({ dport: 30080 }))).toBe(true);
    expect(setMatch(sets, 'NODEPORTS', ['dst'], pkt({ dport: 30080, proto: 17 }))).toBe(true);
    expect(setMatch(sets, 'NODEPORTS', ['dst'], pkt({ dport: 30080, proto: 132 }))).toBe(false);
    expect(setMatch(sets, 'NODEPORTS', ['dst'], pkt({ dport: 31002 }))).toBe(true);
    expect(setMatch(sets, 'NODEPORTS', ['dst'], pkt({ dport: 31003 }))).toBe(false);
  });
});

describe('list:set and missing sets', () => {
  it('a list matches when any member does; members of the other family are skipped', () => {
    expect(setMatch(sets, 'BOTH', ['dst'], pkt({ dst: '10.96.0.10' }))).toBe(true);
    expect(setMatch(sets, 'BOTH', ['src'], pkt({ src: 'fd00::1' }))).toBe(true);
    expect(setMatch(sets, 'BOTH', ['dst'], pkt({ dst: '10.96.0.99' }))).toBe(false);
  });
  it('a missing member makes a non-match uncertain but not a match', () => {
    expect(setMatch(sets, 'HALF', ['dst'], pkt({ dst: '10.96.0.10' }))).toBe(true);
    expect(setMatch(sets, 'HALF', ['dst'], pkt({ dst: '10.96.0.99' }))).toBe(null);
  });
  it('a set that is not supplied → null (uncertain)', () => {
    expect(setMatch(sets, 'NOPE', ['dst'], pkt())).toBe(null);
    expect(setMatch({ sets: new Map(), supplied: false }, 'KUBE-CLUSTER-IP', ['dst', 'dst'], pkt())).toBe(null);
  });
});

describe('scale', () => {
  it('20,000 entries: lookups do not scan', () => {
    const lines = ['create BIG hash:ip,port family inet hashsize 1024 maxelem 65536'];
    for (let i = 0; i < 20000; i++) lines.push(`add BIG 10.${(i >> 8) & 255}.${i & 255}.1,tcp:${1000 + (i % 5000)}`);
    const big = parseIpsets(lines.join('\n'));
    const p = pkt({ dst: '10.1.2.1', dport: 1000 + (258 % 5000) });
    expect(setMatch(big, 'BIG', ['dst', 'dst'], p)).toBe(true);
    const t0 = performance.now();
    for (let i = 0; i < 20000; i++) setMatch(big, 'BIG', ['dst', 'dst'], p);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('set family', () => {
  it('a set without an address dimension is family-less (bitmap:port, nft port sets); one with addresses is not', () => {
    const s = parseIpsets('create P bitmap:port range 0-65535\nadd P 80\ncreate N hash:net family inet hashsize 1024 maxelem 65536\nadd N 0.0.0.0/1\nadd N 128.0.0.0/1\n');
    const six = pkt({ src: 'fd00::1', dst: 'fd00::2' });
    expect(setMatch(s, 'P', ['dst'], six)).toBe(true);
    expect(setMatch(s, 'P', ['dst'], pkt())).toBe(true);
    expect(setMatch(s, 'N', ['src'], six)).toBe(false);
    expect(setMatch(s, 'N', ['src'], pkt())).toBe(true);
  });
});
