import { describe, expect, it } from 'vitest';
import { formatCidr } from '../../src/model/addr.js';
import { parseIpsets } from '../../src/parse/ipset.js';
import { ParseError } from '../../src/parse/errors.js';

function err(text: string): ParseError {
  try {
    parseIpsets(text);
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error('expected a ParseError');
}

const SAVE = `create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment
add KUBE-CLUSTER-IP 10.96.0.1,tcp:443 comment "default/kubernetes:https"
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536
add KUBE-6-CLUSTER-IP fd00::a,tcp:80
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
create T hash:net family inet hashsize 1024 maxelem 65536 timeout 300
add T 10.0.0.0/8 timeout 120
add T 10.1.0.0/16 timeout 0 nomatch
add T 192.168.0.1
create R hash:ip family inet hashsize 1024 maxelem 65536
add R 10.0.0.1-10.0.0.6
create L list:set size 8
add L KUBE-CLUSTER-IP
`;

describe('ipset save', () => {
  const st = parseIpsets(SAVE);
  it('creates sets with type, dims, family and options', () => {
    const s = st.sets.get('KUBE-CLUSTER-IP')!;
    expect(s.type).toBe('hash:ip,port');
    expect(s.dims).toEqual(['ip', 'port']);
    expect(s.family).toBe(4);
    expect(s.options).toMatchObject({ family: 'inet', hashsize: '1024', maxelem: '65536', comment: '' });
    expect(s.line).toBe(1);
    expect(st.sets.get('KUBE-6-CLUSTER-IP')!.family).toBe(6);
    expect(st.supplied).toBe(true);
  });
  it('types the elements, keeping comments and lines', () => {
    const s = st.sets.get('KUBE-CLUSTER-IP')!;
    expect(s.entries[0].parts[0]).toEqual({ kind: 'addr', cidr: { family: 4, w: [0x0a600001, 0, 0, 0], prefix: 32 } });
    expect(s.entries[0].parts[1]).toEqual({ kind: 'port', proto: 6, lo: 443, hi: 443 });
    expect(s.entries[0].comment).toBe('default/kubernetes:https');
    expect(s.entries[0].line).toBe(2);
    expect(s.entries[1].parts[1]).toEqual({ kind: 'port', proto: 17, lo: 53, hi: 53 });
  });
  it('bitmap:port has protocol 0', () => {
    expect(st.sets.get('KUBE-NODE-PORT-TCP')!.entries[0].parts[0]).toEqual({ kind: 'port', proto: 0, lo: 30080, hi: 30080 });
  });
  it('timeouts and nomatch; a host in hash:net is /32', () => {
    const t = st.sets.get('T')!;
    expect(t.entries.map((e) => [e.timeout, e.nomatch])).toEqual([[120, false], [0, true], [undefined, false]]);
    expect(t.entries[2].parts[0]).toMatchObject({ kind: 'addr', cidr: { prefix: 32 } });
  });
  it('an address range becomes its minimal CIDR cover', () => {
    const r = st.sets.get('R')!;
    expect(r.entries.map((e) => (e.parts[0].kind === 'addr' ? formatCidr(e.parts[0].cidr) : ''))).toEqual([
      '10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32',
    ]);
  });
  it('list:set members are set names', () => {
    expect(st.sets.get('L')!.entries[0].parts).toEqual([{ kind: 'set', name: 'KUBE-CLUSTER-IP' }]);
  });
  it('ports: default protocol tcp, named services, ranges, icmp type/code', () => {
    const s = parseIpsets('create P hash:ip,port family inet\nadd P 1.2.3.4,80\nadd P 1.2.3.4,udp:domain\nadd P 1.2.3.4,tcp:8000-8010\nadd P 1.2.3.4,icmp:8/0\nadd P 1.2.3.4,gre:0');
    expect(s.sets.get('P')!.entries.map((e) => e.parts[1])).toEqual([
      { kind: 'port', proto: 6, lo: 80, hi: 80 },
      { kind: 'port', proto: 17, lo: 53, hi: 53 },
      { kind: 'port', proto: 6, lo: 8000, hi: 8010 },
      { kind: 'port', proto: 1, lo: 0x800, hi: 0x800 },
      { kind: 'port', proto: 47, lo: 0, hi: 0 },
    ]);
  });
  it('hash:net,iface with physdev and wildcard', () => {
    const s = parseIpsets('create I hash:net,iface family inet\nadd I 10.0.0.0/8,physdev:eth0\nadd I 0.0.0.0/0,veth wildcard');
    const e = s.sets.get('I')!.entries;
    expect(e[0].parts[1]).toEqual({ kind: 'iface', name: 'eth0', physdev: true });
    expect(e[1].parts[1]).toEqual({ kind: 'iface', name: 'veth', physdev: false, wildcard: true });
  });
});

describe('ipset list', () => {
  const LIST = `Name: KUBE-CLUSTER-IP
Type: hash:ip,port
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x3e2c1a7b
Size in memory: 408
References: 2
Number of entries: 2
Members:
10.96.0.1,tcp:443
10.96.0.10,udp:53 timeout 99

Name: KUBE-NODE-PORT-TCP
Type: bitmap:port
Revision: 3
Header: range 0-65535
Size in memory: 8264
References: 1
Number of entries: 1
Members:
30080
`;
  it('reads the same model as ipset save', () => {
    const st = parseIpsets(LIST);
    const s = st.sets.get('KUBE-CLUSTER-IP')!;
    expect(s.type).toBe('hash:ip,port');
    expect(s.options['initval']).toBe('0x3e2c1a7b');
    expect(s.entries).toHaveLength(2);
    expect(s.entries[1].timeout).toBe(99);
    expect(s.entries[1].line).toBe(10);
    expect(st.sets.get('KUBE-NODE-PORT-TCP')!.entries[0].parts[0]).toEqual({ kind: 'port', proto: 0, lo: 30080, hi: 30080 });
  });
  it('errors point into the member line', () => {
    const e = err(LIST.replace('10.96.0.10,udp:53', '10.96.0.10,udp:99999'));
    expect([e.line, e.column]).toEqual([10, 16]); // the port number after "udp:"
    expect(e.source).toBe('ipsets');
  });
});

describe('malformed ipset input', () => {
  it.each([
    ['add X 1.2.3.4', 1, 5, /not created/],
    ['create X hash:foo family inet', 1, 10, /unknown set type/],
    ['create X hash:ip family inet7', 1, 25, /family must be inet/],
    ['create X hash:ip family inet\nadd X 1.2.3', 2, 7, /bad address/],
    ['create X hash:ip,port family inet\nadd X 1.2.3.4,tcp:80x', 2, 19, /bad port/],
    ['create X hash:ip,port family inet\nadd X 1.2.3.4,foo:80', 2, 15, /unknown protocol/],
    ['create X hash:ip,port family inet\nadd X 1.2.3.4', 2, 7, /2 part/],
    ['create X hash:ip family inet\nadd X 1.2.3.4 nomatch', 2, 15, /nomatch/],
    ['create X hash:ip family inet6\nadd X 1.2.3.4', 2, 7, /not an IPv6/],
    ['create X bitmap:port range 1000-2000\nadd X 80', 2, 7, /outside/],
    ['create X hash:ip family inet\ncreate X hash:ip family inet', 2, 8, /twice/],
    ['create X hash:ip family inet\nadd X 1.2.3.4 timeout soon', 2, 23, /timeout/],
    ['create X hash:ip family inet\nadd X 1.2.3.4 comment "unterminated', 2, 23, /./],
    ['swap X Y', 1, 1, /expected create or add/],
    ['create X hash:net family inet\nadd X 10.0.0.9-10.0.0.1', 2, 7, /empty range/],
  ])('%j → line %i column %i', (text, line, column, msg) => {
    const e = err(text);
    expect([e.line, e.column]).toEqual([line, column]);
    expect(e.message).toMatch(msg);
  });
});
