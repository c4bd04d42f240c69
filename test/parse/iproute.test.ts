// iproute2 JSON (ip -j addr / route / rule) → the routing model: what the walk relies on, and
// errors that name the input, line and column. The samples are as iproute2 6.x prints them.
import { describe, expect, test } from 'vitest';
import { formatAddr, formatCidr } from '../../src/model/addr.js';
import { RT_TABLE } from '../../src/model/routing.js';
import { parseErrorOf } from '../helpers/fixtures.js';
import { buildRouting, jsonArrays, parseIpAddr, parseIpRoute, parseIpRule, TableIds } from '../../src/parse/iproute.js';

// `ip -j addr` on a flannel node (abridged to the fields iproute2 always prints)
const ADDR = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host', label: 'lo' }, { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' }] },
  {
    ifindex: 2,
    ifname: 'eth0',
    addr_info: [
      { family: 'inet', local: '192.168.205.145', prefixlen: 24, broadcast: '192.168.205.255', scope: 'global', dynamic: true, label: 'eth0' },
      { family: 'inet', local: '192.168.205.200', prefixlen: 24, scope: 'global', secondary: true, label: 'eth0' },
      { family: 'inet6', local: 'fe80::5054:ff:fe12:3456', prefixlen: 64, scope: 'link' },
    ],
  },
  { ifindex: 3, ifname: 'flannel.1', addr_info: [{ family: 'inet', local: '10.244.0.0', prefixlen: 32, scope: 'global', label: 'flannel.1' }] },
  { ifindex: 4, ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.244.0.1', prefixlen: 24, scope: 'global', label: 'cni0' }, {}] },
]);

const ROUTE4 = JSON.stringify([
  { dst: 'default', gateway: '192.168.205.1', dev: 'eth0', protocol: 'dhcp', prefsrc: '192.168.205.145', metric: 100, flags: [] },
  { dst: '10.244.0.0/24', dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: '10.244.0.1', flags: [] },
  { dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'flannel.1', flags: ['onlink'] },
  { type: 'blackhole', dst: '10.9.0.0/16', flags: [] },
  { type: 'local', dst: '10.244.0.1', table: 'local', dev: 'cni0', protocol: 'kernel', scope: 'host', prefsrc: '10.244.0.1', flags: [] },
  { type: 'local', dst: '127.0.0.0/8', table: 'local', dev: 'lo', protocol: 'kernel', scope: 'host', prefsrc: '127.0.0.1', flags: [] },
  { dst: 'default', gateway: '192.168.205.1', dev: 'eth0', table: 'aws', flags: [] },
]);
const ROUTE6 = JSON.stringify([{ dst: 'default', gateway: 'fe80::1', dev: 'eth0', protocol: 'ra', metric: 1024, pref: 'medium', flags: [] }]);

const RULE4 = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 512, src: 'all', dst: '10.244.0.0', dstlen: 16, table: 'main' },
  { priority: 1024, src: 'all', fwmark: '0x80', fwmask: '0x80', table: 'main' },
  { priority: 1536, src: '10.244.0.7', table: 'aws' },
  { priority: 2000, not: null, src: '10.0.0.0', srclen: 8, iif: 'eth0', action: 'prohibit' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
]);

describe('iproute2 JSON', () => {
  test('ip -j addr: interfaces in order, addresses with prefix, scope and secondary flag', () => {
    const links = parseIpAddr(ADDR);
    expect(links.map((l) => l.name)).toEqual(['lo', 'eth0', 'flannel.1', 'cni0']);
    expect(links[1].addrs.map((a) => [formatAddr(a.addr), a.prefix, a.scope, a.secondary])).toEqual([
      ['192.168.205.145', 24, 0, false],
      ['192.168.205.200', 24, 0, true],
      ['fe80::5054:ff:fe12:3456', 64, 253, false],
    ]);
    expect(links[3].addrs).toHaveLength(1); // an empty {} (a filtered family) is skipped
  });

  test('ip -j route show table all, v4 then v6 in one string: default per family, tables by name', () => {
    const links = parseIpAddr(ADDR);
    const warnings: string[] = [];
    const routes = parseIpRoute(`${ROUTE4}\n${ROUTE6}\n`, links, new TableIds(), warnings);
    expect(routes.map((r) => `${r.table} ${r.type} ${formatCidr(r.dst)} ${r.dev >= 0 ? links[r.dev].name : '-'} ${r.gateway ? formatAddr(r.gateway) : '-'} ${r.metric}`)).toEqual([
      '254 unicast 0.0.0.0/0 eth0 192.168.205.1 100',
      '254 unicast 10.244.0.0/24 cni0 - 0',
      '254 unicast 10.244.1.0/24 flannel.1 10.244.1.0 0',
      '254 blackhole 10.9.0.0/16 - - 0',
      '255 local 10.244.0.1/32 cni0 - 0',
      '255 local 127.0.0.0/8 lo - 0',
      `${0x100000} unicast 0.0.0.0/0 eth0 192.168.205.1 0`,
      '254 unicast ::/0 eth0 fe80::1 1024',
    ]);
    expect(warnings).toEqual([]);
  });

  test('ip -j rule: selectors, not, fwmark/mask, actions, table names shared with the routes', () => {
    const tables = new TableIds();
    const aws = tables.id('aws');
    const rules = parseIpRule(RULE4, tables, []);
    expect(rules.map((r) => r.priority)).toEqual([0, 512, 1024, 1536, 2000, 32766, 32767]);
    expect(rules[1]).toMatchObject({ table: RT_TABLE.main, action: 'lookup' });
    expect(formatCidr(rules[1].dst!)).toBe('10.244.0.0/16');
    expect(rules[2].fwmark).toEqual({ value: 0x80, mask: 0x80 });
    expect(rules[3]).toMatchObject({ table: aws });
    expect(formatCidr(rules[3].src!)).toBe('10.244.0.7/32');
    expect(rules[4]).toMatchObject({ not: true, iif: 'eth0', action: 'prohibit' });
  });

  test('a rule on a selector landfall does not model never matches, with a warning', () => {
    const warnings: string[] = [];
    const rules = parseIpRule(JSON.stringify([{ priority: 10, src: 'all', uidrange: '1000-1000', table: 'main' }]), new TableIds(), warnings);
    expect(rules.filter((r) => r.priority === 10)).toEqual([]);
    expect(warnings.join()).toMatch(/rule 10 selects on uidrange/);
  });

  test('multipath routes follow the first nexthop and say so', () => {
    const warnings: string[] = [];
    const routes = parseIpRoute(JSON.stringify([{ dst: 'default', nexthops: [{ gateway: '10.0.0.1', dev: 'eth0', weight: 1 }, { gateway: '10.0.1.1', dev: 'eth1', weight: 1 }] }]), [], new TableIds(), warnings);
    expect(formatAddr(routes[0].gateway!)).toBe('10.0.0.1');
    expect(warnings.join()).toMatch(/multipath route default \(2 nexthops\)/);
  });

  test('buildRouting: a family whose rules were not listed gets the kernel defaults', () => {
    const rt = buildRouting({ ipAddr: ADDR, ipRoute: ROUTE4, ipRule: RULE4 }, [])!;
    expect(rt.rules.filter((r) => r.family === 6).map((r) => [r.priority, r.table])).toEqual([
      [0, RT_TABLE.local],
      [32766, RT_TABLE.main],
      [32767, RT_TABLE.default],
    ]);
    expect(rt.has).toEqual({ addrs: true, routes: true, rules: true });
    expect(buildRouting({}, [])).toBeUndefined();
  });

  test('errors name the input, line and column', () => {
    const bad = parseErrorOf;
    const e1 = bad(() => parseIpAddr('[{"ifname":"lo"}]\n[{"ifname": "eth0",}]'));
    expect(e1).toMatchObject({ source: 'ipAddr', line: 2 });
    expect(e1.message).toMatch(/^ipAddr:2:\d+: malformed JSON/);
    const e2 = bad(() => parseIpRoute('\n\n  1: lo: <LOOPBACK>', [], new TableIds(), []));
    expect(e2).toMatchObject({ source: 'ipRoute', line: 3, column: 3 });
    expect(e2.message).toMatch(/expected a JSON array \(the output of ip -j/);
    const e3 = bad(() => parseIpRoute('[{"dst":"10.0.0.0/33","dev":"eth0"}]', [], new TableIds(), []));
    expect(e3.message).toMatch(/ipRoute:1:1: entry 1 of the array: dst prefix must be an integer from 0 to 32/);
    const e4 = bad(() => parseIpRule('[{"src":"all","table":"main"}]', new TableIds(), []));
    expect(e4.message).toMatch(/no priority \(is this ip -j rule output\?\)/);
    expect(bad(() => jsonArrays('   ', 'ipRule')).message).toMatch(/^ipRule:1:1: empty/);
  });
});
