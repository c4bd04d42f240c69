// fast-check generators for the differential tests: random rule sets that use every modelled
// match and target (jumps, gotos, returns, statistic ladders, marks, NAT, uncertain conditions)
// and random packets, over a small address/port/interface vocabulary so that rules actually match.

import fc from 'fast-check';
import type { Addr, Cidr } from '../../src/model/addr.js';
import { maskWord, parseAddr } from '../../src/model/addr.js';
import type { Chain, FamilyRules, Match, Rule, Table, TableName, Target } from '../../src/model/rule.js';
import { ADDRTYPE, BUILTIN_CHAINS, CT, TABLES } from '../../src/model/rule.js';
import type { Iface, Ruleset } from '../../src/model/ruleset.js';
import { numberRules } from '../../src/model/ruleset.js';
import { addNftChain, addNftRule, HOOK_NAMES, nftTable, type ChainType, type HookName, type NftTable } from '../../src/model/hooks.js';
import type { IpsetState } from '../../src/model/ipset.js';
import type { IpvsState, RealServer, VirtualService } from '../../src/model/ipvs.js';
import { formatEndpoint } from '../../src/model/addr.js';
import { resolveNode } from '../../src/engine/packet.js';
import type { WalkPacket } from '../../src/engine/types.js';

const ADDRS: Record<4 | 6, string[]> = {
  4: ['10.0.0.1', '10.0.0.2', '10.96.0.10', '10.96.0.11', '192.168.1.10', '127.0.0.1', '10.244.1.5', '10.244.2.9', '203.0.113.10', '255.255.255.255', '224.0.0.1'],
  6: ['fd00::1', 'fd00::2', 'fd00:96::10', '2001:db8::10', '::1', 'fd00:244::5', 'ff02::1', 'fd00:1::10'],
};
const NODE_ADDRS: Record<4 | 6, string> = { 4: '192.168.1.10', 6: 'fd00:1::10' };
const POD_CIDRS: Record<4 | 6, string> = { 4: '10.244.0.0/16', 6: 'fd00:244::/64' };
const PORTS = [0, 53, 80, 443, 8080, 30080, 40000];
/** Sets of every type the engines model (DIFF_IPSETS), for `-m set` matches over the address pool. */
export const DIFF_IPSETS_TEXT = `
create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
add KUBE-CLUSTER-IP 10.96.0.10,tcp:80
add KUBE-CLUSTER-IP 10.0.0.1,udp:53
add KUBE-CLUSTER-IP 10.96.0.11,tcp:8000-8081
add KUBE-CLUSTER-IP 10.0.0.2,icmp:echo-request
create IPS hash:ip family inet
add IPS 10.96.0.10
add IPS 10.244.0.0/16
create NM hash:ip family inet netmask 24
add NM 10.244.1.7
create NETS hash:net family inet
add NETS 10.0.0.0/8
add NETS 10.96.0.0/16 nomatch
add NETS 10.96.0.10/32
add NETS 192.168.0.0/16
create NETS6 hash:net family inet6
add NETS6 fd00::/16
add NETS6 fd00:96::/32 nomatch
add NETS6 fd00:96::10/128
create IPS6 hash:ip,port family inet6
add IPS6 fd00::1,tcp:80
add IPS6 fd00:96::10,udp:53
add IPS6 fd00::2,icmpv6:echo-request
create LOOP hash:ip,port,ip family inet
add LOOP 10.244.1.5,tcp:8080,10.244.1.5
add LOOP 10.96.0.10,tcp:80,10.0.0.1
create SRCNET hash:ip,port,net family inet
add SRCNET 10.96.0.10,tcp:80,10.0.0.0/8
add SRCNET 10.96.0.10,tcp:80,10.0.0.0/24 nomatch
add SRCNET 10.96.0.10,tcp:443,203.0.113.0/24
create NETPORT hash:net,port family inet
add NETPORT 10.0.0.0/8,udp:53
add NETPORT 10.96.0.0/16,tcp:80 nomatch
add NETPORT 10.96.0.10/32,tcp:80
create NETPORTNET hash:net,port,net family inet
add NETPORTNET 10.0.0.0/8,tcp:80,10.96.0.0/16
add NETPORTNET 10.0.0.0/16,tcp:80,10.96.0.0/16 nomatch
create NETIF hash:net,iface family inet
add NETIF 10.0.0.0/8,eth0
add NETIF 10.96.0.0/16,cni0
add NETIF 10.244.0.0/16,eni wildcard
add NETIF 10.244.2.0/24,cali wildcard nomatch
add NETIF 192.168.1.0/24,physdev:eth2
add NETIF 0.0.0.0/1,lo
create NETIF6 hash:net,iface family inet6
add NETIF6 fd00::/16,eth0
add NETIF6 fd00:244::/64,eni wildcard
create NODEPORTS bitmap:port range 0-65535
add NODEPORTS 30080
add NODEPORTS 53
add NODEPORTS 8080-8090
create MARKS hash:ip,mark family inet markmask 0x4000
add MARKS 10.96.0.10,0x4000
add MARKS 10.0.0.1,0
create MAC hash:mac
add MAC 02:00:00:00:00:01
create BOTH list:set size 8
add BOTH NETS6
add BOTH IPS
add BOTH NODEPORTS
create HALF list:set size 8
add HALF MISSING
add HALF IPS
`;
const SET_NAMES = ['KUBE-CLUSTER-IP', 'IPS', 'NM', 'NETS', 'NETS6', 'IPS6', 'LOOP', 'SRCNET', 'NETPORT', 'NETPORTNET', 'NETIF', 'NETIF6', 'NODEPORTS', 'MARKS', 'MAC', 'BOTH', 'HALF'];

const IFNAMES = ['eth0', 'eth', 'cni0', 'eni', 'eni1a', 'cali', 'lo'];

function addr(family: 4 | 6, s: string): Addr {
  return parseAddr(s)!;
}

function cidrOf(a: Addr, prefix: number): Cidr {
  const n = a.family === 4 ? 1 : 4;
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = 0; k < n; k++) w[k] = (a.w[k] & maskWord(prefix, k)) >>> 0;
  return { family: a.family, w, prefix };
}

const arbAddr = (f: 4 | 6) => fc.constantFrom(...ADDRS[f]).map((s) => addr(f, s));
const arbCidr = (f: 4 | 6) =>
  fc.tuple(arbAddr(f), fc.constantFrom(...(f === 4 ? [32, 32, 24, 16, 8, 0] : [128, 128, 64, 16, 0]))).map(([a, p]) => cidrOf(a, p));
const arbPort = fc.constantFrom(...PORTS);
const arbRange = fc.tuple(arbPort, fc.constantFrom(0, 0, 10, 1000)).map(([lo, span]) => ({ lo, hi: Math.min(65535, lo + span) }));
const inv = fc.boolean();
const ctField = fc.constantFrom('origsrc' as const, 'origdst' as const, 'replsrc' as const, 'repldst' as const);
const addrTypes = fc.constantFrom(ADDRTYPE.LOCAL, ADDRTYPE.UNICAST, ADDRTYPE.BROADCAST, ADDRTYPE.MULTICAST, ADDRTYPE.LOCAL | ADDRTYPE.BROADCAST);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/**
 * Builds each arbitrary once per distinct argument list. arbScenario's `chain` (and the chains
 * inside) call these builders for every generated value; an arbitrary is a stateless recipe, so
 * reusing one draws exactly the same values from the same random stream, without rebuilding
 * hundreds of combinators per scenario (which was most of the differential tests' CPU time).
 */
function memo<A extends unknown[], R>(build: (...args: A) => R): (...args: A) => R {
  const cache = new Map<string, R>();
  return (...args: A): R => {
    const key = JSON.stringify(args);
    let r = cache.get(key);
    if (r === undefined) cache.set(key, (r = build(...args)));
    return r;
  };
}

const arbMatch = memo(function arbMatch(f: 4 | 6): fc.Arbitrary<Match> {
  // The records below are Match variants; optional parts come out as absent keys (stripUndefined),
  // which the union's inferred type cannot see, hence the one widening cast at the end.
  const any = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('src' as const), invert: inv, cidr: arbCidr(f) }) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('dst' as const), invert: inv, cidr: arbCidr(f) }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('proto' as const), invert: inv, proto: fc.constantFrom(0, 6, 17, 132, f === 4 ? 1 : 58) }) },
    fc.record({ kind: fc.constant('inIface' as const), invert: inv, name: fc.constantFrom(...IFNAMES), prefix: fc.boolean() }),
    fc.record({ kind: fc.constant('outIface' as const), invert: inv, name: fc.constantFrom(...IFNAMES), prefix: fc.boolean() }),
    fc.record({ kind: fc.constant('fragment' as const), invert: inv }),
    fc.record({ kind: fc.constant('sport' as const), invert: inv, range: arbRange }),
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('dport' as const), invert: inv, range: arbRange }) },
    fc.record({ kind: fc.constant('multiport' as const), invert: inv, dir: fc.constantFrom('src' as const, 'dst' as const, 'any' as const), ports: fc.array(arbRange, { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('tcpFlags' as const), invert: inv, mask: fc.constantFrom(0x17, 0x3f, 0x12), comp: fc.constantFrom(0x02, 0x10, 0) }),
    fc.record({ kind: fc.constant('icmpType' as const), invert: inv, v6: fc.constant(f === 6), type: fc.constantFrom(-1, 0, 8, 128, 3), code: fc.constantFrom(-1, 0, 1) }),
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('mark' as const), invert: inv, value: fc.constantFrom(0, 0x4000, 0x1), mask: fc.constantFrom(0xffffffff, 0x4000, 0x1) }) },
    fc.record({ kind: fc.constant('connmark' as const), invert: inv, value: fc.constantFrom(0, 0x4000, 0x1), mask: fc.constantFrom(0xffffffff, 0x4000, 0x1) }),
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('ctstate' as const), invert: inv, states: fc.constantFrom(CT.NEW, CT.ESTABLISHED | CT.RELATED, CT.DNAT, CT.SNAT, CT.UNTRACKED, CT.INVALID) }) },
    fc.record({ kind: fc.constant('ctaddr' as const), invert: inv, field: ctField, cidr: arbCidr(f) }),
    fc.record({ kind: fc.constant('ctport' as const), invert: inv, field: ctField, range: arbRange }),
    fc.record({ kind: fc.constant('ctdir' as const), invert: inv, reply: fc.boolean() }),
    fc.record({ kind: fc.constant('ctproto' as const), invert: inv, proto: fc.constantFrom(6, 17) }),
    fc.record({
      kind: fc.constant('addrtype' as const),
      src: opt(fc.record({ invert: inv, types: addrTypes })),
      dst: opt(fc.record({ invert: inv, types: addrTypes })),
      limitIfaceIn: fc.boolean(),
      limitIfaceOut: fc.constant(false),
    }).map((m) => stripUndefined(m)),
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('random' as const), invert: inv, threshold: fc.constantFrom(0, 0x40000000, 715827882, 1431655765, 0x80000000, 1) }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).chain((every) => fc.record({ kind: fc.constant('nth' as const), invert: inv, every: fc.constant(every), packet: fc.integer({ min: 0, max: every - 1 }) })) },
    fc.record({ kind: fc.constant('comment' as const), text: fc.constant('a comment') }),
    fc.record({ kind: fc.constant('nfacct' as const), name: fc.constant('acct') }),
    fc.tuple(fc.constantFrom('src' as const, 'dst' as const), inv, arbAddr(f), arbAddr(f)).map(([dir, invert, a, b]): Match => {
      const [lo, hi] = a.w[0] <= b.w[0] ? [a, b] : [b, a];
      return { kind: 'iprange', invert, dir, lo, hi };
    }),
    fc.record({
      kind: fc.constant('physdev' as const),
      in: opt(fc.record({ invert: inv, name: fc.constant('veth0'), prefix: fc.boolean() })),
      isIn: opt(fc.record({ invert: inv })),
      isBridged: opt(fc.record({ invert: inv })),
    }).map((m) => stripUndefined(m)),
    fc.record({ kind: fc.constant('owner' as const), uid: opt(fc.record({ invert: inv, lo: fc.constant(0), hi: fc.constant(0) })), socketExists: opt(fc.record({ invert: inv })) }).map((m) => stripUndefined(m)),
    fc.record({ kind: fc.constant('limit' as const), module: fc.constantFrom('limit', 'hashlimit'), text: fc.constantFrom('--limit 5/sec', '--limit 1/min') }),
    fc.record({ kind: fc.constant('policy' as const), dir: fc.constantFrom('in' as const, 'out' as const), pol: fc.constantFrom('none' as const, 'ipsec' as const), invert: inv, strict: fc.constant(false), unmodelled: fc.boolean() }),
    fc.record({ kind: fc.constant('ipvs' as const), ipvs: opt(fc.record({ invert: inv })), vport: opt(fc.record({ invert: inv, port: fc.constant(80) })), unmodelled: fc.boolean() }).map((m) => stripUndefined(m)),
    fc.record({ kind: fc.constant('unknown' as const), module: fc.constantFrom('bpf', 'u32'), text: fc.constant('-m bpf --bytecode x'), reason: fc.constantFrom('', 'bpf programs are not modelled') }),
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        invert: inv,
        name: fc.constantFrom('MISSING', ...SET_NAMES),
        dirs: fc.array(fc.constantFrom('src' as const, 'dst' as const), { minLength: 1, maxLength: 3 }),
        returnNomatch: fc.boolean(),
      }),
    },
    fc.record({
      kind: fc.constant('recent' as const),
      invert: inv,
      name: fc.constantFrom('KUBE-SEP-A', 'KUBE-SEP-B'),
      op: fc.constantFrom('rcheck' as const, 'update' as const, 'set' as const, 'remove' as const),
      seconds: opt(fc.constantFrom(0, 10, 10800)),
      hitcount: opt(fc.constantFrom(1, 2)),
      reap: fc.boolean(),
      rttl: fc.constant(false),
      side: fc.constantFrom('src' as const, 'dst' as const),
      mask: opt(fc.constant(f === 4 ? addr(4, '255.255.255.0') : addr(6, 'ffff:ffff::'))),
    }).map((m) => stripUndefined(m)),
  );
  return any as unknown as fc.Arbitrary<Match>;
});

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

const arbNatAddrs = (f: 4 | 6) =>
  fc.tuple(arbAddr(f), fc.constantFrom(0, 0, 0, 2, 300)).map(([lo, span]) => {
    const hi: Addr = f === 4 ? { family: 4, w: [(lo.w[0] + span) >>> 0, 0, 0, 0] } : { family: 6, w: [lo.w[0], lo.w[1], lo.w[2], (lo.w[3] + span) >>> 0] };
    return { lo, hi };
  });

const arbTarget = memo(function arbTarget(f: 4 | 6, table: TableName, later: string[]): fc.Arbitrary<Target | null> {
  const base: fc.Arbitrary<Target | null>[] = [
    fc.constant(null),
    fc.constant({ kind: 'ACCEPT' } as Target),
    fc.constant({ kind: 'DROP' } as Target),
    fc.constant({ kind: 'RETURN' } as Target),
    fc.constantFrom('icmp-port-unreachable', 'tcp-reset').map((w): Target => ({ kind: 'REJECT', with: w })),
    fc.record({ value: fc.constantFrom(0x4000, 0x1, 0), mask: fc.constantFrom(0x4000, 0xffffffff, 0x1) }).map((op): Target => ({ kind: 'MARK', op })),
    fc.record({ value: fc.constantFrom(0x4000, 0x1), mask: fc.constantFrom(0x4000, 0xffffffff) }).map((op): Target => ({ kind: 'CONNMARK', mode: 'set', op })),
    fc.tuple(fc.constantFrom('save' as const, 'restore' as const), fc.constantFrom(0xffffffff, 0x4000)).map(([mode, m]): Target => ({ kind: 'CONNMARK', mode, nfmask: m, ctmask: 0xffffffff })),
    fc.constantFrom('LOG', 'NFLOG').map((name): Target => ({ kind: 'noop', name })),
    fc.boolean().map((notrack): Target => ({ kind: 'CT', notrack })),
    fc.constant({ kind: 'unknownTarget', name: 'TEE', text: '-j TEE --gateway 1.2.3.4' } as Target),
    fc.constant({ kind: 'jump', chain: 'NOSUCH' } as Target),
  ];
  if (later.length > 0) {
    base.push(fc.constantFrom(...later).map((chain): Target => ({ kind: 'jump', chain })));
    base.push(fc.constantFrom(...later).map((chain): Target => ({ kind: 'jump', chain })));
    base.push(fc.constantFrom(...later).map((chain): Target => ({ kind: 'goto', chain })));
  }
  if (table === 'nat') {
    const ports = opt(arbRange);
    base.push(
      fc.tuple(fc.array(fc.tuple(opt(arbNatAddrs(f)), ports), { minLength: 0, maxLength: 2 }), fc.boolean()).map(([rs, random]): Target => ({
        kind: 'DNAT',
        ranges: rs.map(([a, p]) => stripUndefined({ lo: a?.lo, hi: a?.hi, ports: p })),
        random,
        persistent: false,
      })),
      fc.tuple(opt(arbNatAddrs(f)), ports).map(([a, p]): Target => ({ kind: 'SNAT', ranges: [stripUndefined({ lo: a?.lo, hi: a?.hi, ports: p })], random: false, randomFully: false, persistent: false })),
      ports.map((p): Target => stripUndefined({ kind: 'MASQUERADE', ports: p, random: false, randomFully: false }) as Target),
      ports.map((p): Target => stripUndefined({ kind: 'REDIRECT', ports: p, random: false }) as Target),
    );
  }
  // Terminal verdicts (DROP, REJECT) are a small share so that walks get deep into the hooks.
  return fc.oneof(...base.map((arbitrary, i) => ({ arbitrary, weight: i === 2 || i === 4 ? 1 : 3 })));
});

/** A run of destination-keyed rules (what the index compiles): `-d X -p tcp --dport P -j …`. */
const arbKeyedRule = memo(function arbKeyedRule(f: 4 | 6, table: TableName, later: string[]): fc.Arbitrary<{ matches: Match[]; target: Target | null }> {
  return fc.record({
    matches: fc.tuple(arbAddr(f), fc.constantFrom(6, 17), arbPort, fc.array(arbMatch(f), { maxLength: 1 })).map(([a, proto, port, extra]): Match[] => [
      { kind: 'dst', invert: false, cidr: cidrOf(a, f === 4 ? 32 : 128) },
      { kind: 'proto', invert: false, proto },
      { kind: 'dport', invert: false, range: { lo: port, hi: port } },
      ...extra,
    ]),
    target: arbTarget(f, table, later),
  });
});

/** A run of port-keyed rules (KUBE-NODEPORTS): `-p tcp -m comment --dport P -j …`. */
const arbPortKeyedRule = memo(function arbPortKeyedRule(f: 4 | 6, table: TableName, later: string[]): fc.Arbitrary<{ matches: Match[]; target: Target | null }> {
  return fc.record({
    matches: fc
      .tuple(fc.constantFrom(6, 17), arbPort, fc.array(arbMatch(f), { maxLength: 1 }), fc.constantFrom('none', 'local', 'limited'))
      .map(([proto, port, extra, at]): Match[] => [
        { kind: 'proto', invert: false, proto },
        { kind: 'comment', text: 'nodeport' },
        // KUBE-EXTERNAL-SERVICES puts `-m addrtype --dst-type LOCAL` before the port
        ...(at === 'none' ? [] : [{ kind: 'addrtype', dst: { invert: false, types: ADDRTYPE.LOCAL }, limitIfaceIn: at === 'limited', limitIfaceOut: false } as Match]),
        { kind: 'dport', invert: false, range: { lo: port, hi: port } },
        ...extra,
      ]),
    target: arbTarget(f, table, later),
  });
});

const arbSetRule = memo(function arbSetRule(f: 4 | 6, table: TableName, later: string[]): fc.Arbitrary<{ matches: Match[]; target: Target | null }> {
  const set = fc.record({
    kind: fc.constant('set' as const),
    invert: fc.boolean(),
    name: fc.constantFrom(...SET_NAMES),
    dirs: fc.array(fc.constantFrom('src' as const, 'dst' as const), { minLength: 1, maxLength: 3 }),
    returnNomatch: fc.boolean(),
  });
  return fc.record({ matches: fc.array(set, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<Match[]>, target: arbTarget(f, table, later) });
});

const arbChainRules = memo(function arbChainRules(f: 4 | 6, table: TableName, later: string[]) {
  const plain = fc.record({ matches: fc.array(arbMatch(f), { maxLength: 4 }), target: arbTarget(f, table, later) });
  return fc
    .array(
      fc.oneof(
        plain.map((r) => [r]),
        fc.array(arbKeyedRule(f, table, later), { minLength: 2, maxLength: 8 }),
        fc.array(arbPortKeyedRule(f, table, later), { minLength: 2, maxLength: 6 }),
        // `-m set` rules (kube-proxy IPVS mode's shape): set lookups decide most of the walk
        fc.array(arbSetRule(f, table, later), { minLength: 1, maxLength: 3 }),
      ),
      { maxLength: 5 },
    )
    .map((xs) => xs.flat());
});

export interface Scenario {
  rs: Ruleset;
  pkts: WalkPacket[];
}

const USER = ['U0', 'U1', 'U2', 'U3'];

const arbFamilyRules = memo(function arbFamilyRules(f: 4 | 6): fc.Arbitrary<FamilyRules> {
  const tables = TABLES.map((t) => {
    const builtins = BUILTIN_CHAINS[t].map((name) =>
      fc.tuple(fc.constantFrom<'ACCEPT' | 'DROP'>('ACCEPT', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'DROP'), arbChainRules(f, t, USER)).map(([policy, rules]) => ({ name, builtin: true, policy: policy as 'ACCEPT' | 'DROP' | undefined, rules })),
    );
    const users = USER.map((name, i) => arbChainRules(f, t, USER.slice(i + 1)).map((rules) => ({ name, builtin: false, policy: undefined as 'ACCEPT' | 'DROP' | undefined, rules })));
    return fc.tuple(fc.boolean(), fc.tuple(...builtins), fc.tuple(...users)).map(([present, b, u]) => ({ t, present: present || t === 'nat' || t === 'filter', chains: [...b, ...u] }));
  });
  return fc.tuple(...tables).map((ts) => {
    const fr: FamilyRules = { family: f, tables: new Map() };
    let line = 1;
    for (const { t, present, chains } of ts) {
      if (!present) continue;
      const table: Table = { name: t, family: f, chains: new Map(), line: line++ };
      for (const c of chains) {
        const chain: Chain = { name: c.name, builtin: c.builtin, line: line++, rules: [] };
        if (c.policy) chain.policy = c.policy;
        c.rules.forEach((r, i) => {
          const rule: Rule = { line: line++, text: `-A ${c.name} …`, table: t, chain: c.name, index: i + 1, matches: r.matches, target: r.target, family: f };
          chain.rules.push(rule);
        });
        table.chains.set(c.name, chain);
      }
      fr.tables.set(t, table);
    }
    return fr;
  });
});

/** A family test, or an address match of the other family (never true for this packet, so `!=` always is). */
const arbCrossMatch = memo(function arbCrossMatch(f: 4 | 6): fc.Arbitrary<Match> {
  const o: 4 | 6 = f === 4 ? 6 : 4;
  return fc.oneof(
    fc.record({ kind: fc.constant('nfproto' as const), invert: inv, family: fc.constantFrom<4 | 6>(4, 6) }),
    // the nft lowering's family guard: `src 0.0.0.0/0` (or ::/0) holds for every packet of that family only
    fc.record({ kind: fc.constant('src' as const), invert: inv, cidr: fc.constantFrom<4 | 6>(4, 6).map((fam): Cidr => ({ family: fam, w: [0, 0, 0, 0], prefix: 0 })) }),
    fc.record({ kind: fc.constantFrom('src' as const, 'dst' as const), invert: inv, cidr: arbCidr(o) }),
    fc.record({ kind: fc.constant('ctaddr' as const), invert: inv, field: ctField, cidr: fc.oneof(arbCidr(o), fc.constant<Cidr>({ family: o, w: [0, 0, 0, 0], prefix: 0 })) }),
    fc.tuple(fc.constantFrom('src' as const, 'dst' as const), inv, arbAddr(o)).map(([dir, invert, a]): Match => ({ kind: 'iprange', invert, dir, lo: a, hi: a })),
  ) as fc.Arbitrary<Match>;
});

/** Priorities around every fixed one (iptables, the NAT core, IPVS), with repeats so that ties happen. */
const PRIOS = [-300, -200, -150, -120, -100, -100, -90, -50, 0, 0, 10, 50, 98, 99, 100, 100, 150];

/** An nft table of the packet's family (or inet): 1–4 base chains on random hooks and priorities, and regular chains. */
const arbNftTable = memo(function arbNftTable(f: 4 | 6, idx: number): fc.Arbitrary<NftTable> {
  const base = fc
    .record({
      hook: fc.constantFrom<HookName>(...HOOK_NAMES),
      nat: fc.boolean(),
      route: fc.boolean(),
      priority: fc.constantFrom(...PRIOS),
      policy: fc.constantFrom<'ACCEPT' | 'DROP'>('ACCEPT', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'DROP'),
    })
    .chain(({ hook, nat, route, priority, policy }) => {
      // nat chains exist on every hook but forward; route chains only on output
      const type: ChainType = nat && hook !== 'forward' ? 'nat' : route && hook === 'output' ? 'route' : 'filter';
      return arbChainRules(f, type === 'nat' ? 'nat' : 'filter', USER).map((rules) => ({ hook, type, priority, policy, rules }));
    });
  return fc
    .record({
      family: fc.constantFrom(...(f === 4 ? (['ip', 'inet'] as const) : (['ip6', 'inet'] as const))),
      bases: fc.array(base, { minLength: 1, maxLength: 4 }),
      users: fc.boolean().chain((nat) => fc.tuple(...USER.map((_, i) => arbChainRules(f, nat ? 'nat' : 'filter', USER.slice(i + 1))))),
      costs: fc.array(fc.constantFrom(1, 1, 1, 0, 2), { minLength: 64, maxLength: 64 }),
      // inet tables see both families: family tests and the other family's address matches
      cross: fc.array(fc.option(arbCrossMatch(f), { nil: undefined, freq: 3 }), { minLength: 64, maxLength: 64 }),
    })
    .map(({ family, bases, users, costs, cross }) => {
      let line = 10000 * (idx + 1);
      let k = 0;
      const t = nftTable(family, `t${idx}`, line++);
      const fill = (c: ReturnType<typeof addNftChain>, rules: { matches: Match[]; target: Target | null }[]) => {
        for (const r of rules) {
          const x = family === 'inet' ? cross[k % cross.length] : undefined;
          const matches = x ? [x, ...r.matches] : r.matches;
          addNftRule(t, c, { line: line++, text: `${c.name} rule`, handle: line, matches, target: r.target, evalCost: costs[k++ % costs.length] });
        }
      };
      bases.forEach((b, i) => fill(addNftChain(t, { name: `b${i}`, line: line++, base: { hook: b.hook, type: b.type, priority: b.priority, policy: b.policy } }), b.rules));
      USER.forEach((name, i) => fill(addNftChain(t, { name, line: line++ }), users[i]));
      return t;
    });
});

function arbIface(): fc.Arbitrary<Iface> {
  return fc.record({ name: fc.constantFrom('eth0', 'cni0', 'eni', 'eni1a', 'cali', 'lo'), prefix: fc.boolean() });
}

const arbPacket = memo(function arbPacket(f: 4 | 6): fc.Arbitrary<WalkPacket> {
  return fc
    .record({
      proto: fc.constantFrom(6, 17, 132, f === 4 ? 1 : 58),
      src: arbAddr(f),
      dst: arbAddr(f),
      sport: arbPort,
      dport: arbPort,
      icmpType: fc.constantFrom(0, 8, 3, 128),
      icmpCode: fc.constantFrom(0, 1),
      origin: fc.constantFrom('external' as const, 'pod' as const, 'host' as const),
      inIface: fc.option(arbIface(), { nil: null }),
      outIface: fc.option(arbIface(), { nil: null, freq: 4 }),
      mark: fc.constantFrom(0, 0x4000, 0x1, 0x4001),
      connmark: fc.constantFrom(0, 0x4000, 0x1),
      ctstate: fc.constantFrom(CT.NEW, CT.NEW, CT.NEW, CT.ESTABLISHED, CT.RELATED, CT.INVALID),
      history: fc.array(
        fc.record({
          name: fc.constantFrom('KUBE-SEP-A', 'KUBE-SEP-B', 'UNUSED'),
          // plain pool addresses, and /24 (/32-bit) masked ones for the --mask rules
          addr: fc.tuple(arbAddr(f), fc.boolean()).map(([a, masked]) => (masked ? cidrOf(a, f === 4 ? 24 : 32) : a)),
          secondsAgo: fc.constantFrom(0, 5, 20000),
          hits: fc.constantFrom(1, 2, 3),
        }),
        { maxLength: 3 },
      ),
    })
    .map(({ history, ...p }) => {
      const recent: WalkPacket['recent'] = new Map();
      for (const h of history) {
        let list = recent.get(h.name);
        if (!list) recent.set(h.name, (list = new Map()));
        list.set(h.addr.w.join(','), { secondsAgo: h.secondsAgo, hits: h.hits });
      }
      return { family: f, ...p, inIface: p.origin === 'host' ? null : p.inIface, recent, activeConnections: new Map() };
    });
});

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'fo', 'ovf', 'sh', 'dh', 'mh', 'lblc', 'lblcr', 'twos', 'unknown'];
const REAL_PORTS = [0, 80, 8080];

const arbReal = memo(function arbReal(f: 4 | 6, withCounts: boolean): fc.Arbitrary<RealServer> {
  return fc
    .record({
      addr: arbAddr(f),
      port: fc.constantFrom(...REAL_PORTS),
      forward: fc.constantFrom('masq' as const, 'masq' as const, 'masq' as const, 'gate' as const, 'ipip' as const),
      weight: fc.constantFrom(0, 1, 1, 2, 3, 5),
      upperThreshold: opt(fc.constantFrom(0, 1, 2)),
      activeConns: withCounts ? fc.integer({ min: 0, max: 3 }) : fc.constant(undefined),
      inactiveConns: withCounts ? fc.integer({ min: 0, max: 300 }) : fc.constant(undefined),
    })
    .map((r) => stripUndefined({ ...r, line: 1, text: '-a …' }) as RealServer);
});

const arbService = memo(function arbService(f: 4 | 6): fc.Arbitrary<VirtualService> {
  return fc
    .record({
      protocol: fc.constantFrom('tcp' as const, 'tcp' as const, 'udp' as const, 'sctp' as const, 'fwmark' as const),
      addr: arbAddr(f),
      port: fc.constantFrom(0, 21, 53, 80, 443, 30080),
      fwmark: fc.constantFrom(0x4000, 0x1, 0x4001),
      scheduler: fc.constantFrom(...SCHEDULERS),
      schedFlags: fc.subarray(['sh-port', 'sh-fallback', 'mh-port', 'mh-fallback']),
      persistent: opt(fc.constantFrom(10800, 60)),
      netmask: opt(fc.constant('255.255.255.0')),
      ops: opt(fc.boolean()),
      reals: fc.boolean().chain((counts) => fc.array(arbReal(f, counts), { maxLength: 5 })),
    })
    .map(({ protocol, addr, port, fwmark, ...rest }) => {
      const base = protocol === 'fwmark' ? { protocol, fwmark } : { protocol, addr, port };
      return stripUndefined({ ...base, ...rest, family: f, line: 1, text: protocol === 'fwmark' ? `-A -f ${fwmark}` : `-A -t ${formatEndpoint(addr, port)}` }) as VirtualService;
    });
});

/** Random IPVS state over the address pool (services' VIPs are node-local, as kube-ipvs0 binds them). */
const arbIpvs = memo(function arbIpvs(f: 4 | 6): fc.Arbitrary<IpvsState> {
  return fc
    .record({ services: fc.array(arbService(f), { minLength: 1, maxLength: 5 }), realOrder: opt(fc.constantFrom('kernel' as const, 'sorted' as const)) })
    .map((st) => stripUndefined(st) as IpvsState);
});

const arbConns = memo(function arbConns(f: 4 | 6): fc.Arbitrary<Map<string, number>> {
  return fc
    .array(fc.tuple(arbAddr(f), fc.constantFrom(...REAL_PORTS), fc.integer({ min: 0, max: 4 })), { maxLength: 3 })
    .map((xs) => new Map(xs.map(([a, p, n]) => [formatEndpoint(a, p), n])));
});

// ---- the node's own routing (ip -j addr / route / rule JSON, as iproute2 prints it) ----

const LINKS: Record<4 | 6, { ifname: string; addr_info: { family: string; local: string; prefixlen: number; scope: string; secondary?: boolean }[] }[]> = {
  4: [
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    {
      ifname: 'eth0',
      addr_info: [
        { family: 'inet', local: '192.168.1.10', prefixlen: 24, scope: 'global' },
        { family: 'inet', local: '192.168.1.11', prefixlen: 24, scope: 'global', secondary: true },
        { family: 'inet', local: '10.0.0.2', prefixlen: 8, scope: 'global' },
      ],
    },
    { ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.244.0.1', prefixlen: 24, scope: 'global' }] },
    { ifname: 'flannel.1', addr_info: [{ family: 'inet', local: '10.244.0.0', prefixlen: 32, scope: 'global' }] },
    { ifname: 'eth1', addr_info: [{ family: 'inet', local: '172.16.0.5', prefixlen: 16, scope: 'link' }, { family: 'inet', local: '172.16.0.6', prefixlen: 16, scope: 'global' }] },
  ],
  6: [
    { ifname: 'lo', addr_info: [{ family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' }] },
    { ifname: 'eth0', addr_info: [{ family: 'inet6', local: 'fd00:1::10', prefixlen: 64, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' }] },
    { ifname: 'cni0', addr_info: [{ family: 'inet6', local: 'fd00:244::1', prefixlen: 64, scope: 'global' }] },
    { ifname: 'eth1', addr_info: [{ family: 'inet6', local: 'fd00::2', prefixlen: 64, scope: 'global' }] },
  ],
};

const ROUTES: Record<4 | 6, object[]> = {
  4: [
    { dst: 'default', gateway: '192.168.1.1', dev: 'eth0' },
    { dst: '10.244.0.0/24', dev: 'cni0', prefsrc: '10.244.0.1' },
    { dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'flannel.1', flags: ['onlink'] },
    { dst: '10.244.2.0/24', dev: 'eth1', metric: 100 },
    { dst: '10.244.2.0/24', dev: 'eth0', metric: 50 },
    { dst: '10.96.0.0/12', dev: 'eth1' },
    { type: 'blackhole', dst: '10.0.0.0/24' },
    { type: 'unreachable', dst: '203.0.113.0/24' },
    { type: 'prohibit', dst: '224.0.0.0/4' },
    { dst: 'default', gateway: '172.16.0.1', dev: 'eth1', table: '100' },
    { type: 'throw', dst: '10.244.0.0/16', table: '100' },
    { type: 'local', dst: '10.0.0.0/8', dev: 'lo', table: 'local' },
    { type: 'local', dst: '192.168.1.10', dev: 'eth0', table: 'local', prefsrc: '192.168.1.10' },
  ],
  6: [
    { dst: 'default', gateway: 'fd00:1::1', dev: 'eth0', metric: 1024 },
    { dst: 'fd00:244::/64', dev: 'cni0', metric: 256 },
    { dst: 'fd00:96::/32', dev: 'eth1', metric: 256 },
    { type: 'blackhole', dst: 'fd00::/64', metric: 1024 },
    { dst: 'default', gateway: 'fd00::1', dev: 'eth1', table: '100' },
    { type: 'local', dst: 'fd00:1::10', dev: 'eth0', table: 'local' },
  ],
};

const RULES: Record<4 | 6, object[]> = {
  4: [
    { priority: 100, src: '10.244.1.5', table: '100' },
    { priority: 110, src: '10.244.0.0', srclen: 16, table: 'main', suppress_prefixlen: 0 },
    { priority: 120, fwmark: '0x4000', fwmask: '0x4000', table: '100' },
    { priority: 130, iif: 'eth0', table: '100' },
    { priority: 140, not: null, src: '10.0.0.0', srclen: 8, table: '100' },
    { priority: 150, dst: '10.96.0.10', action: 'unreachable' },
    { priority: 160, iif: 'lo', dst: '10.96.0.11', action: 'blackhole' },
    { priority: 170, src: '203.0.113.10', action: 'prohibit' },
  ],
  6: [
    { priority: 100, src: 'fd00:244::5', table: '100' },
    { priority: 120, fwmark: '0x1', table: '100' },
    { priority: 150, dst: 'fd00:96::10', action: 'unreachable' },
  ],
};
const DEFAULT_RULES = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
];

/** A random part of a node's routing, as the JSON text iproute2 prints. */
const arbRouting = memo(function arbRouting(f: 4 | 6): fc.Arbitrary<{ ipAddr: string; ipRoute?: string; ipRule?: string }> {
  return fc
    .record({
      links: fc.subarray(LINKS[f], { minLength: 1 }),
      routes: fc.option(fc.subarray(ROUTES[f]), { nil: undefined }),
      rules: fc.option(fc.subarray(RULES[f]), { nil: undefined }),
    })
    .map(({ links, routes, rules }) => {
      const out: { ipAddr: string; ipRoute?: string; ipRule?: string } = { ipAddr: JSON.stringify(links) };
      if (routes) out.ipRoute = JSON.stringify(routes);
      if (rules) out.ipRule = JSON.stringify([...DEFAULT_RULES, ...rules]);
      return out;
    });
});

export function arbScenario(opts: { ipsets?: IpsetState; ipvs?: boolean; nft?: boolean; routing?: boolean } = {}): fc.Arbitrary<Scenario> {
  const byFamily = new Map<4 | 6, fc.Arbitrary<Scenario>>();
  const build = (f: 4 | 6): fc.Arbitrary<Scenario> =>
    fc
      .record({
        fr: arbFamilyRules(f),
        nodeAddrs: fc.boolean(),
        uplink: fc.constantFrom('eth0', 'eni+'),
        pods: fc.constantFrom('cni0', 'cali+'),
        pkts: fc.array(
          fc.tuple(arbPacket(f), opts.ipvs ? arbConns(f) : fc.constant(new Map<string, number>())).map(([p, c]) => ({ ...p, activeConnections: c })),
          { minLength: 1, maxLength: 6 },
        ),
        ipvs: opts.ipvs ? arbIpvs(f) : fc.constant(undefined),
        routing: opts.routing ? arbRouting(f) : fc.constant(undefined),
        nft: opts.nft ? fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbNftTable(f, i)))) : fc.constant([] as NftTable[]),
      })
      .map(({ fr, nodeAddrs, uplink, pods, pkts, ipvs, routing, nft }) => {
        const rs: Ruleset = {
          v4: f === 4 ? fr : undefined,
          v6: f === 6 ? fr : undefined,
          ipsets: opts.ipsets ?? { sets: new Map(), supplied: false },
          ...(ipvs ? { ipvs } : {}),
          node: resolveNode({ addresses: nodeAddrs ? [NODE_ADDRS[f]] : [], podCIDRs: [POD_CIDRS[f]], interfaces: { uplink, pods }, ...routing }, ipvs),
          warnings: [],
          ...(nft.length > 0 ? { nft } : {}),
          ...numberRules(f === 4 ? fr : undefined, f === 6 ? fr : undefined, nft),
        };
        return { rs, pkts };
      });
  return fc.constantFrom<4 | 6>(4, 4, 4, 6).chain((f) => {
    let a = byFamily.get(f);
    if (!a) byFamily.set(f, (a = build(f)));
    return a;
  });
}
