// One broken rule line in a kube-proxy dump: where the parse fails it names that line (chain loops
// and COMMIT-time checks included), strict and lenient; a chain loop names its cycle and column.
import { describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import type { FamilyRules } from '../../src/model/rule.js';
import { ParseError } from '../../src/parse/errors.js';
import { parseIptablesSave, type ParseOptions } from '../../src/parse/iptables.js';

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

/** One rule line changed in ways a dump can be wrong. */
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

describe('a broken rule line', () => {
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
          const out = JSON.parse(outcome(lines.join('\n'), { lenient })) as { error?: string; line?: number; warnings?: { line: number }[] };
          // Where the parse fails, it names the changed line (chain loops and COMMIT-time checks included).
          if (out.error !== undefined && !lenient) expect(out.line).toBe(at + 1);
        }
      }
      expect(changed).toBeGreaterThan(0);
    });
  }
});

describe('chain loops', () => {
  it('a loop closed through a kube-proxy ladder is an error naming its cycle, line and column', () => {
    const lines = generateIptables({ services: 6, endpoints: 2, seed: 12 }).text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('-A KUBE-SEP-') && l.includes(' -j DNAT '));
    lines[at] = lines[at]!.replace(/-j DNAT.*$/, '-j KUBE-SERVICES');
    const out = JSON.parse(outcome(lines.join('\n'), {})) as { error: string; line: number; column: number };
    expect(out.error).toMatch(/chain loop: KUBE-SERVICES -> KUBE-SVC-\w+ -> KUBE-SEP-\w+ -> KUBE-SERVICES/);
    expect(out.line).toBe(at + 1);
    expect(out.column).toBe(lines[at]!.lastIndexOf('KUBE-SERVICES') + 1);
  });
});
