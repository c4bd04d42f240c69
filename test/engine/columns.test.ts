// Columnar batch trace equals trace() packet for packet — same PRNG stream, same order — on both
// engines, on the shared compiled form, for IPv4 and IPv6 nodes and every origin.
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { EXAMPLES_DIR, readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import { loadRuleset } from '../../src/ruleset.js';
import type { RulesetBundle } from '../../src/model/contracts.js';
import { compileShared, openSharedRuleset } from '../../src/shared-ruleset.js';
import { allocResults, columnsOf, resultAt } from '../../src/engine/columns.js';
import { QueryError } from '../../src/engine/packet.js';
import { formatAddr } from '../../src/model/addr.js';
import type { Query } from '../../src/model/contracts.js';
import { COLS } from '../../src/compile/layout.js';
import type { WasmEngine } from '../../src/engine/wasm.js';

function packets(rs: ReturnType<typeof loadRuleset>, repeat: number): Query[] {
  const node = rs.ruleset.node;
  const fam = (ip: string) => (ip.includes(':') ? 6 : 4);
  const nodeAddr = (f: 4 | 6) => node.addresses.find((a) => a.family === f);
  const podSrc = (f: 4 | 6) => (f === 4 ? '10.244.1.7' : 'fd00:10:244:1::7');
  const out: Query[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const s of rs.services()) {
      if (!s.clusterIP) continue;
      const f = fam(s.clusterIP);
      const host = nodeAddr(f);
      out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', source: podSrc(f), sourcePort: 30000 + r });
      if (host) out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'host', source: formatAddr(host), sourcePort: 31000 + r });
      if (s.nodePort !== undefined && host) {
        out.push({ protocol: s.protocol, destination: formatAddr(host), port: s.nodePort, origin: 'external', source: f === 4 ? '203.0.113.9' : '2001:db8:9::9', sourcePort: 32000 + r });
      }
    }
  }
  const v6 = rs.ruleset.node.addresses.every((a) => a.family === 6) && rs.services().every((s) => !s.clusterIP || s.clusterIP.includes(':'));
  out.push({ protocol: 'icmp', destination: v6 ? '2001:db8::1' : '8.8.8.8', origin: 'pod', source: podSrc(v6 ? 6 : 4) });
  out.push({ protocol: 'udp', destination: v6 ? '2001:db8::1' : '1.1.1.1', port: 53, origin: 'pod', source: podSrc(v6 ? 6 : 4), sourcePort: 5353 });
  return out;
}

function check(name: string, bundle: RulesetBundle, repeat = 3): void {
  test(`${name}: columns equal trace() on both engines and on the shared form`, () => {
    const wasm = loadRuleset(bundle);
    const ref = loadRuleset(bundle, { engine: 'reference' });
    const shared = openSharedRuleset(compileShared(bundle).shared);
    const qs = packets(wasm, repeat);
    expect(qs.length).toBeGreaterThan(5);
    const cols = columnsOf(qs);
    const want = wasm.trace(qs, { seed: 9 });
    for (const rs of [wasm, ref, shared]) {
      const res = rs.traceColumns(cols, { seed: 9 });
      const got = qs.map((_, k) => resultAt(res, cols, k));
      expect(got).toEqual(want.map(({ verdict, endpoint, masquerade, source, rulesEvaluated }) => ({ verdict, endpoint, masquerade, source, rulesEvaluated })));
    }
  });
}

describe('traceColumns', () => {
  const g = generateIptables({ services: 50, endpoints: 4, seed: 21 });
  check('generated 50 services', { iptables: g.text, node: g.node }, 4);
  for (const name of ['kube-node', 'ipv6-node', 'ipvs-node', 'eks-node']) check(`example ${name}`, readNodeDir(join(EXAMPLES_DIR, name))!);

  test('more packets than one wasm call takes (COLS), mixed families, protocols and origins: one PRNG stream, equal to trace() in the wasm', () => {
    const v6 = readNodeDir(join(EXAMPLES_DIR, 'ipv6-node'))!;
    for (const bundle of [{ iptables: g.text, node: g.node }, v6]) {
      const rs = loadRuleset(bundle);
      const one = packets(rs, 1);
      const qs: Query[] = [];
      for (let r = 0; qs.length < 2 * COLS + 123; r++) for (const q of one) qs.push(q.protocol === 'icmp' ? q : { ...q, sourcePort: (r * 7919 + qs.length) % 65536 });
      const cols = columnsOf(qs);
      const want = rs.trace(qs, { seed: 77 });
      const res = rs.traceColumns(cols, { seed: 77 });
      expect((rs.engine as WasmEngine).stats.hostTraces).toBe(0); // the columnar walk answered, not the fallback
      const got = qs.map((_, k) => resultAt(res, cols, k));
      expect(got).toEqual(want.map(({ verdict, endpoint, masquerade, source, rulesEvaluated }) => ({ verdict, endpoint, masquerade, source, rulesEvaluated })));
      // the random branches were taken differently across packets of one service (a stream, not one draw)
      expect(new Set(got.map((r) => r.endpoint)).size).toBeGreaterThan(one.length / 2);
    }
  });

  test('a malformed column is a QueryError naming the packet and field', () => {
    const rs = loadRuleset({ iptables: g.text, node: g.node });
    const cols = columnsOf([{ protocol: 'tcp', destination: '10.96.0.1', port: 443, source: '10.244.0.5', origin: 'pod' }]);
    cols.origin[0] = 7;
    expect(() => rs.traceColumns(cols)).toThrow(QueryError);
    expect(() => rs.traceColumns(cols)).toThrow(/origin/);
    const short = { ...cols, dport: new Uint16Array(0) };
    expect(() => rs.traceColumns(short)).toThrow(/one entry per packet/);
    cols.origin[0] = 1;
    expect(() => rs.traceColumns(cols, { out: allocResults(0) })).toThrow(/fewer than 1 packets/);
  });
});
