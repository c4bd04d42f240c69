// Query + node → WalkPacket: DESIGN.md's defaults, echoed; malformed fields → QueryError naming them.

import { describe, expect, test } from 'vitest';
import { QueryError, resolveNode, resolveQuery, userAddr } from '../../src/engine/packet.js';
import { mulberry32 } from '../../src/engine/types.js';
import { isIpAddress } from '../../src/model/addr-check.js';
import { formatAddr } from '../../src/model/addr.js';
import type { Query } from '../../src/model/contracts.js';
import { CT } from '../../src/model/rule.js';

const node = resolveNode({ addresses: ['192.168.1.10', 'fd00::10'], podCIDRs: ['10.244.1.0/24', 'fd00:244::/64'], interfaces: { uplink: 'ens5', pods: 'eni+' } });

describe('defaults', () => {
  test('external: 203.0.113.10:40000 on the uplink, NEW, mark 0', () => {
    const { pkt, query } = resolveQuery({ protocol: 'tcp', destination: '10.96.0.10', port: 80 }, node);
    expect(query).toEqual({
      protocol: 'tcp',
      family: 4,
      destination: '10.96.0.10',
      port: 80,
      source: '203.0.113.10',
      sourcePort: 40000,
      origin: 'external',
      inInterface: 'ens5',
      outInterface: null,
      mark: 0,
      connmark: 0,
      state: 'NEW',
    });
    expect(pkt).toMatchObject({ proto: 6, sport: 40000, dport: 80, ctstate: CT.NEW, inIface: { name: 'ens5', prefix: false } });
  });

  test('pod: network + 2 of the first pod CIDR of the family, on the pods interface', () => {
    expect(resolveQuery({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' }, node).query).toMatchObject({ source: '10.244.1.2', inInterface: 'eni+' });
    expect(resolveQuery({ protocol: 'udp', destination: 'fd00:96::a', port: 53, origin: 'pod' }, node).query.source).toBe('fd00:244::2');
  });

  test('host: the first node address, 127.0.0.1 to loopback, no input interface', () => {
    expect(resolveQuery({ protocol: 'tcp', destination: '10.96.0.10', port: 80, origin: 'host' }, node).query).toMatchObject({ source: '192.168.1.10', inInterface: null });
    expect(resolveQuery({ protocol: 'tcp', destination: '127.0.0.1', port: 80, origin: 'host' }, node).query.source).toBe('127.0.0.1');
    expect(resolveQuery({ protocol: 'tcp', destination: '::1', port: 80, origin: 'host' }, node).query.source).toBe('::1');
    expect(resolveQuery({ protocol: 'tcp', destination: 'fd00:96::1', port: 80, origin: 'host' }, node).query.source).toBe('fd00::10');
  });

  test('IPv6 external source and icmp defaults', () => {
    const r = resolveQuery({ protocol: 'icmp', destination: '2001:db8:1::5' }, node);
    expect(r.query).toMatchObject({ family: 6, source: '2001:db8::10', icmpType: 128, icmpCode: 0 });
    expect(r.query.port).toBeUndefined();
    expect(r.pkt).toMatchObject({ proto: 58, sport: 0, dport: 0 });
    expect(resolveQuery({ protocol: 'icmp', destination: '10.0.0.1' }, node).pkt).toMatchObject({ proto: 1, icmpType: 8, icmpCode: 0 });
  });

  test('overrides: interfaces, mark, state, recent history', () => {
    const { pkt, query } = resolveQuery(
      {
        protocol: 'tcp',
        destination: '10.96.0.10',
        port: 80,
        source: '10.1.1.1',
        sourcePort: 1234,
        inInterface: 'cali+',
        outInterface: 'eth1',
        mark: 0x4000,
        state: 'ESTABLISHED',
        recent: [{ name: 'KUBE-SEP-X', address: '10.1.1.1', secondsAgo: 5 }],
      },
      node,
    );
    expect(query).toMatchObject({ source: '10.1.1.1', sourcePort: 1234, inInterface: 'cali+', outInterface: 'eth1', mark: 0x4000, state: 'ESTABLISHED' });
    expect(pkt.ctstate).toBe(CT.ESTABLISHED);
    expect(pkt.recent.get('KUBE-SEP-X')!.get(`${pkt.src.w.join(',')}`)).toEqual({ secondsAgo: 5, hits: 1 });
  });

  test('node: IPVS virtual addresses are node-local, after the given ones; interfaces default to eth0/cni0', () => {
    const n = resolveNode({ addresses: ['192.168.1.10'] }, { services: [{ protocol: 'tcp', addr: { family: 4, w: [0x0a600001, 0, 0, 0] }, port: 443, family: 4, scheduler: 'rr', schedFlags: [], reals: [], line: 1, text: '' }] });
    expect(n.addresses.map(formatAddr)).toEqual(['192.168.1.10', '10.96.0.1']);
    expect(n.uplink).toEqual({ name: 'eth0', prefix: false });
    expect(n.pods).toEqual({ name: 'cni0', prefix: false });
  });
});

describe('errors name the field', () => {
  test.each<[string, unknown, string]>([
    ['bad destination', { protocol: 'tcp', destination: '10.0.0.256', port: 1 }, 'destination'],
    ['octal-looking destination', { protocol: 'tcp', destination: '010.0.0.1', port: 1 }, 'destination'],
    ['missing destination', { protocol: 'tcp', port: 1 }, 'destination'],
    ['bad source', { protocol: 'tcp', destination: '10.0.0.1', port: 1, source: 'x' }, 'source'],
    ['mixed families', { protocol: 'tcp', destination: '10.0.0.1', port: 1, source: 'fd00::1' }, 'source'],
    ['bad protocol', { protocol: 'gre', destination: '10.0.0.1' }, 'protocol'],
    ['missing port', { protocol: 'tcp', destination: '10.0.0.1' }, 'port'],
    ['port out of range', { protocol: 'udp', destination: '10.0.0.1', port: 70000 }, 'port'],
    ['icmp with a port', { protocol: 'icmp', destination: '10.0.0.1', port: 80 }, 'port'],
    ['bad origin', { protocol: 'tcp', destination: '10.0.0.1', port: 1, origin: 'space' }, 'origin'],
    ['bad interface', { protocol: 'tcp', destination: '10.0.0.1', port: 1, inInterface: 'a b' }, 'inInterface'],
    ['bad mark', { protocol: 'tcp', destination: '10.0.0.1', port: 1, mark: -1 }, 'mark'],
    ['bad state', { protocol: 'tcp', destination: '10.0.0.1', port: 1, state: 'OLD' }, 'state'],
    ['bad recent address', { protocol: 'tcp', destination: '10.0.0.1', port: 1, recent: [{ name: 'X', address: 'nope' }] }, 'recent[0].address'],
  ])('%s', (_name, q, field) => {
    try {
      resolveQuery(q as Query, node);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(QueryError);
      expect((e as QueryError).field).toBe(field);
    }
  });

  test('pod / host defaults need node facts', () => {
    const bare = resolveNode(undefined);
    expect(() => resolveQuery({ protocol: 'tcp', destination: '10.0.0.1', port: 1, origin: 'pod' }, bare)).toThrow(/podCIDRs/);
    expect(() => resolveQuery({ protocol: 'tcp', destination: '10.0.0.1', port: 1, origin: 'host' }, bare)).toThrow(/node.addresses/);
  });

  test('a bad node address names its index', () => {
    expect(() => resolveNode({ addresses: ['10.0.0.1', '10.0.0.999'] })).toThrow(/^node\.addresses\[1\]/);
    expect(() => resolveNode({ podCIDRs: ['10.244.0.0/33'] })).toThrow(/^node\.podCIDRs\[0\]/);
  });
});

describe('address validation', () => {
  // userAddr checks canonical dotted quads itself and leaves every other string to ip-num: the
  // two must accept exactly the same strings.
  test('userAddr accepts a dotted quad exactly when ip-num does, and parses it the same', () => {
    const octets = ['0', '00', '01', '7', '09', '10', '99', '100', '199', '200', '249', '250', '255', '256', '299', '300', '1000', '-1', '', ' 1', '1 ', '1a', '+1'];
    const rnd = mulberry32(12);
    for (let i = 0; i < 20000; i++) {
      const parts = Array.from({ length: 3 + (rnd() % 3 === 0 ? rnd() % 3 : 1) }, () => octets[rnd() % octets.length]);
      const s = parts.join('.');
      let ok = true;
      try {
        const a = userAddr('destination', s);
        expect(formatAddr(a)).toBe(parts.map(Number).join('.'));
      } catch (e) {
        if (!(e instanceof QueryError)) throw e;
        ok = false;
      }
      expect([s, ok]).toEqual([s, isIpAddress(s)]);
    }
  });
});
