// The WASM engine on its own terms: hand-computed answers, every golden dump against the
// reference, session affinity across a trace batch, the IPVS host path, typed errors.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { createWasmEngine, WasmWalkError } from '../../src/engine/wasm.js';
import { formatAddr } from '../../src/model/addr.js';
import type { Chain, FamilyRules, Rule } from '../../src/model/rule.js';
import type { Query } from '../../src/model/contracts.js';
import { numberRules, type Ruleset } from '../../src/model/ruleset.js';
import { resolveNode } from '../../src/engine/packet.js';
import { parseIpvs } from '../../src/parse/ipvs.js';
import { buildRs, fixture } from './build.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };

describe('hand-computed walks', () => {
  const rs = buildRs(
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':SVC - [0:0]',
      '-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j SVC',
      '-A SVC -m statistic --mode random --probability 0.25000000000 -j DNAT --to-destination 10.244.1.5:8080',
      '-A SVC -j DNAT --to-destination 10.244.2.6:8080',
      '-A POSTROUTING -s 203.0.113.0/24 -j MASQUERADE',
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD DROP [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A FORWARD -d 10.244.2.6/32 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
    { node: NODE },
  );
  const wasm = createWasmEngine(rs);
  const { pkt } = resolveQuery({ protocol: 'tcp', destination: '10.96.0.10', port: 80 }, rs.node);

  test('branch 0 of the statistic: DNAT to the first endpoint, then FORWARD policy DROP', () => {
    const r = wasm.walk(pkt, [0]);
    expect(r.verdict).toBe('drop');
    expect(`${formatAddr(r.dst)}:${r.dport}`).toBe('10.244.1.5:8080');
    expect(r.decisions).toEqual([{ probs: [0.25, 0.75], taken: 0 }]);
    // PREROUTING:1, SVC:1, then FORWARD:1 (no match) → policy
    expect(r.rulesEvaluated).toBe(3);
    expect(r.path.map((s) => s.kind)).toEqual(['rule', 'rule', 'policy']);
  });

  test('branch 1: the second endpoint is accepted and masqueraded to the pods bridge address', () => {
    const r = wasm.walk(pkt, [1]);
    expect(r.verdict).toBe('accept');
    expect(`${formatAddr(r.dst)}:${r.dport}`).toBe('10.244.2.6:8080');
    expect(r.masquerade).toBe(true);
    // leaves on cni0 (an exact name): the kernel takes cni0's address, the pod CIDR's gateway
    expect(formatAddr(r.src)).toBe('10.244.0.1');
    expect(r.outIface).toBe('cni0');
    expect(r.rulesEvaluated).toBe(5);
  });

  test('explain merges to 0.25 drop / 0.75 accept', () => {
    const e = explain(rs, wasm, { protocol: 'tcp', destination: '10.96.0.10', port: 80 });
    expect(e.outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['accept', 0.75],
      ['drop', 0.25],
    ]);
  });

  test('a forced branch out of range is a typed error', () => {
    expect(() => wasm.walk(pkt, [5])).toThrow(WasmWalkError);
  });
});

describe('golden dumps: wasm = reference, explain JSON and every trace', () => {
  const ipvs = parseIpvs(fixture('ipvs-mode.ipvs'));
  const cases: [string, Ruleset][] = [
    ['kube-basic', buildRs(fixture('kube-basic.txt'), { node: NODE })],
    ['kube-affinity', buildRs(fixture('kube-affinity.txt'), { node: NODE })],
    ['hooks', buildRs(fixture('hooks.txt'), { node: NODE })],
    ['ipvs-mode', buildRs(fixture('ipvs-mode.txt'), { node: NODE, ipvs })],
  ];
  for (const [name, rs] of cases) {
    test(name, () => {
      const wasm = createWasmEngine(rs);
      const ref = createReferenceEngine(rs);
      // every address and port the dump names, from every origin
      const dsts = new Set<string>(['192.168.1.10', '8.8.8.8', '127.0.0.1']);
      const ports = new Set<number>([80, 53]);
      for (const r of rs.rules) {
        for (const m of r.matches) {
          if (m.kind === 'dst' && m.cidr.family === 4) dsts.add(formatAddr(m.cidr));
          if (m.kind === 'dport') ports.add(m.range.lo);
        }
      }
      for (const s of ipvs.services) if (s.addr) dsts.add(formatAddr(s.addr));
      const queries: Query[] = [];
      for (const d of dsts) for (const p of ports) for (const origin of ['external', 'pod', 'host'] as const) {
        queries.push({ protocol: 'tcp', destination: d, port: p, origin });
        queries.push({ protocol: 'udp', destination: d, port: p, origin, source: '10.244.9.9' });
      }
      for (const q of queries) expect(explain(rs, wasm, q), JSON.stringify(q)).toEqual(explain(rs, ref, q));
      const pkts = queries.map((q) => resolveQuery(q, rs.node).pkt);
      expect(wasm.trace([...pkts, ...pkts], 42)).toEqual(ref.trace([...pkts, ...pkts], 42));
      // IPVS scheduling and the ipsets run in wasm too: no walk is handed to the reference.
      expect(wasm.stats.hostWalks + wasm.stats.hostTraces).toBe(0);
    });
  }
});

describe('session affinity (recent) in a trace batch', () => {
  const rs = buildRs(fixture('kube-affinity.txt'), { node: NODE });
  test('later packets of the same client stick to the endpoint the first one set', () => {
    const wasm = createWasmEngine(rs);
    const ref = createReferenceEngine(rs);
    // the affinity service's cluster IP and port, from its KUBE-SERVICES rule
    const svc = rs.rules.find((r) => r.chain === 'KUBE-SERVICES' && r.matches.some((m) => m.kind === 'dst'))!;
    let destination = '';
    let port = 0;
    for (const m of svc.matches) {
      if (m.kind === 'dst') destination = formatAddr(m.cidr);
      if (m.kind === 'dport') port = m.range.lo;
    }
    const q: Query = { protocol: 'tcp', destination, port, origin: 'pod', source: '10.244.5.5' };
    const pkt = resolveQuery(q, rs.node).pkt;
    const batch = Array.from({ length: 50 }, () => pkt);
    const t = wasm.trace(batch, 9);
    expect(t).toEqual(ref.trace(batch, 9));
    expect(new Set(t.map((r) => `${formatAddr(r.dst)}:${r.dport}`)).size).toBe(1);
    expect(wasm.stats.hostTraces).toBe(0);
  });
});

describe('typed errors', () => {
  test('a jump loop the parser would have refused hits the depth guard', () => {
    const mk = (name: string, target: string): Chain => ({
      name,
      builtin: false,
      line: 1,
      rules: [{ line: 2, text: `-A ${name} -j ${target}`, table: 'filter', chain: name, index: 1, matches: [], target: { kind: 'jump', chain: target }, family: 4 } as Rule],
    });
    const fwd: Chain = { name: 'FORWARD', builtin: true, policy: 'ACCEPT', line: 1, rules: [{ line: 3, text: '-A FORWARD -j A', table: 'filter', chain: 'FORWARD', index: 1, matches: [], target: { kind: 'jump', chain: 'A' }, family: 4 }] };
    const fr: FamilyRules = { family: 4, tables: new Map([['filter', { name: 'filter', family: 4, line: 1, chains: new Map([['FORWARD', fwd], ['A', mk('A', 'B')], ['B', mk('B', 'A')]]) }]]) };
    const rs: Ruleset = { v4: fr, ipsets: { sets: new Map(), supplied: false }, node: resolveNode(NODE), warnings: [], ...numberRules(fr, undefined) };
    const { pkt } = resolveQuery({ protocol: 'tcp', destination: '10.244.1.1', port: 80 }, rs.node);
    expect(() => createWasmEngine(rs).walk(pkt, [])).toThrow(/nesting deeper than 1024/);
    expect(() => createReferenceEngine(rs).walk(pkt, [])).toThrow(/deeper than 1024/);
  });
});
