// The load path's fast paths in compile and pack, at their edges: Words hands out zeroed words
// after a give-back, index runs keep every key's candidate chain (v4, v6, ports, repeated keys,
// a port run cut by an address run), jump targets resolve in their own table through the
// one-entry cache, NAT range counts stay exact, and texts that are not ASCII (which the
// part-by-part text writer hands to the joined construction) come back from the shared form as
// they went in.

import { describe, expect, test } from 'vitest';
import * as L from '../../src/compile/layout.js';
import { openShared } from '../../src/compile/shared.js';
import { Words } from '../../src/compile/words.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { resolveQuery } from '../../src/engine/packet.js';
import type { WalkPacket } from '../../src/engine/types.js';
import { ruleRecords } from '../../src/compile/compile.js';
import type { Ruleset } from '../../src/model/ruleset.js';
import { buildRuleset } from '../../src/ruleset.js';
import { compileShared } from '../../src/shared-ruleset.js';
import { buildRs } from '../engine/build.js';

const HEAD = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n';

describe('Words', () => {
  test('alloc zeroes words given back by truncate, and grows keeping what was written', () => {
    const w = new Words(16);
    for (let i = 0; i < 10; i++) w.push(i + 1);
    w.truncate(4);
    const at = w.alloc(8);
    expect(at).toBe(4);
    for (let i = 0; i < 8; i++) expect(w.get(at + i)).toBe(0);
    w.push(99);
    const big = w.alloc(40); // past the first capacity: regrows
    for (let i = 0; i < 40; i++) expect(w.get(big + i)).toBe(0);
    expect([0, 1, 2, 3].map((i) => w.get(i))).toEqual([1, 2, 3, 4]);
    expect(w.get(12)).toBe(99);
    const out = w.view();
    expect(out.length).toBe(w.length);
    expect(out[12]).toBe(99);
  });

  test('a truncate below words already given back keeps them marked', () => {
    const w = new Words(64);
    for (let i = 0; i < 30; i++) w.push(-1);
    w.truncate(20);
    w.push(5);
    w.truncate(2); // words 2..29 were written
    const at = w.alloc(30);
    for (let i = 0; i < 30; i++) expect(w.get(at + i)).toBe(0);
  });
});

/** Every run: its hash slots hold distinct keys, each slot's chain walks all rules of that key in order, and together they cover the run once. */
function checkRuns(rs: Ruleset, words: Int32Array, keyOf: (r: number, kind: number) => number[]): number {
  const runs = words[L.H_RUNS]!;
  const recs = ruleRecords(words);
  for (let id = 0; id < words[L.H_NRUNS]!; id++) {
    const t = runs + id * L.RUN_WORDS;
    const start = words[t + L.RU_START]!;
    const end = words[t + L.RU_END]!;
    const kind = words[t + L.RU_KIND]!;
    const hash = words[t + L.RU_HASH]!;
    const slots = words[t + L.RU_MASK]! + 1;
    const seen = new Set<number>();
    const keys = new Set<string>();
    const sw = words[t + L.RU_SLOTW]!;
    const compact = sw === L.SLOT_COMPACT;
    expect(compact ? L.SLOT_COMPACT : L.SLOT_WORDS).toBe(sw);
    for (let s = 0; s < slots; s++) {
      const at = words[hash + s * sw + (compact ? L.SC_REC : L.SL_REC)]!;
      if (at === 0) continue;
      const head = words[at + L.R_ID]!;
      expect(at).toBe(recs[head]);
      const key = [0, 1, 2, 3].map((q) => (compact && q > 0 ? 0 : words[hash + s * sw + q]!));
      expect(keys.has(key.join())).toBe(false);
      keys.add(key.join());
      // the head is the first rule of the run with this key
      for (let r = start; r < head; r++) expect(keyOf(r, kind).map((x) => x | 0)).not.toEqual(key);
      for (let r = head, prev = start - 1; r < end; prev = r, r = words[recs[r]! + L.R_NEXTID]!) {
        expect(r).toBeGreaterThan(prev);
        expect(keyOf(r, kind).map((x) => x | 0)).toEqual(key);
        expect(words[recs[r]! + L.R_RUN]).toBe(t);
        expect(words[recs[r]! + L.R_META]! & L.RF_RUN).toBe(L.RF_RUN);
        expect((words[recs[r]! + L.R_META]! & L.RF_START) !== 0).toBe(r === start);
        expect(words[recs[r]! + L.R_ID]).toBe(r);
        const next = words[recs[r]! + L.R_NEXTID]!;
        expect(words[recs[r]! + L.R_NEXT]).toBe(next < end ? recs[next] : words[t + L.RU_ENDREC]);
        seen.add(r);
      }
    }
    expect(seen.size).toBe(end - start);
  }
  return words[L.H_NRUNS]!;
}

function modelKey(rs: Ruleset) {
  return (r: number, kind: number): number[] => {
    const ms = rs.rules[r]!.matches;
    if (kind === L.KEY_DST) return [...ms.find((m) => m.kind === 'dst')!.cidr.w] as number[];
    const p = ms.find((m) => m.kind === 'dport') as { range: { lo: number } };
    return [p.range.lo, 0, 0, 0];
  };
}

describe('index runs', () => {
  // A: address-keyed rules with repeats far apart; then port-keyed rules, cut in two by an
  // address-keyed stretch long enough for a run of its own (it takes its rules from the port run).
  const rules: string[] = [];
  for (let i = 0; i < 60; i++) rules.push(`-A A -d 10.96.0.${i % 13}/32 -p tcp -m tcp --dport ${80 + (i % 3)} -j ACCEPT`);
  for (let i = 0; i < 12; i++) rules.push(`-A A -p tcp -m tcp --dport ${30000 + (i % 5)} -j ACCEPT`);
  for (let i = 0; i < 9; i++) rules.push(`-A A -d 10.97.0.${i % 2}/32 -p tcp -m tcp --dport 30001 -j ACCEPT`);
  for (let i = 0; i < 10; i++) rules.push(`-A A -p udp -m udp --dport ${30000 + (i % 4)} -j ACCEPT`);
  rules.push('-A A -j DROP');
  const v4 = `${HEAD}:A - [0:0]\n-A INPUT -j A\n${rules.join('\n')}\nCOMMIT\n`;
  const v6rules: string[] = [];
  for (let i = 0; i < 40; i++) v6rules.push(`-A B -d fd00::${(i % 9).toString(16)}:ffff:${i % 2 ? 'a' : 'b'}/128 -j ACCEPT`);
  const v6 = `${HEAD}:B - [0:0]\n-A INPUT -j B\n${v6rules.join('\n')}\nCOMMIT\n`;
  const rs = buildRs(v4, { ip6tables: v6, node: { addresses: ['192.168.1.10'] } });

  for (const minRun of [1, 2, 3, 8]) {
    test(`every key's candidate chain is whole and in rule order (minRun ${minRun})`, () => {
      const c = compileRuleset(rs, { minRun });
      expect(checkRuns(rs, c.words, modelKey(rs))).toBeGreaterThanOrEqual(4);
    });
  }

  test('walks through compact (port, IPv4) and full (IPv6) slot tables equal the reference walk', () => {
    const ref = createReferenceEngine(rs);
    const pkts: WalkPacket[] = [];
    const dsts = [
      ...Array.from({ length: 14 }, (_, i) => `10.96.0.${i}`),
      '10.97.0.0', '10.97.0.1', '192.168.1.10',
      ...Array.from({ length: 10 }, (_, i) => `fd00::${i.toString(16)}:ffff:a`),
      'fd00::3:ffff:b', '::a', '0:0:0:1::',
    ];
    for (const destination of dsts) {
      for (const port of [80, 81, 82, 83, 30000, 30001, 30004, 30005]) {
        for (const protocol of ['tcp', 'udp'] as const) pkts.push(resolveQuery({ protocol, destination, port, origin: 'external' }, rs.node).pkt);
      }
    }
    const want = ref.trace(pkts, 3);
    for (const minRun of [1, 2, 8]) {
      const c = compileRuleset(rs, { minRun });
      const slotWidths = new Set<number>();
      for (let id = 0; id < c.words[L.H_NRUNS]!; id++) slotWidths.add(c.words[c.words[L.H_RUNS]! + id * L.RUN_WORDS + L.RU_SLOTW]!);
      expect([...slotWidths].sort()).toEqual([L.SLOT_COMPACT, L.SLOT_WORDS]);
      expect(createWasmEngine(rs, c).trace(pkts, 3)).toEqual(want);
    }
  });

  test('the port run is cut where the address run takes its rules', () => {
    const c = compileRuleset(rs);
    const kinds: [number, number, number][] = [];
    for (let id = 0; id < c.words[L.H_NRUNS]!; id++) {
      const t = c.words[L.H_RUNS]! + id * L.RUN_WORDS;
      kinds.push([c.words[t + L.RU_START]!, c.words[t + L.RU_END]!, c.words[t + L.RU_KIND]!]);
    }
    const a = rs.chainIds.get('4:filter:A')!;
    const first = rs.ruleIds.get(rs.chains[a]!.chain.rules[0]!)!;
    // per chain: its port runs, then its address runs
    expect(kinds.filter(([s]) => s >= first && s < first + 92)).toEqual([
      [first + 60, first + 72, L.KEY_DPORT],
      [first + 81, first + 91, L.KEY_DPORT],
      [first, first + 60, L.KEY_DST],
      [first + 72, first + 81, L.KEY_DST],
    ]);
  });
});

describe('jump targets', () => {
  test('resolve in the rule\'s own table, also when the same name repeats across tables and families', () => {
    const t = (table: string, builtin: string) =>
      `*${table}\n:${builtin} ACCEPT [0:0]\n:X - [0:0]\n:Y - [0:0]\n-A ${builtin} -j X\n-A ${builtin} -j X\n-A ${builtin} -g Y\n-A ${builtin} -j X\n-A X -j Y\n-A Y -j RETURN\nCOMMIT\n`;
    const dump = `${t('filter', 'INPUT')}${t('nat', 'PREROUTING')}${t('mangle', 'OUTPUT')}`;
    const rs = buildRs(dump, { ip6tables: dump });
    const c = compileRuleset(rs);
    const recs = ruleRecords(c.words);
    let jumps = 0;
    rs.rules.forEach((r, id) => {
      if (r.target?.kind !== 'jump' && r.target?.kind !== 'goto') return;
      const fam = r.family === 6 ? 6 : 4;
      const want = rs.chainIds.get(`${fam}:${r.table}:${r.target.chain}`);
      const tk = (c.words[recs[id]! + L.R_META]! >>> L.RN_TK_SHIFT) & 0xff;
      expect(tk).toBe(r.target.kind === 'jump' ? L.T_JUMP : L.T_GOTO);
      // the target chain's region
      expect(c.words[recs[id]! + L.R_TARG]).toBe(c.words[c.words[L.H_CHAINS]! + want!]);
      expect(c.words[c.words[recs[id]! + L.R_TARG]! + L.C_ID]).toBe(want);
      jumps++;
    });
    expect(jumps).toBe(2 * 3 * 5);
  });
});

describe('NAT range counts', () => {
  const nat = (to: string) =>
    buildRs(`*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination ${to}\nCOMMIT\n`);
  const count = (to: string) => {
    const rs = nat(to);
    const c = compileRuleset(rs);
    const block = c.words[ruleRecords(c.words)[0]! + L.R_TARG]!;
    const n = c.words[block + L.NR_COUNT]!;
    return { n, reason: n > L.NAT_MAX_BRANCHES ? c.strings[c.words[block + L.NR_REASON]!] : undefined };
  };
  test('IPv4: exact, capped past the branch limit with the count in the reason', () => {
    expect(count('10.0.0.1')).toEqual({ n: 1, reason: undefined });
    expect(count('10.0.0.1-10.0.0.4')).toEqual({ n: 4, reason: undefined });
    expect(count('10.0.0.1-10.0.0.1')).toEqual({ n: 1, reason: undefined });
    expect(count('0.0.0.0-255.255.255.255')).toEqual({ n: L.NAT_MAX_BRANCHES + 1, reason: 'NAT range of 4294967296 addresses: only the first is followed' });
    expect(count('10.0.0.0-10.0.255.255')).toEqual({ n: L.NAT_MAX_BRANCHES + 1, reason: 'NAT range of 65536 addresses: only the first is followed' });
  });
});

describe('the shared form keeps texts that are not ASCII', () => {
  const comment = (c: string) => `-A INPUT -m comment --comment "${c}" -j ACCEPT`;
  const cases: [string, Parameters<typeof compileShared>[0]][] = [
    ['ASCII only', { iptables: `${HEAD}${comment('plain')}\n-A INPUT -d 10.0.0.1/32 -j DROP\nCOMMIT\n` }],
    ['accents and an emoji in the first rule', { iptables: `${HEAD}${comment('café ☕ 😀')}\n-A INPUT -d 10.0.0.1/32 -j DROP\nCOMMIT\n` }],
    ['a two-byte character in the last rule', { iptables: `${HEAD}-A INPUT -d 10.0.0.1/32 -j DROP\n${comment('ünï')}\nCOMMIT\n` }],
    ['a lone surrogate', { iptables: `${HEAD}${comment('x\ud800y')}\n${comment('\udc00')}\nCOMMIT\n` }],
    ['an nft table name', { nftables: 'table ip tâble {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip daddr 10.0.0.1 accept\n\t}\n}\n' }],
  ];
  for (const [name, bundle] of cases) {
    test(name, () => {
      const { ruleset } = buildRuleset(bundle);
      const view = openShared(compileShared(bundle).shared).ruleset;
      expect(view.rules.length).toBe(ruleset.rules.length);
      ruleset.rules.forEach((r, i) => {
        const v = view.rules[i]!;
        // a lone surrogate has no UTF-8 form: it comes back as U+FFFD, as Buffer writes it
        expect(v.text).toBe(Buffer.from(r.text, 'utf8').toString('utf8'));
        expect([v.line, v.chain, v.table, v.index]).toEqual([r.line, r.chain, r.table, r.index]);
      });
      ruleset.chains.forEach((ci, i) => {
        const v = view.chains[i]!;
        expect([v.chain.name, v.table, v.tableId]).toEqual([ci.chain.name, ci.table, ci.tableId]);
      });
    });
  }
});
