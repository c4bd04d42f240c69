// Match kinds, one row each: a FORWARD chain with the rule under test → ACCEPT, policy DROP, so
// "accept" means the match held. Undecidable conditions give both outcomes half/half and are
// reported with their line.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { ExplainResult, NodeInput, Query } from '../../src/model/contracts.js';
import { buildRs } from './build.js';

const NODE: NodeInput = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'], interfaces: { uplink: 'eth0', pods: 'cali+' } };
const BASE: Query = { protocol: 'tcp', destination: '10.244.1.5', port: 80, source: '198.51.100.7', sourcePort: 40000 };

function withRule(rule: string, q: Partial<Query> = {}, chain = 'FORWARD'): ExplainResult {
  const rs = buildRs(`*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n-A ${chain} ${rule} -j ACCEPT\nCOMMIT\n`, { node: NODE });
  return explain(rs, createReferenceEngine(rs), { ...BASE, ...q } as Query);
}

const verdict = (rule: string, q: Partial<Query> = {}, chain = 'FORWARD'): string => {
  const r = withRule(rule, q, chain);
  expect(r.outcomes).toHaveLength(1);
  return r.outcomes[0].verdict;
};

describe('decided matches', () => {
  test.each<[string, Partial<Query>, string]>([
    ['-s 198.51.100.0/24', {}, 'accept'],
    ['! -s 198.51.100.0/24', {}, 'drop'],
    ['-d 10.244.1.5/32', {}, 'accept'],
    ['-p udp', {}, 'drop'],
    ['! -p udp', {}, 'accept'],
    ['-i eth0', {}, 'accept'],
    ['-i eth+', {}, 'accept'],
    ['! -i eth0', {}, 'drop'],
    ['-o cali+', {}, 'accept'], // the pods interface is itself a prefix pattern: cali+ ⊆ cali+
    ['-o ca+', {}, 'accept'],
    ['-o eth0', {}, 'drop'],
    ['-f', {}, 'drop'],
    ['! -f', {}, 'accept'],
    ['-p tcp -m tcp --dport 80', {}, 'accept'],
    ['-p tcp -m tcp --dport 81:90', {}, 'drop'],
    ['-p tcp -m tcp --sport 40000', {}, 'accept'],
    ['-p tcp -m tcp ! --sport 1024:65535', {}, 'drop'],
    ['-p tcp -m multiport --dports 22,80,443', {}, 'accept'],
    ['-p tcp -m multiport --sports 22,443', {}, 'drop'],
    ['-p tcp -m multiport --ports 40000', {}, 'accept'],
    ['-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN', {}, 'accept'],
    ['-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN', { state: 'ESTABLISHED' }, 'drop'],
    ['-p tcp -m tcp --syn', {}, 'accept'],
    ['-p icmp -m icmp --icmp-type 8', { protocol: 'icmp', port: undefined, sourcePort: undefined }, 'accept'],
    ['-p icmp -m icmp --icmp-type 0', { protocol: 'icmp', port: undefined, sourcePort: undefined }, 'drop'],
    ['-p icmp -m icmp --icmp-type any', { protocol: 'icmp', port: undefined, sourcePort: undefined, icmpType: 3, icmpCode: 1 }, 'accept'],
    ['-p icmp -m icmp --icmp-type 3/4', { protocol: 'icmp', port: undefined, sourcePort: undefined, icmpType: 3, icmpCode: 1 }, 'drop'],
    ['-m mark --mark 0x10/0xf0', { mark: 0x1f }, 'accept'],
    ['-m mark ! --mark 0x10/0xf0', { mark: 0x1f }, 'drop'],
    ['-m connmark --mark 0x2', { connmark: 2 }, 'accept'],
    ['-m conntrack --ctstate NEW', {}, 'accept'],
    ['-m conntrack --ctstate RELATED,ESTABLISHED', {}, 'drop'],
    ['-m state --state ESTABLISHED', { state: 'ESTABLISHED' }, 'accept'],
    ['-m conntrack --ctstate DNAT', {}, 'drop'],
    ['-m conntrack --ctorigdst 10.244.1.5', {}, 'accept'],
    ['-m conntrack --ctorigsrc 10.0.0.0/8', {}, 'drop'],
    ['-m conntrack --ctreplsrc 10.244.1.5', {}, 'accept'],
    ['-m conntrack --ctorigdstport 80', {}, 'accept'],
    ['-m conntrack --ctdir ORIGINAL', {}, 'accept'],
    ['-m conntrack --ctdir REPLY', {}, 'drop'],
    ['-m conntrack --ctproto tcp', {}, 'accept'],
    ['-m addrtype --dst-type UNICAST', {}, 'accept'],
    ['-m addrtype --dst-type LOCAL', {}, 'drop'],
    ['-m addrtype --src-type LOCAL', { source: '192.168.1.10' }, 'accept'],
    ['-m addrtype --dst-type MULTICAST', { destination: '239.1.1.1', protocol: 'udp' }, 'accept'],
    ['-m addrtype --dst-type BROADCAST', { destination: '255.255.255.255', protocol: 'udp' }, 'accept'],
    ['-m addrtype ! --src-type LOCAL', {}, 'accept'],
    ['-m addrtype --src-type LOCAL --limit-iface-in', {}, 'drop'], // the source is not LOCAL anywhere
    ['-m iprange --src-range 198.51.100.1-198.51.100.9', {}, 'accept'],
    ['-m iprange --dst-range 10.244.1.6-10.244.1.9', {}, 'drop'],
    ['-m comment --comment "anything"', {}, 'accept'],
    ['-m physdev --physdev-is-bridged', {}, 'drop'],
    ['-m physdev ! --physdev-is-in', {}, 'accept'],
    ['-m owner --uid-owner 0', {}, 'drop'],
    ['-m owner ! --uid-owner 0', {}, 'accept'],
    ['-m policy --dir in --pol none', {}, 'accept'],
    ['-m policy --dir in --pol ipsec', {}, 'drop'],
    ['-m limit --limit 5/sec', {}, 'accept'],
    ['-m statistic --mode random --probability 1.0', {}, 'accept'],
    ['-m statistic --mode random --probability 0.0', {}, 'drop'],
    ['-m ipvs --ipvs', {}, 'drop'],
    ['-m ipvs ! --ipvs', {}, 'accept'],
    ['-m ipvs --vaddr 10.96.0.1/32', {}, 'drop'],
    ['-m recent --rcheck --name X', {}, 'drop'],
    ['-m recent --set --name X', {}, 'accept'],
  ])('%s %j → %s', (rule, q, want) => {
    expect(verdict(rule, q)).toBe(want);
  });

  test('the header part (-s/-d/-p/-i/-o/-f) is checked before any module, whatever the written order', () => {
    // a statistic written before -d must not split packets the -d already excludes
    const r = withRule('-m statistic --mode random --probability 0.5 -d 10.9.9.9/32');
    expect(r.outcomes.map((o) => [o.verdict, o.probability])).toEqual([['drop', 1]]);
    expect(r.outcomes[0].rulesEvaluated).toBe(1);
    // the same with a hand-built model whose matches list the module first
    const rs = buildRs('*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n-A FORWARD -d 10.9.9.9/32 -m statistic --mode random --probability 0.5 -j ACCEPT\nCOMMIT\n', { node: NODE });
    rs.rules[0].matches.reverse();
    expect(rs.rules[0].matches[0].kind).toBe('random');
    const walk = createReferenceEngine(rs).walk(resolveQuery(BASE, rs.node).pkt, []);
    expect(walk.decisions).toEqual([]);
    expect(walk.verdict).toBe('drop');
  });

  test('limit and physdev leave a warning', () => {
    expect(withRule('-m limit --limit 5/sec').warnings.join('\n')).toMatch(/limit/);
    expect(withRule('-m physdev ! --physdev-is-in').warnings.join('\n')).toMatch(/bridged/);
  });

  test('-o has nothing to compare in PREROUTING/INPUT, -i nothing for host packets', () => {
    expect(verdict('-i eth0', { origin: 'host', source: undefined, destination: '10.244.1.5' }, 'OUTPUT')).toBe('drop');
    expect(verdict('! -i eth0', { origin: 'host', source: undefined, destination: '10.244.1.5' }, 'OUTPUT')).toBe('accept');
    expect(verdict('-o eth0', { destination: '192.168.1.10' }, 'INPUT')).toBe('drop');
  });
});

describe('uncertain conditions', () => {
  function halves(rule: string, q: Partial<Query> = {}, chain = 'FORWARD') {
    const r = withRule(rule, q, chain);
    // one outcome per case, each certain given its assumption (no coin: probability 1 each)
    expect(r.outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['accept', 1],
      ['drop', 1],
    ]);
    expect(r.uncertain).toHaveLength(1);
    expect(r.uncertain[0]).toMatchObject({ line: 5, table: 'filter', chain });
    expect(r.outcomes[0].assumes).toEqual([expect.objectContaining({ line: 5, holds: true })]);
    expect(r.outcomes[1].assumes).toEqual([expect.objectContaining({ line: 5, holds: false })]);
    return r;
  }

  test('an unmodelled module follows both branches, half each, and names the rule', () => {
    const r = halves('-m time --timestart 09:00 --timestop 17:00');
    expect(r.uncertain[0].rule).toContain('-m time');
    expect(r.uncertain[0].reason).toMatch(/time/);
  });

  test('an ipset that was not supplied', () => {
    halves('-m set --match-set SOMESET src');
  });

  test('the socket owner of a host packet', () => {
    halves('-m owner --uid-owner 0', { origin: 'host', source: undefined }, 'OUTPUT');
  });

  test('an interface known only by its prefix against an exact name', () => {
    halves('-i cali12345', { origin: 'pod' });
  });

  test('addrtype LOCAL limited to an interface', () => {
    halves('-m addrtype --dst-type LOCAL --limit-iface-in', { destination: '192.168.1.10' }, 'INPUT');
  });
});
