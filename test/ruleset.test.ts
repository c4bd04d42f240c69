// The library entry: loadRuleset wiring (parsers, node, engines, services), ids, stats, errors,
// and both engines answering the same JSON for the same questions.

import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { canonicalBundle } from '../src/ruleset.js';
import { loadRuleset, ParseError, PathExplosionError, QueryError, rulesetId } from '../src/index.js';
import type { Query, RulesetBundle } from '../src/index.js';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };
const BASIC: RulesetBundle = { iptables: fx('kube-basic.txt'), node: NODE };

describe('loadRuleset', () => {
  const rs = loadRuleset(BASIC, { engine: 'reference' });

  test('id: 64 hex, content-addressed, independent of key order and of absent fields', () => {
    expect(rs.id).toMatch(/^[0-9a-f]{64}$/);
    expect(loadRuleset({ node: { podCIDRs: NODE.podCIDRs, addresses: NODE.addresses }, iptables: BASIC.iptables }).id).toBe(rs.id);
    expect(rulesetId({ ...BASIC, ipvs: undefined })).toBe(rs.id);
    expect(rulesetId({ ...BASIC, node: { addresses: ['192.168.1.11'] } })).not.toBe(rs.id);
    expect(rulesetId({ ...BASIC, iptables: `${BASIC.iptables}\n` })).not.toBe(rs.id);
  });

  test('id: the SHA-256 of canonicalBundle, the bytes the service stores (hashed piece by piece)', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const quoted = { iptables: '*nat\n-A X -m comment --comment "a\\"b é"\nCOMMIT\n', ip6tables: '*filter\nCOMMIT\n', ipvs: '', ipsets: 'x', node: { podCIDRs: ['10.0.0.0/8'], addresses: ['10.0.0.1'] } };
    for (const b of [BASIC, quoted, { snapshot: '{"v":1}' }, {}] as RulesetBundle[]) expect(rulesetId(b)).toBe(sha(canonicalBundle(b)));
  });

  test('id: a long dump hashed a slice at a time gives the same id, whatever lies on a slice boundary', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const S = 64 * 1024; // rulesetId's slice length
    const pair = '\u{1F600}'; // one surrogate pair
    const around = (mid: string, at: number) => `${'a'.repeat(at)}${mid}${'-A X -m comment --comment "q\\"\n'.repeat(3)}`;
    const dumps = [
      around(pair, S - 1), // the pair straddles the first boundary
      around(pair, S - 2),
      around(pair + pair, S - 1),
      around('\ud83d', S - 1), // a lone high surrogate at the boundary: escaped as itself
      around('\ude00', S), // a lone low surrogate just after it
      around('\u0001\t"\\é', S - 3), // escapes and non-ASCII across it
      `${'x'.repeat(3 * S + 5)}${pair}`,
    ];
    for (const d of dumps) {
      for (const b of [{ iptables: d }, { ip6tables: d, iptables: 'y', node: NODE }, { snapshot: { iptables: d, list: [d, 1, null] } }] as unknown as RulesetBundle[]) {
        expect(rulesetId(b)).toBe(sha(canonicalBundle(b)));
      }
    }
  });

  test('stats count rules, chains, tables and bytes', () => {
    expect(rs.stats).toMatchObject({ rules: 43, chains: 29, bytes: Buffer.byteLength(BASIC.iptables ?? ''), ipvsServices: 0, ipsets: 0 });
    expect(rs.stats.parseMs).toBeGreaterThan(0);
    expect(rs.stats.compileMs).toBeGreaterThanOrEqual(0);
    expect(rs.stats.tables).toEqual({
      'v4/mangle': { chains: 6, rules: 0 },
      'v4/nat': { chains: 15, rules: 27 },
      'v4/filter': { chains: 8, rules: 16 },
    });
  });

  test('explain answers the DESIGN.md JSON, with the resolved query echoed', () => {
    const r = rs.explain({ protocol: 'tcp', destination: '10.96.100.1', port: 80 });
    expect(r.query).toMatchObject({ source: '203.0.113.10', sourcePort: 40000, origin: 'external' });
    expect(r.outcomes).toHaveLength(3);
    expect(Object.keys(r).sort()).toEqual(['outcomes', 'query', 'uncertain', 'warnings']);
    expect(r.outcomes[0].assumes).toEqual([]);
    expect(r.outcomes[0].path[0]).toEqual({
      family: 'ip',
      table: 'nat',
      chain: 'PREROUTING',
      index: 1,
      line: 26,
      rule: '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    });
  });

  test('trace is deterministic by seed (default seed 0)', () => {
    const qs: Query[] = Array.from({ length: 20 }, () => ({ protocol: 'tcp', destination: '10.96.100.1', port: 80 }));
    expect(rs.trace(qs)).toEqual(rs.trace(qs, { seed: 0 }));
    expect(rs.trace(qs, { seed: 5 })).toEqual(rs.trace(qs, { seed: 5 }));
    expect(new Set(rs.trace(qs, { seed: 5 }).map((t) => t.endpoint)).size).toBe(3);
  });

  test('services come from the kube-proxy chains', () => {
    const web = rs.services().find((s) => s.name === 'default/web:http')!;
    expect(web).toMatchObject({ clusterIP: '10.96.100.1', port: 80, nodePort: 30080, protocol: 'tcp' });
    expect(web.endpoints.map((e) => e.endpoint).sort()).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.2.9:8080']);
  });

  test('maxPaths caps explain', () => {
    const marks = Array.from({ length: 6 }, (_, i) => `-A FORWARD -m statistic --mode random --probability 0.5 -j MARK --or-mark ${1 << i}`);
    const text = `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${marks.join('\n')}\nCOMMIT\n`;
    const q: Query = { protocol: 'tcp', destination: '10.0.0.1', port: 80 };
    const node = { addresses: ['192.168.1.10'] };
    expect(() => loadRuleset({ iptables: text, node }, { maxPaths: 10, engine: 'reference' }).explain(q)).toThrow(PathExplosionError);
    expect(loadRuleset({ iptables: text, node }, { engine: 'reference' }).explain(q).outcomes).toHaveLength(1);
    expect(() => loadRuleset({ iptables: text, node }, { engine: 'reference' }).explain(q, { maxPaths: 63 })).toThrow(/63/);
  });
});

describe('errors', () => {
  test('a malformed dump is a ParseError with line and column', () => {
    const bad = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport eighty -j ACCEPT\nCOMMIT\n';
    try {
      loadRuleset({ iptables: bad });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).line).toBe(3);
      expect((e as ParseError).column).toBeGreaterThan(1);
    }
  });

  test('a malformed node context or query is a QueryError naming the field', () => {
    expect(() => loadRuleset({ ...BASIC, node: { addresses: ['nope'] } })).toThrow(QueryError);
    const rs = loadRuleset(BASIC, { engine: 'reference' });
    expect(() => rs.explain({ protocol: 'tcp', destination: '10.96.100.1', port: 80, source: '1.2.3' })).toThrow(/^source/);
  });

  test('a loop of user chains is refused at load time', () => {
    const loop = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A FORWARD -j A\n-A A -j B\n-A B -j A\nCOMMIT\n';
    expect(() => loadRuleset({ iptables: loop })).toThrow(ParseError);
  });

  test('lenient: skippable problems become "input:line:column: message" warnings', () => {
    const text = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j NO-SUCH-CHAIN\nCOMMIT\n';
    expect(() => loadRuleset({ iptables: text })).toThrow(ParseError);
    const rs = loadRuleset({ iptables: text }, { lenient: true, engine: 'reference' });
    expect(rs.warnings).toHaveLength(1);
    expect(rs.warnings[0]).toMatch(/^iptables:5:\d+: /);
  });

  test('the same family from both iptables and ip6tables is refused', () => {
    const v6 = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -s fd00::/8 -j DROP\nCOMMIT\n';
    expect(() => loadRuleset({ iptables: v6, ip6tables: v6 })).toThrow(ParseError);
  });
});

describe('other inputs', () => {
  test('ip6tables: IPv6 packets walk the IPv6 rules', () => {
    const v6 = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -d fd00:244::/64 -p tcp -m tcp --dport 22 -j REJECT --reject-with icmp6-adm-prohibited\nCOMMIT\n';
    const rs = loadRuleset({ iptables: BASIC.iptables, ip6tables: v6, node: { addresses: ['192.168.1.10', 'fd00::10'] } }, { engine: 'reference' });
    const r = rs.explain({ protocol: 'tcp', destination: 'fd00:244::5', port: 22 });
    expect(r.outcomes[0]).toMatchObject({ verdict: 'reject', rejectWith: 'icmp6-adm-prohibited', endpoint: '[fd00:244::5]:22', source: '2001:db8::10' });
    expect(rs.stats.tables['v6/filter']).toEqual({ chains: 3, rules: 1 });
    expect(r.outcomes[0].path.map((s) => `${s.family} ${s.table}/${s.chain}`)).toEqual(['ip6 filter/FORWARD']);
  });

  test('the iproute2 node fields are read: an ip -j addr listing settles which addresses are the node own', () => {
    const plain = loadRuleset({ iptables: BASIC.iptables }, { engine: 'reference' });
    const ipAddr = JSON.stringify([{ ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.1.10', prefixlen: 24, scope: 'global' }] }]);
    const more = loadRuleset(
      { iptables: BASIC.iptables, nftables: 'table inet x {\n}\n', snapshot: { format: 'landfall-snapshot/1' }, node: { ipAddr, ipRoute: '[]', ipRule: '[]' } },
      { engine: 'reference' },
    );
    const q = { protocol: 'tcp' as const, destination: '10.96.100.1', port: 80 };
    // without the node's addresses, whether 10.96.100.1 is one of them is an assumption…
    expect(plain.explain(q).warnings.join()).toMatch(/node's addresses were not given/);
    // …with them it is settled, and every outcome is unconditional
    const r = more.explain(q);
    expect(r.warnings.join()).not.toMatch(/node's addresses were not given/);
    expect(r.outcomes.every((o) => o.assumes.length === 0)).toBe(true);
    expect(more.id).not.toBe(plain.id);
  });

  test('ipsets decide -m set; without the dump the same rule is uncertain', () => {
    const text = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m set --match-set BLOCKED src -j DROP\nCOMMIT\n';
    const sets = 'create BLOCKED hash:net family inet hashsize 1024 maxelem 65536\nadd BLOCKED 198.51.100.0/24\n';
    const node = { addresses: ['192.168.1.10'] };
    const withSets = loadRuleset({ iptables: text, ipsets: sets, node }, { engine: 'reference' });
    expect(withSets.stats).toMatchObject({ ipsets: 1, ipsetEntries: 1 });
    expect(withSets.explain({ protocol: 'tcp', destination: '10.0.0.1', port: 80, source: '198.51.100.9' }).outcomes.map((o) => o.verdict)).toEqual(['drop']);
    expect(withSets.explain({ protocol: 'tcp', destination: '10.0.0.1', port: 80, source: '198.51.101.9' }).outcomes.map((o) => o.verdict)).toEqual(['accept']);
    const without = loadRuleset({ iptables: text, node }, { engine: 'reference' }).explain({ protocol: 'tcp', destination: '10.0.0.1', port: 80 });
    expect(without.outcomes.map((o) => [o.verdict, o.probability, o.assumes])).toEqual([
      ['drop', 1, [{ line: 5, condition: '203.0.113.10 in set BLOCKED (src)', holds: true }]],
      ['accept', 1, [{ line: 5, condition: '203.0.113.10 in set BLOCKED (src)', holds: false }]],
    ]);
    expect(without.uncertain[0]).toMatchObject({ line: 5 });
  });

  test('ipvs: the dump is parsed and its virtual addresses become node-local', () => {
    const rs = loadRuleset({ iptables: fx('ipvs-mode.txt'), ipvs: fx('ipvs-mode.ipvs'), node: NODE }, { engine: 'reference' });
    expect(rs.stats).toMatchObject({ ipvsServices: 4, ipvsRealServers: 4 });
    expect(rs.explain({ protocol: 'tcp', destination: '10.96.0.1', port: 443 }).outcomes.map((o) => o.endpoint)).toEqual(['192.168.1.20:6443', '192.168.1.21:6443']);
  });
});

describe('both engines give the same answers', () => {
  const cases: [string, RulesetBundle, Query[]][] = [
    [
      'kube-basic',
      BASIC,
      [
        { protocol: 'tcp', destination: '10.96.100.1', port: 80 },
        { protocol: 'tcp', destination: '10.96.100.1', port: 80, origin: 'pod', source: '10.244.0.5' },
        { protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'host' },
        { protocol: 'tcp', destination: '192.168.1.10', port: 30080 },
        { protocol: 'tcp', destination: '192.168.1.10', port: 30099 },
        { protocol: 'tcp', destination: '10.96.50.50', port: 80, origin: 'pod' },
        { protocol: 'tcp', destination: '10.96.100.1', port: 80, state: 'ESTABLISHED' },
        { protocol: 'icmp', destination: '8.8.8.8', origin: 'pod' },
      ],
    ],
    [
      'affinity',
      { iptables: fx('kube-affinity.txt'), node: NODE },
      [
        { protocol: 'tcp', destination: '10.96.7.7', port: 80, origin: 'pod' },
        { protocol: 'tcp', destination: '10.96.7.7', port: 80, origin: 'pod', recent: [{ name: 'KUBE-SEP-A', address: '10.244.0.2' }] },
      ],
    ],
    ['hooks', { iptables: fx('hooks.txt'), node: NODE }, [{ protocol: 'tcp', destination: '192.168.1.10', port: 80, origin: 'host' }]],
    [
      'ipvs',
      { iptables: fx('ipvs-mode.txt'), ipvs: fx('ipvs-mode.ipvs'), node: NODE },
      [
        { protocol: 'tcp', destination: '10.96.0.1', port: 443 },
        { protocol: 'tcp', destination: '10.96.0.99', port: 80, origin: 'host' },
        { protocol: 'tcp', destination: '10.96.0.50', port: 80 },
        { protocol: 'tcp', destination: '10.96.0.60', port: 80 },
      ],
    ],
  ];
  test.each(cases)('%s', (_name, bundle, queries) => {
    const ref = loadRuleset(bundle, { engine: 'reference' });
    const wasm = loadRuleset(bundle, { engine: 'wasm' });
    expect(wasm.id).toBe(ref.id);
    for (const q of queries) expect(wasm.explain(q)).toEqual(ref.explain(q));
    const batch = Array.from({ length: 40 }, (_, i) => queries[i % queries.length]);
    expect(wasm.trace(batch, { seed: 11 })).toEqual(ref.trace(batch, { seed: 11 }));
  });
});
