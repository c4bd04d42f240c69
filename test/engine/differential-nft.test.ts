// The reference walk is the oracle for the WASM engine on LOWERED nft rule sets: random
// `nft list ruleset` texts (ip, ip6 and inet tables; named, anonymous, concatenated and dynamic
// sets; verdict maps and numgen cascades; DNAT maps; mark changes mid-rule) parsed and lowered by
// src/parse/nft-*.ts, walked by both engines for IPv4 and IPv6 packets. Every walk identical.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compileRuleset } from '../../src/compile/compile.js';
import type { Query } from '../../src/model/contracts.js';
import type { Ruleset } from '../../src/model/ruleset.js';
import { numberRules } from '../../src/model/ruleset.js';
import { resolveNode, resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { createWasmEngine } from '../../src/engine/wasm.js';
import { loadNft } from '../../src/parse/nft.js';
import { compareAllWalks } from './differential-support.js';

type Fam = 'ip' | 'ip6' | 'inet';

const V4 = ['10.0.0.1', '10.96.0.1', '10.96.0.2', '192.168.0.2', '203.0.113.7'];
const V6 = ['fd00::1', 'fd00:96::1', 'fd00:96::2', '2001:db8::2', '2001:db8:ff::7'];

function conds(f: Fam): string[] {
  const v4 = [
    'ip saddr 10.0.0.0/8', 'ip daddr != 10.96.0.0/16', 'ip daddr @a4', 'ip saddr != @a4', 'ip saddr @dyn4', 'update @dyn4 { ip saddr }',
    'ip daddr { 10.96.0.1, 192.168.0.2 }', 'ip saddr 10.0.0.1-10.0.0.9', 'ip daddr . meta l4proto . th dport @svc4',
  ];
  const v6 = ['ip6 saddr fd00::/16', 'ip6 daddr != fd00:96::/32', 'ip6 daddr @a6', 'ip6 saddr != { fd00::1, 2001:db8::2 }'];
  const any = [
    'tcp dport { 80, 443 }', 'udp dport 53', 'th dport 1000-2000', 'meta l4proto . th dport @ports', 'ct state new', 'ct state established,related',
    'meta mark & 0x00004000 == 0x00004000', 'meta mark & 0x00004000 != 0x00000000', 'fib daddr type local', 'fib saddr type local', 'iifname "eth0"',
    'oifname "cni*"', 'ct status dnat', 'meta l4proto tcp',
  ];
  const nfp = f === 'inet' ? ['meta nfproto ipv4', 'meta nfproto ipv6'] : [];
  return [...(f !== 'ip6' ? v4 : []), ...(f !== 'ip' ? v6 : []), ...any, ...nfp];
}

function verdicts(f: Fam, later: string[], nat: boolean): string[] {
  const out = ['accept', 'drop', 'return', 'continue', 'reject', 'meta mark set meta mark | 0x00004000', 'meta mark set meta mark ^ 0x00004000 accept', 'log prefix "x" drop', 'counter'];
  for (const c of later) {
    out.push(`jump ${c}`, `goto ${c}`, `numgen random mod 3 vmap { 0 : goto ${c}, 1 : accept, 2 : drop }`, `numgen random mod 2 vmap { 0 : jump ${c}, 1 : continue }`);
    if (f !== 'ip6') out.push(`ip daddr . meta l4proto . th dport vmap { 10.96.0.1 . tcp . 80 : goto ${c}, 10.96.0.2 . udp . 53 : drop }`);
  }
  if (nat && f !== 'ip6') {
    out.push('meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.0.0.1 . 8080, 1 : 10.0.0.2 . 80 }', 'meta l4proto tcp dnat ip to 10.0.0.5:8080', 'masquerade fully-random', 'ip saddr 10.0.0.0/8 snat ip to 192.168.0.2');
  }
  if (nat && f === 'ip6') out.push('meta l4proto tcp dnat to [fd00::5]:8080', 'masquerade');
  return out;
}

const arbRule = (f: Fam, later: string[], nat: boolean) =>
  fc.tuple(fc.array(fc.constantFrom(...conds(f)), { maxLength: 3 }), fc.constantFrom(...verdicts(f, later, nat))).map(([c, v]) => [...c, v].join(' '));

const HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting'] as const;

function arbTable(i: number): fc.Arbitrary<string> {
  return fc.constantFrom<Fam>('ip', 'ip6', 'inet').chain((f) =>
    fc
      .record({
        hook: fc.constantFrom(...HOOKS),
        prio: fc.constantFrom(-150, -110, -100, 0, 10, 100),
        nat: fc.boolean(),
        policy: fc.constantFrom('accept', 'accept', 'drop'),
        base: fc.array(arbRule(f, ['c1', 'c2'], true), { minLength: 1, maxLength: 4 }),
        c1: fc.array(arbRule(f, ['c2'], true), { maxLength: 3 }),
        c2: fc.array(arbRule(f, [], true), { maxLength: 3 }),
      })
      .map(({ hook, prio, nat, policy, base, c1, c2 }) => {
        const type = nat && f !== 'inet' ? 'nat' : 'filter';
        const natOk = type === 'nat';
        const rules = (xs: string[]) => xs.filter((r) => natOk || !/\b(dnat|snat|masquerade)\b/.test(r)).map((r) => `\t\t${r}\n`).join('');
        const sets =
          (f !== 'ip6'
            ? '\tset a4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.96.0.0/24, 192.168.0.2 }\n\t}\n' +
              '\tset dyn4 {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t\telements = { 10.0.0.1 expires 2h }\n\t}\n' +
              '\tset svc4 {\n\t\ttype ipv4_addr . inet_proto . inet_service\n\t\telements = { 10.96.0.1 . tcp . 80, 10.96.0.2 . udp . 53 }\n\t}\n'
            : '') +
          (f !== 'ip' ? '\tset a6 {\n\t\ttype ipv6_addr\n\t\telements = { fd00:96::1, 2001:db8::2 }\n\t}\n' : '') +
          '\tset ports {\n\t\ttype inet_proto . inet_service\n\t\tflags interval\n\t\telements = { tcp . 80, udp . 53, tcp . 8000-8080 }\n\t}\n';
        return (
          `table ${f} t${i} {\n${sets}` +
          `\tchain base {\n\t\ttype ${type} hook ${hook} priority ${prio}; policy ${natOk ? 'accept' : policy};\n${rules(base)}\t}\n` +
          `\tchain c1 {\n${rules(c1)}\t}\n\tchain c2 {\n${rules(c2)}\t}\n}\n`
        );
      }),
  );
}

const arbQuery = (six: boolean): fc.Arbitrary<Query> =>
  fc.record({
    protocol: fc.constantFrom('tcp', 'udp', 'icmp') as fc.Arbitrary<Query['protocol']>,
    destination: fc.constantFrom(...(six ? V6 : V4)),
    source: fc.constantFrom(...(six ? V6 : V4)),
    origin: fc.constantFrom('external', 'pod', 'host') as fc.Arbitrary<NonNullable<Query['origin']>>,
    port: fc.constantFrom(80, 53, 1500, 8080),
    mark: fc.constantFrom(0, 0x4000),
    state: fc.constantFrom('NEW', 'NEW', 'ESTABLISHED') as fc.Arbitrary<NonNullable<Query['state']>>,
  }).map((q) => (q.protocol === 'icmp' ? { ...q, port: undefined } : q));

describe('wasm engine = reference engine on lowered nft rule sets', () => {
  test('every walk of random nft listings and packets of both families', () => {
    let walks = 0;
    let nftSets = 0;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 2 }).chain((ids) => fc.tuple(...ids.map((_, i) => arbTable(i)))), fc.array(fc.tuple(fc.boolean(), fc.integer()), { minLength: 1, maxLength: 4 }).chain((xs) => fc.tuple(...xs.map(([six]) => arbQuery(six)))), (tables, queries) => {
        const l = loadNft(tables.join(''));
        const sets = new Map(l.sets.map((s) => [s.name, s]));
        nftSets += sets.size;
        const node = resolveNode({ addresses: ['192.168.0.2', '2001:db8::2'], podCIDRs: ['10.0.0.0/8', 'fd00::/16'], interfaces: { uplink: 'eth0', pods: 'cni0' } });
        const rs: Ruleset = { ipsets: { sets, supplied: false }, node, warnings: [], nft: l.tables, ...numberRules(undefined, undefined, l.tables) };
        const ref = createReferenceEngine(rs);
        const wasm = createWasmEngine(rs, compileRuleset(rs, { minRun: 2 }));
        for (const q of queries) {
          const { pkt } = resolveQuery(q, node);
          walks += compareAllWalks(ref, wasm, pkt, 24);
        }
        expect(wasm.stats.hostWalks).toBe(0);
      }),
      { numRuns: 80 },
    );
    expect(walks).toBeGreaterThan(100);
    expect(nftSets).toBeGreaterThan(50);
  }, 240_000);
});
