// The iptables parser's fast path (fastRule: `-A` lines read from word offsets, module and target
// records built once per distinct text) must give exactly what the general path gives: the same
// model, the same warnings, and the same errors at the same line and column. Each input is parsed
// both ways (`general: true` turns the fast path off) and compared.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import type { FamilyRules } from '../../src/model/rule.js';
import { ParseError } from '../../src/parse/errors.js';
import { parseIptablesSave, type ParseOptions } from '../../src/parse/iptables.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

function family(f: FamilyRules | undefined) {
  if (!f) return null;
  return [...f.tables.values()].map((t) => ({
    name: t.name,
    family: t.family,
    line: t.line,
    chains: [...t.chains.values()].map((c) => ({
      name: c.name,
      builtin: c.builtin,
      policy: c.policy,
      line: c.line,
      rules: c.rules.map((r) => [r.line, r.text, r.table, r.chain, r.index, r.family, r.matches, r.target]),
    })),
  }));
}

/** Everything a parse produces (or its error, with line and column), as JSON. */
function outcome(text: string, opts: ParseOptions): string {
  try {
    const d = parseIptablesSave(text, opts);
    return JSON.stringify({ v4: family(d.v4), v6: family(d.v6), warnings: d.warnings });
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    return JSON.stringify({ error: e.message, line: e.line, column: e.column });
  }
}

function same(text: string, opts: ParseOptions = {}): string {
  const fast = outcome(text, opts);
  expect(fast).toBe(outcome(text, { ...opts, general: true }));
  return fast;
}

interface Input {
  name: string;
  text: string;
  opts?: ParseOptions;
}

function inputs(): Input[] {
  const out: Input[] = [];
  for (const name of readdirSync(root('examples')).sort()) {
    for (const f of ['iptables.txt', 'ip6tables.txt']) {
      const p = root(`examples/${name}/${f}`);
      if (existsSync(p)) out.push({ name: `examples/${name}/${f}`, text: readFileSync(p, 'utf8'), opts: f === 'ip6tables.txt' ? { family: 6 } : {} });
    }
  }
  for (const name of readdirSync(root('test/corpus')).sort()) {
    const p = root(`test/corpus/${name}/iptables.txt`);
    if (!existsSync(p)) continue;
    const text = readFileSync(p, 'utf8');
    out.push({ name: `corpus/${name}`, text }, { name: `corpus/${name} (lenient)`, text, opts: { lenient: true } });
  }
  for (const f of ['hooks.txt', 'kube-affinity.txt', 'kube-basic.txt', 'ipvs-mode.txt', 'nft/iptables-nft.save']) {
    out.push({ name: `fixtures/${f}`, text: readFileSync(root(`test/fixtures/${f}`), 'utf8') });
  }
  for (const seed of [1, 2, 3, 4]) {
    const g = generateIptables({ services: 40, endpoints: 4, seed, style: seed % 2 === 0 ? 'restore' : 'save', masqueradeAll: seed === 3, nfacct: seed === 1, localhostNodePorts: seed !== 1 });
    out.push({ name: `generated seed ${seed}`, text: g.text });
  }
  out.push({ name: 'generated ipvs', text: generateIpvs({ services: 20, endpoints: 3, seed: 6 }).iptables });
  return out;
}

describe('fast path agrees with the general path', () => {
  for (const input of inputs()) {
    it(input.name, () => {
      same(input.text, input.opts);
    });
  }

  it('takes the rules of a kube-proxy dump (the model is not empty)', () => {
    const text = generateIptables({ services: 10, endpoints: 3, seed: 9 }).text;
    const out = JSON.parse(same(text)) as { v4: { chains: { rules: unknown[] }[] }[] };
    expect(out.v4.flatMap((t) => t.chains).reduce((n, c) => n + c.rules.length, 0)).toBeGreaterThan(100);
  });
});

/** One rule line changed: errors and warnings must come out the same, at the same line and column. */
const MUTATIONS: [string, (line: string) => string][] = [
  ['malformed destination', (l) => l.replace(/-d \S+/, '-d 10.300.0.1/32')],
  ['address list', (l) => l.replace(/-d \S+/, '-d 10.0.0.1,10.0.0.2')],
  ['IPv6 address in an IPv4 dump', (l) => l.replace(/-d \S+/, '-d fd00::1/128')],
  ['unknown protocol', (l) => l.replace(/-p \w+/, '-p nosuch')],
  ['double negation', (l) => l.replace(/ -j /, ' ! ! -s 10.0.0.0/8 -j ')],
  ['negated target', (l) => l.replace(/ -j /, ' ! -j ')],
  ['trailing negation', (l) => `${l} !`],
  ['unknown long option', (l) => l.replace(/ -j /, ' --bogus 1 -j ')],
  ['unknown short option', (l) => l.replace(/ -j /, ' -z 1 -j ')],
  ['unknown module', (l) => l.replace(/ -j /, ' -m nosuchmod --foo bar -j ')],
  ['unterminated quote', (l) => l.replace(/ -j /, ' -m comment --comment "open -j ')],
  ['escaped quote', (l) => l.replace(/ -j /, ' -m comment --comment "a \\" b" -j ')],
  ['bad port', (l) => l.replace(/ -j /, ' -p tcp -m tcp --dport 99999 -j ')],
  ['option without its argument', (l) => `${l} -m comment --comment`],
  ['two targets', (l) => `${l} -j ACCEPT`],
  ['long interface name', (l) => l.replace(/ -j /, ' -i averyveryverylongname0 -j ')],
  ['undeclared chain', (l) => l.replace(/^-A \S+/, '-A NOT-DECLARED')],
  ['jump to a missing chain', (l) => l.replace(/-j \S+.*$/, '-j KUBE-NOWHERE')],
  ['DNAT without a destination', (l) => l.replace(/-j \S+.*$/, '-j DNAT')],
  ['bad DNAT destination', (l) => l.replace(/-j \S+.*$/, '-j DNAT --to-destination 10.0.0.300:80')],
  ['bad mark', (l) => l.replace(/-j \S+.*$/, '-j MARK --set-xmark nonsense')],
  ['target option before its target', (l) => l.replace(/-j (\S+)/, '--to-destination 10.0.0.1 -j $1')],
  ['long generic spelling', (l) => l.replace(/ -j /, ' --source 10.9.0.0/16 -j ')],
  ['old-style negation', (l) => l.replace(/ -j /, ' -s ! 10.9.0.0/16 -j ')],
  ['option of an earlier module', (l) => l.replace(/ -j /, ' -m tcp -p tcp -m comment --comment x --dport 80 -j ')],
  ['icmpv6 in IPv4', (l) => l.replace(/ -j /, ' -p icmp -m icmp6 --icmpv6-type 128 -j ')],
];

describe('fast path errors and warnings match the general path', () => {
  const base = generateIptables({ services: 12, endpoints: 3, seed: 11 }).text.split('\n');
  const ruleLines = base.map((l, i) => (l.startsWith('-A ') && l.includes(' -j ') ? i : -1)).filter((i) => i >= 0);
  // A spread of rule shapes: entry points, service ladders, endpoints, masquerade rules.
  const picks = [0, 0.2, 0.45, 0.7, 0.95].map((f) => ruleLines[Math.floor(f * (ruleLines.length - 1))]!);
  for (const [what, mutate] of MUTATIONS) {
    it(what, () => {
      let changed = 0;
      for (const at of picks) {
        const lines = base.slice();
        lines[at] = mutate(lines[at]!);
        if (lines[at] === base[at]) continue;
        changed++;
        for (const lenient of [false, true]) {
          const out = JSON.parse(same(lines.join('\n'), { lenient })) as { error?: string; line?: number; warnings?: { line: number }[] };
          // Where the parse fails, it names the changed line (chain loops and COMMIT-time checks included).
          if (out.error !== undefined && !lenient) expect(out.line).toBe(at + 1);
        }
      }
      expect(changed).toBeGreaterThan(0);
    });
  }
});

describe('chain loops', () => {
  it('a loop closed through a kube-proxy ladder is reported the same way, naming its cycle', () => {
    const lines = generateIptables({ services: 6, endpoints: 2, seed: 12 }).text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('-A KUBE-SEP-') && l.includes(' -j DNAT '));
    lines[at] = lines[at]!.replace(/-j DNAT.*$/, '-j KUBE-SERVICES');
    const out = JSON.parse(same(lines.join('\n'))) as { error: string; line: number; column: number };
    expect(out.error).toMatch(/chain loop: KUBE-SERVICES -> KUBE-SVC-\w+ -> KUBE-SEP-\w+ -> KUBE-SERVICES/);
    expect(out.line).toBe(at + 1);
    expect(out.column).toBe(lines[at]!.lastIndexOf('KUBE-SERVICES') + 1);
  });
});

describe('chain declarations', () => {
  const text = (decl: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n${decl}\n-A PREROUTING -j KUBE-X\nCOMMIT\n`;
  for (const decl of [':KUBE-X - [0:0]', ':KUBE-X - [0:0]\n:KUBE-X - [0:0]', ':PREROUTING - [0:0]', ':KUBE-X\t- [0:0]', ':"KUBE-X" - [0:0]', ':KUBE-X - [0:0] ', ':KUBE-X - [1:2]', ':A-NAME-LONGER-THAN-TWENTY-EIGHT-CHARS - [0:0]']) {
    it(JSON.stringify(decl), () => {
      for (const lenient of [false, true]) same(text(decl), { lenient });
    });
  }
});
