// One netfilter (SEMANTICS.md "Hooks and base chains"): nft base chains beside iptables tables,
// walked by priority on each hook; nat chains as one group at the NAT core's priority, the first
// that maps wins; accept ends only its own base chain; equal priorities are unknown conditions.
// Every expectation is checked on both engines (their explain answers must be identical).

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { createWasmEngine } from '../../src/engine/wasm.js';
import { resolveNode } from '../../src/engine/packet.js';
import { addNftChain, addNftRule, nftTable, type BaseChainSpec, type NftTable } from '../../src/model/hooks.js';
import { parseAddr, parseCidr } from '../../src/model/addr.js';
import type { ExplainResult, Query } from '../../src/model/contracts.js';
import type { Match, Target } from '../../src/model/rule.js';
import { numberRules, type Ruleset } from '../../src/model/ruleset.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import { compareAllWalks } from './differential-support.js';
import { resolveQuery } from '../../src/engine/packet.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };

function rsOf(iptables: string, nft: NftTable[]): Ruleset {
  const d = parseIptablesSave(iptables);
  return {
    v4: d.v4,
    ipsets: { sets: new Map(), supplied: false },
    node: resolveNode(NODE),
    warnings: [],
    nft,
    ...numberRules(d.v4, undefined, nft),
  };
}

let line = 1000;
const dst = (c: string): Match => ({ kind: 'dst', invert: false, cidr: parseCidr(c)! });
const tcp: Match = { kind: 'proto', invert: false, proto: 6 };
const dnat = (to: string): Target => ({ kind: 'DNAT', ranges: [{ lo: parseAddr(to)!, hi: parseAddr(to)! }], random: false, persistent: false });

/** An nft chain with rules [matches, target] in a fresh or given table. */
function chain(t: NftTable, name: string, base: (BaseChainSpec & { policy?: 'ACCEPT' | 'DROP' }) | undefined, rules: [Match[], Target | null, number?][]) {
  const c = addNftChain(t, { name, line: line++, base });
  for (const [matches, target, evalCost] of rules) {
    addNftRule(t, c, { line: line++, text: `${name} rule ${c.rules.length + 1}`, matches, target, ...(evalCost !== undefined ? { evalCost } : {}) });
  }
  return c;
}

/** explain on both engines; they must agree answer for answer. */
function both(rs: Ruleset, q: Query): ExplainResult {
  const ref = explain(rs, createReferenceEngine(rs), q);
  const wasmEngine = createWasmEngine(rs);
  expect(explain(rs, wasmEngine, q)).toEqual(ref);
  expect(wasmEngine.stats.hostWalks).toBe(0);
  // and walk for walk, record for record
  compareAllWalks(createReferenceEngine(rs), wasmEngine, resolveQuery(q, rs.node).pkt);
  return ref;
}

const pathOf = (r: ExplainResult, i = 0) => r.outcomes[i].path.map((s) => `${s.table}/${s.chain}${s.policy ? ':' + s.policy : ''}`);

const IPT_NAT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -j DNAT --to-destination 10.244.1.1:80
-A OUTPUT -d 10.96.0.10/32 -p tcp -j DNAT --to-destination 10.244.1.1:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.244.9.9/32 -j DROP
COMMIT
`;
const SVC: Query = { protocol: 'tcp', destination: '10.96.0.10', port: 80 };

describe('nat base chains: one group at the NAT core, the first that maps wins', () => {
  test('a foreign nat chain at −150 DNATs first: iptables nat (−100) never runs', () => {
    const t = nftTable('ip', 'foreign', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'nat', priority: -150 }, [[[dst('10.96.0.10/32'), tcp], dnat('10.244.2.2')]]);
    const r = both(rsOf(IPT_NAT, [t]), SVC);
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0].endpoint).toBe('10.244.2.2:80');
    expect(pathOf(r)).toEqual(['foreign/pre', 'filter/FORWARD:ACCEPT']);
    expect(r.outcomes[0].rulesEvaluated).toBe(2);
    expect(r.uncertain).toEqual([]);
  });

  test('a foreign nat chain at −50 runs after iptables nat and is skipped once iptables mapped', () => {
    const t = nftTable('ip', 'foreign', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'nat', priority: -50 }, [[[dst('10.96.0.10/32'), tcp], dnat('10.244.2.2')]]);
    const rs = rsOf(IPT_NAT, [t]);
    const r = both(rs, SVC);
    expect(r.outcomes[0].endpoint).toBe('10.244.1.1:80');
    expect(pathOf(r)).toEqual(['nat/PREROUTING', 'filter/FORWARD:ACCEPT']);
    // a destination iptables nat does not map: the −50 chain gets its turn
    const other = both(rs, { ...SVC, destination: '10.96.0.11' });
    expect(other.outcomes[0].endpoint).toBe('10.96.0.11:80');
    expect(pathOf(other)).toEqual(['nat/PREROUTING:ACCEPT', 'foreign/pre:ACCEPT', 'filter/FORWARD:ACCEPT']);
    expect(other.outcomes[0].rulesEvaluated).toBe(3);
  });

  test('nat chains run at −100 whatever their own priority: filter −120 sees the original, filter −90 the new destination', () => {
    const t = nftTable('ip', 't', 1);
    chain(t, 'natout', { hook: 'output', type: 'nat', priority: -150 }, [[[dst('10.1.1.1/32'), tcp], dnat('10.2.2.2')]]);
    chain(t, 'filt', { hook: 'output', type: 'filter', priority: -120 }, [[[dst('10.1.1.1/32')], null], [[dst('10.2.2.2/32')], null]]);
    chain(t, 'filt2', { hook: 'output', type: 'filter', priority: -90 }, [[[dst('10.1.1.1/32')], null], [[dst('10.2.2.2/32')], null]]);
    const r = both(rsOf('', [t]), { protocol: 'tcp', destination: '10.1.1.1', port: 80, origin: 'host' });
    expect(r.outcomes[0].path.filter((s) => !s.policy).map((s) => `${s.chain} ${s.rule}`)).toEqual(['filt filt rule 1', 'natout natout rule 1', 'filt2 filt2 rule 2']);
    expect(r.outcomes[0].endpoint).toBe('10.2.2.2:80');
  });

  test('nat chains see only a connection\'s first packet', () => {
    const t = nftTable('ip', 'foreign', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'nat', priority: -150 }, [[[dst('10.96.0.10/32'), tcp], dnat('10.244.2.2')]]);
    const r = both(rsOf(IPT_NAT, [t]), { ...SVC, state: 'ESTABLISHED' });
    expect(r.outcomes[0].endpoint).toBe('10.96.0.10:80');
    expect(pathOf(r)).toEqual(['filter/FORWARD:ACCEPT']);
  });

  test('REDIRECT in an nft nat output chain goes to loopback', () => {
    const t = nftTable('ip', 't', 1);
    chain(t, 'out', { hook: 'output', type: 'nat', priority: -100 }, [[[dst('10.96.0.10/32')], { kind: 'REDIRECT', random: false, ports: { lo: 8080, hi: 8080 } }]]);
    const r = both(rsOf('', [t]), { ...SVC, origin: 'host' });
    expect(r.outcomes[0].endpoint).toBe('127.0.0.1:8080');
  });
});

describe('verdicts across base chains', () => {
  test('accept ends only its own base chain: a later drop still drops', () => {
    const t = nftTable('inet', 'early', 1);
    chain(t, 'in', { hook: 'forward', type: 'filter', priority: -200 }, [[[], { kind: 'ACCEPT' }]]);
    const r = both(rsOf(IPT_NAT, [t]), { protocol: 'tcp', destination: '10.244.9.9', port: 80 });
    expect(r.outcomes[0].verdict).toBe('drop');
    expect(pathOf(r)).toEqual(['nat/PREROUTING:ACCEPT', 'early/in', 'filter/FORWARD']);
  });

  test('drop ends the packet: later base chains are not walked', () => {
    const t = nftTable('ip', 'early', 1);
    chain(t, 'fwd', { hook: 'forward', type: 'filter', priority: -200 }, [[[dst('10.244.0.0/16')], { kind: 'DROP' }]]);
    const r = both(rsOf(IPT_NAT, [t]), { protocol: 'tcp', destination: '10.244.9.9', port: 80 });
    expect(r.outcomes[0].verdict).toBe('drop');
    expect(pathOf(r)).toEqual(['nat/PREROUTING:ACCEPT', 'early/fwd']);
    expect(r.outcomes[0].rulesEvaluated).toBe(2);
  });

  test('return at a base chain\'s top is its policy; an nft policy step shows the chain\'s own text', () => {
    const t = nftTable('ip', 'fw', 1);
    const c = addNftChain(t, { name: 'input', line: 7, base: { hook: 'input', type: 'filter', priority: 0, policy: 'DROP' }, policyText: 'type filter hook input priority filter; policy drop;' });
    addNftRule(t, c, { line: 8, text: 'tcp dport 22 accept', matches: [tcp, { kind: 'dport', invert: false, range: { lo: 22, hi: 22 } }], target: { kind: 'ACCEPT' } });
    addNftRule(t, c, { line: 9, text: 'return', matches: [], target: { kind: 'RETURN' } });
    const rs = rsOf('', [t]);
    const r = both(rs, { protocol: 'tcp', destination: '192.168.1.10', port: 80 });
    expect(r.outcomes[0].verdict).toBe('drop');
    expect(r.outcomes[0].path.at(-1)).toEqual({ family: 'ip', table: 'fw', chain: 'input', line: 7, rule: 'type filter hook input priority filter; policy drop;', policy: 'DROP' });
    expect(both(rs, { protocol: 'tcp', destination: '192.168.1.10', port: 22 }).outcomes[0].verdict).toBe('accept');
  });

  test('an inet table\'s base chain serves both families', () => {
    const t = nftTable('inet', 'both', 1);
    chain(t, 'in', { hook: 'input', type: 'filter', priority: 0, policy: 'DROP' }, []);
    const rs = rsOf('', [t]);
    expect(rs.registrations.map((g) => `${g.family} ${g.hook} ${g.priority} ${g.source}`)).toEqual(['4 input 0 nft', '6 input 0 nft']);
    rs.node = resolveNode({ addresses: ['192.168.1.10', 'fd00::10'] });
    expect(both(rs, { protocol: 'tcp', destination: '192.168.1.10', port: 22 }).outcomes[0].verdict).toBe('drop');
    expect(both(rs, { protocol: 'tcp', destination: 'fd00::10', port: 22 }).outcomes[0].verdict).toBe('drop');
  });

  test('an inet rule `ip saddr != 10.0.0.0/8 drop` (nfproto ipv4 first) drops IPv4 only', () => {
    const t = nftTable('inet', 'fw', 1);
    chain(t, 'in', { hook: 'input', type: 'filter', priority: 0 }, [[[{ kind: 'nfproto', invert: false, family: 4 }, { kind: 'src', invert: true, cidr: parseCidr('10.0.0.0/8')! }], { kind: 'DROP' }]]);
    const rs = rsOf('', [t]);
    rs.node = resolveNode({ addresses: ['192.168.1.10', 'fd00::10'] });
    expect(both(rs, { protocol: 'tcp', destination: '192.168.1.10', port: 22, source: '203.0.113.10' }).outcomes[0].verdict).toBe('drop');
    expect(both(rs, { protocol: 'tcp', destination: '192.168.1.10', port: 22, source: '10.1.2.3' }).outcomes[0].verdict).toBe('accept');
    expect(both(rs, { protocol: 'tcp', destination: 'fd00::10', port: 22, source: 'fd00::99' }).outcomes[0].verdict).toBe('accept');
  });

  test('rulesEvaluated sums evalCost (rules lowered from one nft rule count once)', () => {
    const t = nftTable('ip', 'kp', 1);
    chain(t, 'fwd', { hook: 'forward', type: 'filter', priority: 0 }, [
      [[dst('10.0.0.1/32')], { kind: 'DROP' }],
      [[dst('10.0.0.2/32')], { kind: 'DROP' }, 0],
      [[dst('10.0.0.3/32')], { kind: 'DROP' }, 0],
      [[dst('10.0.0.4/32')], null],
    ]);
    const r = both(rsOf('', [t]), { protocol: 'tcp', destination: '10.244.1.1', port: 80 });
    expect(r.outcomes[0].rulesEvaluated).toBe(2);
  });
});

describe('equal priorities: registration order is an unknown condition', () => {
  test('an nft filter chain at 0 beside iptables filter: both orders, each named', () => {
    const t = nftTable('ip', 'kp', 1);
    chain(t, 'forward', { hook: 'forward', type: 'filter', priority: 0 }, [[[dst('10.244.9.9/32')], { kind: 'REJECT', with: 'icmp-port-unreachable' }]]);
    const r = both(rsOf(IPT_NAT, [t]), { protocol: 'tcp', destination: '10.244.9.9', port: 80 });
    expect(r.outcomes.map((o) => o.verdict).sort()).toEqual(['drop', 'reject']);
    expect(r.uncertain).toHaveLength(1);
    expect(r.uncertain[0].rule).toBe('ip filter chain FORWARD runs before ip kp chain forward');
    expect(r.uncertain[0].reason).toContain('at priority 0 on the forward hook');
    const drop = r.outcomes.find((o) => o.verdict === 'drop')!;
    expect(drop.assumes.map((a) => a.holds)).toEqual([true]);
  });

  test('an empty accept-policy chain makes no tie', () => {
    const t = nftTable('ip', 'kp', 1);
    chain(t, 'forward', { hook: 'forward', type: 'filter', priority: 0 }, []);
    const r = both(rsOf(IPT_NAT, [t]), { protocol: 'tcp', destination: '10.244.9.9', port: 80 });
    expect(r.uncertain).toEqual([]);
    expect(r.outcomes).toHaveLength(1);
  });

  test('three chains at one priority: each of the 6 orders exactly once', () => {
    const t = nftTable('ip', 'm', 1);
    for (const n of ['a', 'b', 'c']) chain(t, n, { hook: 'forward', type: 'filter', priority: 10 }, [[[], { kind: 'MARK', op: { value: n.charCodeAt(0), mask: 0 } }]]);
    const rs = rsOf('', [t]);
    const engine = createReferenceEngine(rs);
    const pkt = resolveQuery({ protocol: 'tcp', destination: '10.244.1.1', port: 80 }, rs.node).pkt;
    const orders: string[] = [];
    // enumerate like explain: depth-first over the decisions
    const stack: number[][] = [[]];
    while (stack.length) {
      const forced = stack.pop()!;
      const w = engine.walk(pkt, forced);
      orders.push(w.path.map((s) => (s.kind === 'rule' ? rs.rules[s.rule].chain : '')).join(''));
      for (let i = w.decisions.length - 1; i >= forced.length; i--) stack.push([...w.decisions.slice(0, i).map((d) => d.taken), 1]);
      expect(w.assumptions.every((u) => u.order !== undefined && u.rule === -1)).toBe(true);
    }
    expect(orders.sort()).toEqual(['abc', 'acb', 'bac', 'bca', 'cab', 'cba']);
    compareAllWalks(engine, createWasmEngine(rs), pkt);
  });

  test('nat chains of one own priority tie inside the nat group; the winner maps', () => {
    const t = nftTable('ip', 'other', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'nat', priority: -100 }, [[[dst('10.96.0.10/32'), tcp], dnat('10.244.2.2')]]);
    const r = both(rsOf(IPT_NAT, [t]), SVC);
    expect(r.outcomes.map((o) => o.endpoint).sort()).toEqual(['10.244.1.1:80', '10.244.2.2:80']);
    expect(r.uncertain.map((u) => u.rule)).toEqual(['ip nat chain PREROUTING runs before ip other chain pre']);
    expect(r.uncertain[0].reason).toContain('at priority -100 on the prerouting hook');
  });

  test('a filter chain at the NAT core priority ties with the whole nat group', () => {
    const t = nftTable('ip', 'f', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'filter', priority: -100 }, [[[dst('10.244.1.1/32')], { kind: 'DROP' }]]);
    const r = both(rsOf(IPT_NAT, [t]), SVC);
    // filter first: sees 10.96.0.10 and lets it pass; nat first: the DNATed packet is dropped
    expect(r.outcomes.map((o) => o.verdict).sort()).toEqual(['accept', 'drop']);
    expect(r.uncertain.map((u) => u.rule)).toEqual(['ip f chain pre runs before ip nat chain PREROUTING']);
    expect(r.uncertain[0].reason).toContain('at priority -100 on the prerouting hook');
  });

  test('non-NEW packets: the nat group is not walked, so it makes no tie', () => {
    const t = nftTable('ip', 'f', 1);
    chain(t, 'pre', { hook: 'prerouting', type: 'filter', priority: -100 }, [[[dst('10.244.1.1/32')], { kind: 'DROP' }]]);
    const r = both(rsOf(IPT_NAT, [t]), { ...SVC, state: 'ESTABLISHED' });
    expect(r.uncertain).toEqual([]);
  });
});
