// Random cascades (src/compile/runs.ts buildCascades, assembly/walk.ts): a sampled walk draws
// through consecutive random-only rules reading their thresholds as one stride of the ops. Same
// draws, counts and answers as evaluating every rule — including a cascade left and re-entered in
// the middle (a jump that returns), one that ends without a hit, and batches whose packets differ
// in everything (no state leaks from one packet's walk into the next).
import { describe, expect, test } from 'vitest';
import { loadRuleset } from '../../src/ruleset.js';
import { compileRuleset } from '../../src/engine/wasm.js';
import { ruleRecords } from '../../src/compile/compile.js';
import { columnsOf, resultAt } from '../../src/engine/columns.js';
import * as L from '../../src/compile/layout.js';
import type { Query } from '../../src/model/contracts.js';
import type { WasmEngine } from '../../src/engine/wasm.js';

const rnd = (p: string) => `-m statistic --mode random --probability ${p}`;
const DUMP = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:SVC2 - [0:0]
:BACK - [0:0]
:SEP-A - [0:0]
:SEP-B - [0:0]
:SEP-C - [0:0]
:MASQ - [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j SVC
-A PREROUTING -d 10.96.0.11/32 -j SVC2
-A OUTPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j SVC
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
-A SVC ${rnd('0.25000000000')} -j MARK --set-xmark 0x1/0x1
-A SVC ${rnd('0.50000000000')} -j BACK
-A SVC -m comment --comment "ep a" ${rnd('0.33333333349')} -j SEP-A
-A SVC ${rnd('0.50000000000')} -j SEP-B
-A SVC -j SEP-C
-A SVC2 ${rnd('0.10000000000')} -j SEP-A
-A SVC2 ${rnd('0.10000000000')} -j SEP-B
-A SVC2 -p udp -j SEP-C
-A BACK -j MASQ
-A BACK -j RETURN
-A MASQ -j MARK --set-xmark 0x4000/0x4000
-A SEP-A -p tcp -j DNAT --to-destination 10.244.0.2:8080
-A SEP-B -p tcp -j DNAT --to-destination 10.244.0.3:8080
-A SEP-C -p tcp -j DNAT --to-destination 10.244.0.4:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m mark --mark 0x1/0x1 -j DROP
-A FORWARD -d 10.244.0.4/32 -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-port-unreachable
COMMIT
`;
const NODE = { addresses: ['192.168.0.10'], podCIDRs: ['10.244.0.0/24'] };

/** A batch mixing everything: services with and without a cascade hit, misses, udp, icmp, host and external origins. */
function mixed(n: number): Query[] {
  const kinds: Query[] = [
    { protocol: 'tcp', destination: '10.96.0.10', port: 80, origin: 'pod', source: '10.244.0.7' },
    { protocol: 'tcp', destination: '10.96.0.11', port: 80, origin: 'pod', source: '10.244.0.8' },
    { protocol: 'udp', destination: '10.96.0.11', port: 53, origin: 'external', source: '203.0.113.5' },
    { protocol: 'tcp', destination: '10.96.0.10', port: 80, origin: 'host', source: '192.168.0.10' },
    { protocol: 'icmp', destination: '10.96.0.11', origin: 'pod', source: '10.244.0.9' },
    { protocol: 'tcp', destination: '10.96.0.12', port: 80, origin: 'pod', source: '10.244.0.7' },
  ];
  return Array.from({ length: n }, (_, i) => {
    const q = kinds[(i * 7 + (i >> 3)) % kinds.length]!;
    return q.protocol === 'icmp' ? q : { ...q, sourcePort: 1024 + i };
  });
}

const fields = ({ verdict, endpoint, masquerade, source, rulesEvaluated }: { verdict: string; endpoint: string; masquerade: boolean; source: string; rulesEvaluated: number }) => ({ verdict, endpoint, masquerade, source, rulesEvaluated });

describe('random cascades', () => {
  const bundle = { iptables: DUMP, node: NODE };
  const wasm = loadRuleset(bundle);
  const ref = loadRuleset(bundle, { engine: 'reference' });

  test('consecutive random-only rules of one chain with their ops end to end are a cascade; another match or a target block ends it', () => {
    const c = compileRuleset(wasm.ruleset);
    const w = c.words;
    const recs = ruleRecords(w);
    const cascade = wasm.ruleset.rules.flatMap((r, id) => ((w[recs[id]! + L.R_META]! & L.RF_CASCADE) !== 0 ? [`${r.chain} ${r.index}`] : []));
    // SVC 1's MARK block lies between its record and the next rule's: the cascade starts after it
    expect(cascade).toEqual(['SVC 2', 'SVC 3', 'SVC 4', 'SVC2 1', 'SVC2 2']);
    // each cascade rule knows how many cascade rules follow from it; the records lie one stride apart
    const sv = wasm.ruleset.rules.findIndex((r) => r.chain === 'SVC' && r.index === 2);
    expect([0, 1, 2].map((k) => w[recs[sv + k]! + L.RULE_WORDS + L.RANDOM_OP_WORDS])).toEqual([3, 2, 1]);
    expect([1, 2].map((k) => recs[sv + k]! - recs[sv]!)).toEqual([L.CASCADE_WORDS, 2 * L.CASCADE_WORDS]);
    const t = recs[sv]! + L.RULE_WORDS + 1;
    expect([w[t], w[t + 2 * L.CASCADE_WORDS]]).toEqual([2 ** 30, 2 ** 30]); // 0.5 of 2^31 each
  });

  test('trace and traceColumns equal the reference walk on mixed batches, over many seeds', () => {
    const qs = mixed(600);
    const cols = columnsOf(qs);
    const endpoints = new Set<string>();
    for (let seed = 1; seed <= 25; seed++) {
      const want = ref.trace(qs, { seed }).map(fields);
      expect(wasm.trace(qs, { seed }).map(fields)).toEqual(want);
      const res = wasm.traceColumns(cols, { seed });
      expect(qs.map((_, k) => resultAt(res, cols, k))).toEqual(want);
      for (const r of want) endpoints.add(`${r.verdict} ${r.endpoint} ${r.masquerade}`);
    }
    expect((wasm.engine as WasmEngine).stats.hostTraces).toBe(0);
    // every branch of the cascades was taken: each endpoint, the mid-cascade MARK (dropped), the
    // jump that returns (masqueraded), and SVC2's cascade without a hit (udp: no DNAT)
    for (const want of ['accept 10.244.0.2:8080 false', 'accept 10.244.0.3:8080 false', 'reject 10.244.0.4:8080 false', 'accept 10.244.0.2:8080 true', 'accept 10.96.0.11:53 false']) {
      expect(endpoints).toContain(want);
    }
    expect([...endpoints].some((e) => e.startsWith('drop'))).toBe(true);
  });

  test('a packet explained alone (recorded walk, forced branches) still sees every cascade rule', () => {
    const q = mixed(1)[0]!;
    const a = wasm.explain(q);
    const b = ref.explain(q);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.outcomes.length).toBeGreaterThan(3);
  });
});

// A user's `iptables-save` lines for one Service with four endpoints, pasted as they were in a
// public transcript (a kubeadm worker, pods 10.244.0.0/16; found through the code search of public
// repositories): kube-proxy's ladder 1/4, 1/3, 1/2, rest, with the per-endpoint comments real
// kube-proxy writes. A headerless grep: loaded leniently (nat inferred; KUBE-MARK-MASQ missing).
const PASTED = `  -A KUBE-SEP-CISMZ23HQSZ6RDHC -p tcp -m comment --comment "s11-compare/web" -m tcp -j DNAT --to-destination 10.244.2.192:80
  -A KUBE-SEP-GGPFKOT3GZQELAAZ -p tcp -m comment --comment "s11-compare/web" -m tcp -j DNAT --to-destination 10.244.1.153:80
  -A KUBE-SEP-U5VXLVRUYKI2MYEE -p tcp -m comment --comment "s11-compare/web" -m tcp -j DNAT --to-destination 10.244.1.154:80
  -A KUBE-SEP-XJO4MPNWJDJWPIW3 -p tcp -m comment --comment "s11-compare/web" -m tcp -j DNAT --to-destination 10.244.2.191:80
  -A KUBE-SERVICES -d 10.96.99.252/32 -p tcp -m comment --comment "s11-compare/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-UOOQVBDHNTKI3TCP
  -A KUBE-SVC-UOOQVBDHNTKI3TCP ! -s 10.244.0.0/16 -d 10.96.99.252/32 -p tcp -m comment --comment "s11-compare/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
  -A KUBE-SVC-UOOQVBDHNTKI3TCP -m comment --comment "s11-compare/web -> 10.244.1.153:80" -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-GGPFKOT3GZQELAAZ
  -A KUBE-SVC-UOOQVBDHNTKI3TCP -m comment --comment "s11-compare/web -> 10.244.1.154:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-U5VXLVRUYKI2MYEE
  -A KUBE-SVC-UOOQVBDHNTKI3TCP -m comment --comment "s11-compare/web -> 10.244.2.191:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-XJO4MPNWJDJWPIW3
  -A KUBE-SVC-UOOQVBDHNTKI3TCP -m comment --comment "s11-compare/web -> 10.244.2.192:80" -j KUBE-SEP-CISMZ23HQSZ6RDHC
`;

describe('random cascades on a real kube-proxy paste', () => {
  // The grep left out the built-in chains' jump into KUBE-SERVICES; kube-proxy's own line restores it.
  const ENTRY = '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n';
  const bundle = { iptables: ENTRY + PASTED, node: { podCIDRs: ['10.244.1.0/24'] } };
  const wasm = loadRuleset(bundle, { lenient: true });
  const ref = loadRuleset(bundle, { lenient: true, engine: 'reference' });

  test('the three random rules (comments and all) are one cascade; sampled walks equal the reference', () => {
    const w = compileRuleset(wasm.ruleset).words;
    const recs = ruleRecords(w);
    const cascade = wasm.ruleset.rules.flatMap((r, id) => ((w[recs[id]! + L.R_META]! & L.RF_CASCADE) !== 0 ? [r.line] : []));
    expect(cascade).toEqual([8, 9, 10]);
    const q: Query = { protocol: 'tcp', destination: '10.96.99.252', port: 80, origin: 'pod', source: '10.244.1.20' };
    const qs = Array.from({ length: 400 }, (_, i) => ({ ...q, sourcePort: 2000 + i }));
    const cols = columnsOf(qs);
    const seen = new Map<string, number>();
    for (let seed = 1; seed <= 10; seed++) {
      const want = ref.trace(qs, { seed }).map(fields);
      expect(wasm.trace(qs, { seed }).map(fields)).toEqual(want);
      const res = wasm.traceColumns(cols, { seed });
      expect(qs.map((_, k) => resultAt(res, cols, k))).toEqual(want);
      for (const r of want) seen.set(r.endpoint, (seen.get(r.endpoint) ?? 0) + 1);
    }
    // every endpoint of the ladder is drawn, each about a quarter of the 4,000 packets
    expect([...seen.keys()].sort()).toEqual(['10.244.1.153:80', '10.244.1.154:80', '10.244.2.191:80', '10.244.2.192:80']);
    for (const n of seen.values()) expect(n).toBeGreaterThan(800);
  });
});
