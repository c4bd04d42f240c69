import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../src/model/addr.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { ParseError } from '../../src/parse/errors.js';

function err(text: string): ParseError {
  try {
    parseIpvs(text);
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error('expected a ParseError');
}

const SAVE = `-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
-A -u 10.96.0.10:53 -s rr -p 10800 -M 255.255.255.0
-a -u 10.96.0.10:53 -r 10.244.0.2:53 -m -w 1
-a -u 10.96.0.10:53 -r 10.244.0.3:53 -m -w 2 -x 100 -y 50
-A --sctp-service 10.96.0.20:9000 -s sh -b sh-fallback,sh-port
-A -t [fd00:10:96::1]:443 -s mh -b flag-2
-a -t [fd00:10:96::1]:443 -r [fd00:10:244::5]:6443 -g -w 3
-A -f 100 -s wrr
-a -f 100 -r 10.244.1.7:0 -i -w 1
-A -f 200 -6 -s rr
`;

describe('ipvsadm-save -n', () => {
  const st = parseIpvs(SAVE);
  it('reads virtual services in order with their options', () => {
    expect(st.services.map((s) => [s.protocol, s.family, s.scheduler, s.port ?? s.fwmark])).toEqual([
      ['tcp', 4, 'rr', 443],
      ['udp', 4, 'rr', 53],
      ['sctp', 4, 'sh', 9000],
      ['tcp', 6, 'mh', 443],
      ['fwmark', 4, 'wrr', 100],
      ['fwmark', 6, 'rr', 200],
    ]);
    expect(st.services[1]).toMatchObject({ persistent: 10800, netmask: '255.255.255.0', line: 3 });
    expect(st.services[2].schedFlags).toEqual(['sh-fallback', 'sh-port']);
    // flag-2 of mh is mh-port
    expect(st.services[3].schedFlags).toEqual(['mh-port']);
    expect(formatAddr(st.services[3].addr!)).toBe('fd00:10:96::1');
  });
  it('attaches real servers in dump order with forwarding, weight and thresholds', () => {
    const dns = st.services[1].reals;
    expect(dns.map((r) => [formatAddr(r.addr), r.port, r.forward, r.weight])).toEqual([
      ['10.244.0.2', 53, 'masq', 1],
      ['10.244.0.3', 53, 'masq', 2],
    ]);
    expect(dns[1]).toMatchObject({ upperThreshold: 100, lowerThreshold: 50, line: 5 });
    expect(st.services[3].reals[0]).toMatchObject({ forward: 'gate', weight: 3, port: 6443 });
    expect(st.services[4].reals[0]).toMatchObject({ forward: 'ipip', port: 0 });
    expect(st.services[0].reals[0].text).toBe('-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1');
  });
  it('ipvsadm defaults: scheduler wlc, forwarding gate, weight 1, real port = service port', () => {
    const d = parseIpvs('-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.1.1');
    expect(d.services[0].scheduler).toBe('wlc');
    expect(d.services[0].reals[0]).toMatchObject({ forward: 'gate', weight: 1, port: 80 });
  });
  it('long option names', () => {
    const d = parseIpvs('--add-service --tcp-service 10.0.0.1:80 --scheduler wrr --persistent\n--add-server --tcp-service 10.0.0.1:80 --real-server 10.1.1.1:8080 --masquerading --weight 5');
    expect(d.services[0]).toMatchObject({ scheduler: 'wrr', persistent: 300 });
    expect(d.services[0].reals[0]).toMatchObject({ forward: 'masq', weight: 5, port: 8080 });
  });
});

describe('ipvsadm -Ln', () => {
  const LIST = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.1:443 rr
  -> 172.18.0.2:6443              Masq    1      3          10
UDP  10.96.0.10:53 rr persistent 10800 mask 255.255.255.0
  -> 10.244.0.2:53                Masq    1      0          4
  -> 10.244.0.3:53                Route   0      0          0
TCP  10.96.0.20:80 sh (sh-fallback,sh-port)
FWM  100 wrr
  -> 10.244.1.7:0                 Tunnel  2      0          0
TCP  [fd00:10:96::1]:443 rr
  -> [fd00:10:244::5]:6443        Masq    1      0          0
`;
  it('reads services, flags, real servers and connection counts', () => {
    const st = parseIpvs(LIST);
    expect(st.services.map((s) => [s.protocol, s.family, s.scheduler, s.reals.length])).toEqual([
      ['tcp', 4, 'rr', 1],
      ['udp', 4, 'rr', 2],
      ['tcp', 4, 'sh', 0],
      ['fwmark', 4, 'wrr', 1],
      ['tcp', 6, 'rr', 1],
    ]);
    expect(st.services[0].reals[0]).toMatchObject({ weight: 1, activeConns: 3, inactiveConns: 10, forward: 'masq', line: 5 });
    expect(st.services[1]).toMatchObject({ persistent: 10800, netmask: '255.255.255.0' });
    expect(st.services[1].reals[1]).toMatchObject({ forward: 'gate', weight: 0 });
    expect(st.services[2].schedFlags).toEqual(['sh-fallback', 'sh-port']);
    expect(st.services[3].reals[0]).toMatchObject({ forward: 'ipip', weight: 2 });
  });
  it('--stats / --rate listings: scheduler and weights unknown, flagged as such', () => {
    const stats = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.96.0.1:443                      12      340      290    22680    50K
  -> 172.18.0.2:6443                    12      340      290    22680    50K
`;
    const st = parseIpvs(stats);
    expect(st.services[0].scheduler).toBe('unknown');
    expect(st.services[0].reals[0]).toMatchObject({ weightUnknown: true, weight: 1 });
    const rate = stats.replace('Conns   InPkts  OutPkts  InBytes OutBytes', 'CPS    InPPS   OutPPS    InBPS   OutBPS');
    expect(parseIpvs(rate).services[0].reals).toHaveLength(1);
  });
  it('--thresholds and --persistent-conn views (columns on the Prot line, as ipvsadm prints them)', () => {
    const th = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  10.96.0.1:443 wlc
  -> 172.18.0.2:6443              100        50         7          1
`;
    const st = parseIpvs(th);
    expect(st.services[0].scheduler).toBe('wlc');
    expect(st.services[0].reals[0]).toMatchObject({ upperThreshold: 100, lowerThreshold: 50, activeConns: 7, inactiveConns: 1, weightUnknown: true });
    const pc = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn
  -> RemoteAddress:Port
TCP  10.96.0.1:443 rr persistent 360
  -> 172.18.0.2:6443              3         2           7          1
`;
    const r = parseIpvs(pc).services[0];
    expect(r.persistent).toBe(360);
    expect(r.reals[0]).toMatchObject({ weight: 3, activeConns: 7, inactiveConns: 1 });
    expect(r.reals[0].weightUnknown).toBeUndefined();
  });
  it('real-server order: ipvsadm sorts unless --nosort, so a sorted dump leaves the kernel order unknown', () => {
    expect(parseIpvs('-A -t 10.0.0.1:80 -s sh\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 1').realOrder).toBe('sorted');
    expect(parseIpvs('-A -t 10.0.0.1:80 -s sh\n-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1').realOrder).toBeUndefined();
    // libipvs compares IPv4 addresses by a wrapping int difference: 240.0.0.1 sorts before 10.0.0.1
    expect(parseIpvs('-A -t 10.0.0.1:80 -s sh\n-a -t 10.0.0.1:80 -r 240.0.0.1:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.0.1:80 -m -w 1').realOrder).toBe('sorted');
    expect(parseIpvs('-A -t 10.0.0.1:80 -s sh\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1').realOrder).toBeUndefined();
    expect(parseIpvs('-A -q 10.0.0.1:80 -s rr').services[0].protocol).toBe('sctp');
  });
  it('errors carry line and column', () => {
    const e = err(LIST.replace('Masq    1      0          4', 'Masq    x      0          4'));
    expect([e.line, e.column, e.source]).toEqual([7, 43, 'ipvs']);
    const f = err(LIST.replace('  -> 10.244.1.7:0 ', '  -> bogus:0      '));
    expect([f.line, f.column]).toEqual([11, 6]);
    expect(f.message).toMatch(/"bogus:0"/);
  });
});

describe('malformed ipvsadm-save', () => {
  it.each([
    ['-X -t 10.0.0.1:80 -s rr', 1, 1, /expected -A/],
    ['-A -t 10.0.0.1 -s rr', 1, 7, /address:port/],
    ['-A -t kubernetes.default:443 -s rr', 1, 7, /ipvsadm-save -n/],
    ['-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.2:80 -r 10.1.1.1:80 -m -w 1', 2, 7, /not defined above/],
    ['-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w heavy', 2, 40, /-w/],
    ['-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -m -w 1', 2, 26, /missing -r/],
    ['-A -t 10.0.0.1:80 -s rr --frobnicate', 1, 25, /unknown ipvsadm option/],
    ['-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s wrr', 2, 7, /twice/],
    ['-A -s rr', 1, 9, /missing the virtual service/],
    ['-A -f 0 -s rr', 1, 7, /non-zero/],
    ['-A -t 10.0.0.1:80 -s rr -b sh-bogus', 1, 28, /scheduler flag/],
    ['-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r [fd00::1]:80 -m', 2, 22, /other address family/],
    ['-A -t 10.0.0.1:99999 -s rr', 1, 7, /address:port/],
  ])('%j → line %i column %i', (text, line, column, msg) => {
    const e = err(text);
    expect([e.line, e.column]).toEqual([line, column]);
    expect(e.message).toMatch(msg);
    expect(e.text).toBe(text.split('\n')[line - 1]);
  });
});
