import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { NftRuleset } from '../../src/model/nft.js';
import { ParseError } from '../../src/parse/errors.js';
import { parseNftJson } from '../../src/parse/nft-json.js';
import { parseDuration, parseNftText } from '../../src/parse/nft-text.js';
import { isNftJson } from '../../src/parse/nft.js';
import { looksLikeNft } from '../../src/parse/paste.js';
import { fixture, parseErrorOf } from '../helpers/fixtures.js';

/** Statements and set contents of text and JSON listings of one rule set, side by side. */
function compare(text: NftRuleset, json: NftRuleset): string[] {
  const diffs: string[] = [];
  expect(text.tables.map((t) => `${t.family} ${t.name}`)).toEqual(json.tables.map((t) => `${t.family} ${t.name}`));
  text.tables.forEach((t, i) => {
    const j = json.tables[i];
    expect(t.chains.map((c) => c.name)).toEqual(j.chains.map((c) => c.name));
    t.chains.forEach((c, k) => {
      const d = j.chains[k];
      if (!isDeepStrictEqual(c.base, d.base)) diffs.push(`base ${c.name}`);
      expect(c.rules.length).toBe(d.rules.length);
      c.rules.forEach((r, n) => {
        if (!isDeepStrictEqual(r.expr, d.rules[n].expr) || r.comment !== d.rules[n].comment) diffs.push(`${c.name} #${n + 1}: ${r.text}`);
      });
    });
    for (const s of t.sets) {
      const o = j.sets.find((x) => x.name === s.name)!;
      // nft 1.0.6's JSON drops the `dynamic` flag (NFTABLES.md "Gaps").
      const norm = (x: typeof s) => ({ ...x, line: 0, handle: 0, flags: x.flags.filter((f) => f !== 'dynamic'), elems: x.elems.map((e) => ({ ...e, line: 0 })) });
      if (!isDeepStrictEqual(norm(s), norm(o))) diffs.push(`set ${s.name}`);
    }
  });
  return diffs;
}

describe('nft list ruleset text', () => {
  it('parses kube-proxy v1.35 listed back by the kernel into what nft -j prints for the same rule set', () => {
    const text = parseNftText(fixture('nft/kube-proxy-v1.35.txt'));
    const json = parseNftJson(fixture('nft/kube-proxy-v1.35.json'));
    expect(text.warnings).toEqual([]);
    expect(compare(text.ruleset, json.ruleset)).toEqual([]);
    const t = text.ruleset.tables[0];
    expect(t.comment).toBe('rules for kube-proxy');
    expect(t.chains.length).toBe(json.ruleset.tables[0].chains.length);
  });

  it('parses a feature listing (inet, intervals, maps, nat, numgen, jhash, dynamic set) into nft -j form', () => {
    const text = parseNftText(fixture('nft/features.txt'));
    const json = parseNftJson(fixture('nft/features.json'));
    expect(compare(text.ruleset, json.ruleset)).toEqual([]);
  });

  it('undoes the listing rewrites: priorities, durations, mark hex, dnat ip to … map', () => {
    const rs = parseNftText(fixture('nft/kube-proxy-v1.35.txt')).ruleset;
    const chains = new Map(rs.tables[0].chains.map((c) => [c.name, c]));
    expect(chains.get('filter-prerouting-pre-dnat')!.base).toEqual({ type: 'filter', hook: 'prerouting', prio: -110, policy: 'accept' });
    expect(chains.get('nat-postrouting')!.base!.prio).toBe(100);
    expect(chains.get('filter-input')!.base!.prio).toBe(0);
    expect(chains.get('mark-for-masquerade')!.rules[0].expr).toEqual([
      { mangle: { key: { meta: { key: 'mark' } }, value: { '|': [{ meta: { key: 'mark' } }, 0x4000] } } },
    ]);
    const aff = rs.tables[0].sets.find((s) => s.name.startsWith('affinity-'))!;
    expect(aff.timeout).toBe(10800);
    expect(aff.flags).toEqual(['dynamic', 'timeout']);
    const f = parseNftText(fixture('nft/features.txt')).ruleset;
    const post = f.tables[1].chains.find((c) => c.name === 'postrouting')!;
    expect(post.base!.prio).toBe(110);
    const pre = f.tables[1].chains.find((c) => c.name === 'prerouting')!;
    expect(pre.rules[1].text).toBe('ip daddr 172.30.0.50 tcp dport 80 dnat ip to numgen random mod 3 map { 0 : 10.180.0.1 . 80, 1 : 10.180.0.2 . 8080, 2 : 10.180.0.3 . 80 }');
    expect(f.tables[2].chains[0].base!.prio).toBe(-300);
    expect(parseDuration('2h59m59s972ms')).toBe(10799);
    expect(parseDuration('1d')).toBe(86400);
    expect(parseDuration('10800s')).toBe(10800);
  });

  it('keeps the listing line of every rule, set element and map element', () => {
    const src = fixture('nft/kube-proxy-v1.35.txt');
    const lines = src.split('\n');
    const rs = parseNftText(src).ruleset;
    for (const c of rs.tables[0].chains) {
      for (const r of c.rules) expect(lines[r.line - 1].trim()).toBe(r.text);
    }
    const svc = rs.tables[0].sets.find((s) => s.name === 'service-ips')!;
    expect(svc.elems.length).toBe(9);
    svc.elems.forEach((e) => {
      const key = e.key as { concat: unknown[] };
      expect(lines[e.line - 1]).toContain(`${String(key.concat[0])} . tcp . 80 : goto`);
    });
    const ips = rs.tables[0].sets.find((s) => s.name === 'cluster-ips')!;
    expect(ips.elems.map((e) => lines[e.line - 1].includes(String(e.key)))).toEqual(ips.elems.map(() => true));
  });

  it('reads nft -a handles and the live elements of a dynamic set', () => {
    const plain = parseNftText(fixture('nft/features.txt')).ruleset;
    const withHandles = parseNftText(fixture('nft/features.a.txt')).ruleset;
    const strip = (rs: NftRuleset) => rs.tables.map((t) => t.chains.map((c) => c.rules.map((r) => r.expr)));
    expect(strip(withHandles)).toEqual(strip(plain));
    const input = withHandles.tables[0].chains[0];
    expect(input.handle).toBe(1);
    expect(input.rules.map((r) => r.handle)).toEqual([7, 8, 9, 11, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23]);
    expect(input.rules[0].text).toBe('ct state established,related accept');
    const aff = withHandles.tables[1].sets.find((s) => s.name === 'aff')!;
    expect(aff.elems).toEqual([{ key: '203.0.113.7', expires: 10799, line: aff.elems[0].line }]);
  });

  it('parses a real pasted listing (iptables-nft translations, double spaces, leading blanks)', () => {
    // projectcalico/calico#8025: `nft list ruleset` of a k3s node, as pasted in the issue.
    const rs = parseNftText(fixture('nft/calico-8025.txt')).ruleset;
    const fw = rs.tables[0].chains.find((c) => c.name === 'KUBE-FIREWALL')!;
    expect(fw.rules[0].expr).toEqual([
      { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '127.0.0.0', len: 8 } } } },
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '127.0.0.0', len: 8 } } } },
      { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } },
      { counter: { packets: 0, bytes: 0 } },
      { drop: null },
    ]);
    const pre = rs.tables[1].chains.find((c) => c.name === 'PREROUTING')!;
    expect(pre.rules[2].expr.at(-1)).toEqual({ redirect: { port: 1162 } });
    const fwd = rs.tables[0].chains.find((c) => c.name === 'KUBE-FORWARD')!;
    expect(fwd.rules[1].expr[0]).toEqual({ match: { op: '==', left: { '&': [{ meta: { key: 'mark' } }, 0x4000] }, right: 0x4000 } });
  });

  it('keeps an expression it does not know, with the rule verdict, and warns', () => {
    const { ruleset, warnings } = parseNftText('table inet t {\n\tchain c {\n\t\tosf name "Linux" counter accept\n\t}\n}\n');
    expect(ruleset.tables[0].chains[0].rules[0].expr).toEqual([{ unknown: 'osf name "Linux" counter' }, { accept: null }]);
    expect(warnings[0]).toMatchObject({ line: 3, column: 3 });
  });

  it('lenient: a rule it cannot read is kept whole (uncertain), with a warning naming line and column', () => {
    const src = 'table ip t {\n\tchain c {\n\t\tlimit rate fast drop\n\t\taccept\n\t}\n}\n';
    expect(() => parseNftText(src)).toThrow(ParseError);
    const { ruleset, warnings } = parseNftText(src, { lenient: true });
    const rules = ruleset.tables[0].chains[0].rules;
    expect(rules.map((r) => r.expr)).toEqual([[{ unparsed: 'limit rate fast drop' }], [{ accept: null }]]);
    expect(warnings[0].line).toBe(3);
    expect(warnings[0].message).toContain('kept as uncertain');
  });

  it('names line and column of malformed input', () => {
    let e = parseErrorOf(() => parseNftText('table ip t {\n\tchain c {\n\t\ttype filter hook input priority bogus; policy accept;\n\t}\n}\n'));
    expect([e.line, e.column]).toEqual([3, 35]);
    expect(e.message).toContain('unknown priority');
    e = parseErrorOf(() => parseNftText('table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 accept\n'));
    expect(e.message).toContain('not closed');
    e = parseErrorOf(() => parseNftText('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n'));
    expect([e.line, e.column]).toEqual([1, 1]);
    e = parseErrorOf(() => parseNftText('table ip t {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 1.2.3.4 2.3.4.5 }\n\t}\n}\n'));
    expect(e.line).toBe(4);
    e = parseErrorOf(() => parseNftText('table ip t {\n\tchain c {\n\t\tcomment "unterminated\n\t}\n}\n'));
    expect([e.line, e.column]).toEqual([3, 11]);
  });

  it('tells nft text, nft JSON and iptables-save apart by content', () => {
    expect(isNftJson(fixture('nft/features.json'))).toBe(true);
    expect(isNftJson(fixture('nft/features.txt'))).toBe(false);
    expect(looksLikeNft(fixture('nft/features.txt'))).toBe(true);
    expect(looksLikeNft('# Generated by iptables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')).toBe(false);
    expect(looksLikeNft('# Warning: table ip nat is managed by iptables-nft, do not touch!\ntable ip nat {\n}\n')).toBe(true);
  });
});

describe('nft -j list ruleset', () => {
  it('keeps rule handles and numbers lines by object index', () => {
    const rs = parseNftJson(fixture('nft/kube-proxy-v1.35.json')).ruleset;
    const doc = JSON.parse(fixture('nft/kube-proxy-v1.35.json')) as { nftables: Record<string, { handle?: number; chain?: string }>[] };
    for (const c of rs.tables[0].chains) {
      for (const r of c.rules) {
        const o = doc.nftables[r.line - 1].rule;
        expect(o.chain).toBe(c.name);
        expect(r.handle).toBe(o.handle);
      }
    }
    const svc = rs.tables[0].chains.find((c) => c.name === 'services')!;
    expect(svc.rules[0].text).toBe('ip daddr . meta l4proto . th dport vmap @service-ips');
    const m = rs.tables[0].chains.find((c) => c.name === 'mark-for-masquerade')!;
    expect(m.rules[0].text).toBe('meta mark set meta mark | 0x00004000');
  });

  it('names the JSON path of a malformed document', () => {
    let e = parseErrorOf(() => parseNftJson('{"nftables": [{"metainfo": {"json_schema_version": 1}}, {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": []}}]}'));
    expect(e.message).toContain('nftables[1].rule');
    expect(e.line).toBe(2);
    e = parseErrorOf(() => parseNftJson('{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c", "hook": "input", "prio": "x"}}]}'));
    expect(e.message).toContain('nftables[1].chain.prio');
    e = parseErrorOf(() => parseNftJson('{"nftables": [\n{"table": {"family": "ip",\n "name": }}]}'));
    expect(e.line).toBe(3);
    e = parseErrorOf(() => parseNftJson('[]'));
    expect(e.message).toContain('nftables');
  });
});
