// The compiled ruleset: header and flat ids, index runs over destination-keyed rules (first-match
// order and the kernel's linear rulesEvaluated kept), size on kube-proxy rule sets, shared buffers.

import { describe, expect, test } from 'vitest';
import * as L from '../../src/compile/layout.js';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { ruleRecords } from '../../src/compile/compile.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { Query } from '../../src/model/contracts.js';
import { buildRs } from '../engine/build.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };

/** A KUBE-SERVICES-like chain: n rules `-d 10.96.x.y -p tcp --dport 80|443 -j ACCEPT|MARK`, then a catch-all. */
function servicesDump(n: number): string {
  const rules: string[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `10.96.${(i >> 8) & 255}.${i & 255}`;
    // every 7th service has a second port: two candidates with the same key
    rules.push(`-A SVC -d ${ip}/32 -p tcp -m comment --comment "svc ${i}" -m tcp --dport 80 -j ${i % 5 === 0 ? 'MARKER' : 'ACCEPT'}`);
    if (i % 7 === 0) rules.push(`-A SVC -d ${ip}/32 -p tcp -m tcp --dport 443 -j DROP`);
  }
  rules.push('-A SVC -j REJECT --reject-with icmp-port-unreachable');
  return `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:SVC - [0:0]\n:MARKER - [0:0]\n-A FORWARD -j SVC\n${rules.join('\n')}\n-A MARKER -j MARK --set-xmark 0x1/0x1\nCOMMIT\n`;
}

describe('compileRuleset', () => {
  const rs = buildRs(servicesDump(2000), { node: NODE });
  const c = compileRuleset(rs);

  test('header, flat ids and section offsets', () => {
    const w = c.words;
    expect(w[L.H_MAGIC]).toBe(L.MAGIC);
    expect(w[L.H_NRULES]).toBe(rs.rules.length);
    expect(w[L.H_NCHAINS]).toBe(rs.chains.length);
    expect(w[L.H_TOTAL_WORDS]).toBe(w.length);
    // chain regions point at the model's rule ids, and their records span the region to the next one
    const regions: number[] = [];
    rs.chains.forEach(({ chain }, id) => {
      const at = w[L.H_CHAINS] + id;
      const region = w[at];
      regions.push(region);
      expect(w[region + L.C_COUNT]).toBe(chain.rules.length);
      expect(w[region + L.C_ID]).toBe(id);
      if (chain.rules.length) expect(w[region + L.C_FIRST]).toBe(rs.ruleIds.get(chain.rules[0]));
    });
    // every rule has its own record
    const recs = ruleRecords(w);
    expect(recs.every((r) => r > 0 && r < w.length)).toBe(true);
    expect(new Set(recs).size).toBe(recs.length);
  });

  test('chain regions follow the jump graph depth first; run records after the first lie before their target\'s region', () => {
    const gen = generateIptables({ services: 30, endpoints: 3, seed: 4 });
    const g = buildRs(gen.text, { node: gen.node });
    const cw = compileRuleset(g).words;
    const recs = ruleRecords(cw);
    const region = (name: string) => cw[cw[L.H_CHAINS] + g.chainIds.get(`4:nat:${name}`)!];
    let checked = 0;
    g.rules.forEach((r, id) => {
      if (r.table !== 'nat' || r.chain !== 'KUBE-SERVICES' || r.target?.kind !== 'jump' || !r.target.chain.startsWith('KUBE-SVC-')) return;
      if ((cw[recs[id] + L.R_META] & L.RF_RUN) === 0 || (cw[recs[id] + L.R_META] & L.RF_START) !== 0) return;
      // the record, then the service chain's region, then its endpoint chains
      const svc = region(r.target.chain);
      expect(recs[id] + cw[recs[id] + L.R_SIZE]).toBe(svc);
      const seps = g.chains[g.chainIds.get(`4:nat:${r.target.chain}`)!].chain.rules.flatMap((x) => (x.target?.kind === 'jump' && x.target.chain.startsWith('KUBE-SEP-') ? [region(x.target.chain)] : []));
      expect(seps.length).toBeGreaterThan(0);
      for (const sep of seps) expect(sep).toBeGreaterThan(svc);
      checked++;
    });
    expect(checked).toBeGreaterThan(20);
  });

  test('the destination-keyed rules of SVC form one index run; the catch-all is outside it', () => {
    expect(c.stats.runs).toBe(1);
    const run = c.words[L.H_RUNS];
    const svc = rs.chains[rs.chainIds.get('4:filter:SVC')!].chain;
    expect(c.words[run + L.RU_START]).toBe(rs.ruleIds.get(svc.rules[0]));
    expect(c.words[run + L.RU_END]).toBe(rs.ruleIds.get(svc.rules[svc.rules.length - 1]));
  });

  test('rules with the same key are linked in order (first match order kept)', () => {
    const svc = rs.chains[rs.chainIds.get('4:filter:SVC')!].chain;
    const a = rs.ruleIds.get(svc.rules[0])!; // 10.96.0.0:80
    const b = rs.ruleIds.get(svc.rules[1])!; // 10.96.0.0:443
    const recs = ruleRecords(c.words);
    expect(c.words[recs[a] + L.R_NEXTID]).toBe(b);
    expect(c.words[recs[a] + L.R_NEXT]).toBe(recs[b]);
  });

  test('over a SharedArrayBuffer when asked', () => {
    const s = compileRuleset(rs, { shared: true });
    expect(s.words.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(s.words)).toEqual(Array.from(c.words));
  });

  test('≤ 64 bytes per rule on a generated kube-proxy rule set', () => {
    const gen = generateIptables({ services: 300, endpoints: 10, seed: 3 });
    const k = compileRuleset(buildRs(gen.text, { node: gen.node }));
    expect(k.stats.bytesPerRule).toBeLessThanOrEqual(64);
    expect(k.stats.runs).toBeGreaterThan(0);
  });
});

describe('index runs keep the kernel linear count and first-match order', () => {
  const rs = buildRs(servicesDump(2000), { node: NODE });
  const wasm = createWasmEngine(rs);
  const ref = createReferenceEngine(rs);
  const q = (dst: string, port: number): Query => ({ protocol: 'tcp', destination: dst, port, source: '10.1.2.3' });
  const walk = (query: Query) => {
    const { pkt } = resolveQuery(query, rs.node);
    return { w: wasm.walk(pkt, []), r: ref.walk(pkt, []) };
  };
  // position of service i in SVC: i rules + one extra for each earlier i%7==0
  const pos = (i: number) => i + Math.ceil(i / 7);

  test('a hit at service i evaluates FORWARD:1 plus i+extra+1 rules of SVC', () => {
    for (const i of [1, 6, 7, 8, 1234, 1999]) { // not multiples of 5 (those jump to MARKER and go on)
      const { w, r } = walk(q(`10.96.${(i >> 8) & 255}.${i & 255}`, 80));
      expect(w.rulesEvaluated).toBe(1 + pos(i) + 1);
      expect(w).toEqual(r);
    }
  });

  test('the second rule of the same address is found after the first fails', () => {
    const { w, r } = walk(q('10.96.0.7', 443)); // service 7: its :80 rule, then its :443 DROP
    expect(w.verdict).toBe('drop');
    expect(w.rulesEvaluated).toBe(1 + pos(7) + 2);
    expect(w).toEqual(r);
  });

  test('a miss walks the whole run, then the catch-all rejects', () => {
    const { w, r } = walk(q('10.97.0.1', 80));
    const svcLen = rs.chains[rs.chainIds.get('4:filter:SVC')!].chain.rules.length;
    expect(w.verdict).toBe('reject');
    expect(w.rejectWith).toBe('icmp-port-unreachable');
    expect(w.rulesEvaluated).toBe(1 + svcLen);
    expect(w).toEqual(r);
  });

  test('a jump out of the run returns into it and continues with the next candidate', () => {
    // service 35: :80 jumps to MARKER (i % 5 == 0) and returns; its :443 rule is the next candidate
    const { w, r } = walk(q('10.96.0.35', 443));
    expect(w).toEqual(r);
    const { w: w80, r: r80 } = walk(q('10.96.0.35', 80));
    expect(w80).toEqual(r80);
    expect(w80.rulesEvaluated).toBe(1 + pos(35) + 1 + 1 + 1 + (2000 + Math.ceil(2000 / 7) - pos(35) - 2) + 1);
  });

  test('explain answers are identical JSON', () => {
    for (const query of [q('10.96.3.200', 80), q('10.96.0.14', 443), q('10.200.0.1', 80)]) {
      expect(explain(rs, wasm, query)).toEqual(explain(rs, ref, query));
    }
  });
});

describe('port-keyed runs (KUBE-NODEPORTS shape)', () => {
  const rules: string[] = [];
  for (let i = 0; i < 300; i++) rules.push(`-A NP -p ${i % 3 === 0 ? 'udp' : 'tcp'} -m comment --comment "np ${i}" -m ${i % 3 === 0 ? 'udp' : 'tcp'} --dport ${30000 + (i % 250)} -j ACCEPT`);
  rules.push('-A NP -j DROP');
  const rs = buildRs(
    `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:NP - [0:0]\n-A INPUT -j NP\n${rules.join('\n')}\nCOMMIT\n`,
    { node: NODE },
  );
  const c = compileRuleset(rs);

  test('one run keyed on the destination port', () => {
    expect(c.stats.runs).toBe(1);
    expect(c.words[c.words[L.H_RUNS] + L.RU_KIND]).toBe(L.KEY_DPORT);
  });

  test('hits, protocol mismatches on the same port, and misses count like the kernel', () => {
    const wasm = createWasmEngine(rs, c);
    const ref = createReferenceEngine(rs);
    const cases: [Query, number][] = [
      // tcp 30001 is rule i=1 (position 2): INPUT:1 + 2
      [{ protocol: 'tcp', destination: '192.168.1.10', port: 30001 }, 3],
      // udp 30001: rule 1 is tcp (fails on -p), rule 251 (i=251, 251%3 → tcp) fails, … no udp rule has 30001 → DROP at the end
      [{ protocol: 'udp', destination: '192.168.1.10', port: 30001 }, 1 + 301],
      // port 30250 appears nowhere: the whole chain
      [{ protocol: 'tcp', destination: '192.168.1.10', port: 30250 }, 1 + 301],
      // udp 30003 is i=3 (position 4)
      [{ protocol: 'udp', destination: '192.168.1.10', port: 30003 }, 1 + 4],
    ];
    for (const [q, n] of cases) {
      const { pkt } = resolveQuery(q, rs.node);
      const w = wasm.walk(pkt, []);
      expect(w).toEqual(ref.walk(pkt, []));
      expect(w.rulesEvaluated, JSON.stringify(q)).toBe(n);
    }
  });
});
