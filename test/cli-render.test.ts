// The CLI's text answer groups outcomes by case: one table per assignment of the unknown
// conditions, headed by what it assumes.
import { describe, expect, test } from 'vitest';
import { renderExplain } from '../src/cli-render.js';
import { loadRuleset } from '../src/index.js';

const DUMP = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m set --match-set A src -j ACCEPT
-A FORWARD -m set ! --match-set A src -j ACCEPT
COMMIT
`;

describe('renderExplain', () => {
  test('one table per case, headed by its assumptions; never "25% drop"', () => {
    const rs = loadRuleset({ iptables: DUMP, node: { addresses: ['192.168.1.10'] } }, { engine: 'reference' });
    const text = renderExplain(rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 80, source: '10.0.0.5' }), { path: false });
    expect(text).toContain('if 10.0.0.5 in set A (src) (line 5):\n  PROBABILITY');
    expect(text).toContain('if 10.0.0.5 not in set A (src) (line 5):\n  PROBABILITY');
    expect(text.match(/^ {2}100%\s+accept/gm)).toHaveLength(2);
    expect(text).not.toMatch(/drop/);
  });

  test('no unknowns: the single table as before, no heading', () => {
    const rs = loadRuleset({ iptables: DUMP.replace(/-A FORWARD.*\n/g, ''), node: { addresses: ['192.168.1.10'] } }, { engine: 'reference' });
    const text = renderExplain(rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 80 }), { path: false });
    expect(text).toMatch(/\n\nPROBABILITY +VERDICT/);
    expect(text).not.toMatch(/^if /m);
  });
});
