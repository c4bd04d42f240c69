// Chain semantics: first match wins, -j returns, -g does not, RETURN, policies, verdicts, and the
// depth guard for loops the parser would have refused.

import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import type { Query } from '../../src/model/contracts.js';
import type { Ruleset } from '../../src/model/ruleset.js';
import { buildRs } from './build.js';

const NODE = { addresses: ['192.168.1.10'], podCIDRs: ['10.244.0.0/16'] };
const FWD: Query = { protocol: 'tcp', destination: '10.244.1.5', port: 80, source: '10.1.2.3' };

function filter(forwardPolicy: string, chains: string[], rules: string[]): Ruleset {
  const decl = chains.map((c) => `:${c} - [0:0]`).join('\n');
  return buildRs(`*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ${forwardPolicy} [0:0]\n:OUTPUT ACCEPT [0:0]\n${decl}\n${rules.join('\n')}\nCOMMIT\n`, { node: NODE });
}

function one(rs: Ruleset, q: Query = FWD) {
  const r = explain(rs, createReferenceEngine(rs), q);
  expect(r.outcomes).toHaveLength(1);
  return r.outcomes[0];
}

const steps = (o: { path: { chain: string; index?: number; policy?: string }[] }) =>
  o.path.map((s) => (s.policy ? `${s.chain}:${s.policy}` : `${s.chain}:${s.index}`));

describe('chain traversal', () => {
  test('-j CHAIN returns after the jumping rule when the user chain ends', () => {
    const o = one(filter('DROP', ['A'], ['-A FORWARD -j A', '-A FORWARD -s 10.1.2.3/32 -j ACCEPT', '-A A -p udp -j DROP']));
    expect(o.verdict).toBe('accept');
    expect(steps(o)).toEqual(['FORWARD:1', 'FORWARD:2']);
    expect(o.rulesEvaluated).toBe(3);
  });

  test('RETURN goes back to the caller; -g replaces the frame so RETURN skips the goto-ing chain', () => {
    const o = one(
      filter('DROP', ['A', 'B'], [
        '-A FORWARD -j A',
        '-A FORWARD -j ACCEPT',
        '-A A -g B',
        '-A A -j DROP',
        '-A B -j RETURN',
      ]),
    );
    expect(o.verdict).toBe('accept');
    expect(steps(o)).toEqual(['FORWARD:1', 'A:1', 'B:1', 'FORWARD:2']);
    expect(o.rulesEvaluated).toBe(4);
  });

  test('RETURN (or -g from the built-in chain then falling off) ends at the built-in policy', () => {
    const viaReturn = one(filter('DROP', [], ['-A FORWARD -j RETURN', '-A FORWARD -j ACCEPT']));
    expect(viaReturn.verdict).toBe('drop');
    expect(steps(viaReturn)).toEqual(['FORWARD:1', 'FORWARD:DROP']);
    const viaGoto = one(filter('DROP', ['A'], ['-A FORWARD -g A', '-A FORWARD -j ACCEPT', '-A A -m comment --comment x']));
    expect(viaGoto.verdict).toBe('drop');
    expect(steps(viaGoto)).toEqual(['FORWARD:1', 'A:1', 'FORWARD:DROP']);
  });

  test('first match wins; verdicts DROP and REJECT end the walk with --reject-with', () => {
    const rej = one(filter('ACCEPT', [], ['-A FORWARD -p tcp -j REJECT --reject-with tcp-reset', '-A FORWARD -j DROP']));
    expect(rej).toMatchObject({ verdict: 'reject', rejectWith: 'tcp-reset', rulesEvaluated: 1 });
    const drop = one(filter('ACCEPT', [], ['-A FORWARD -p udp -j REJECT', '-A FORWARD -d 10.244.0.0/16 -j DROP', '-A FORWARD -j ACCEPT']));
    expect(drop).toMatchObject({ verdict: 'drop', rulesEvaluated: 2 });
    expect(steps(drop)).toEqual(['FORWARD:2']);
  });

  test('an ACCEPT policy with no rules leaves no step; a DROP policy always does', () => {
    expect(one(filter('ACCEPT', [], [])).path).toEqual([]);
    expect(steps(one(filter('DROP', [], [])))).toEqual(['FORWARD:DROP']);
  });

  test('ACCEPT ends only its own table: the next hook still runs', () => {
    const rs = buildRs(
      '*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n' +
        '-A FORWARD -j ACCEPT\n-A FORWARD -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n',
      { node: NODE },
    );
    const o = one(rs);
    expect(o.verdict).toBe('drop');
    expect(o.path.map((s) => `${s.table}/${s.chain}:${s.index}`)).toEqual(['mangle/FORWARD:1', 'filter/FORWARD:1']);
  });

  test('marks: MARK --set-xmark / --or-mark / --and-mark, then -m mark', () => {
    const rs = filter('DROP', [], [
      '-A FORWARD -j MARK --set-xmark 0xff00/0xffffffff',
      '-A FORWARD -j MARK --or-mark 0x1',
      '-A FORWARD -j MARK --and-mark 0xf0f1',
      '-A FORWARD -m mark --mark 0xf001 -j ACCEPT',
    ]);
    expect(one(rs).verdict).toBe('accept');
    const rs2 = filter('DROP', [], ['-A FORWARD -j CONNMARK --set-xmark 0x7/0xff', '-A FORWARD -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff', '-A FORWARD -m mark --mark 0x7 -j ACCEPT']);
    expect(one(rs2).verdict).toBe('accept');
  });

  test('a chain loop the parser missed ends in an error, not a hang', () => {
    const rs = filter('DROP', ['A', 'B'], ['-A FORWARD -j A', '-A A -j B', '-A B -j ACCEPT']);
    // Rewire B's rule to jump back to A behind the parser's back.
    const b = rs.rules.find((r) => r.chain === 'B')!;
    b.target = { kind: 'jump', chain: 'A' };
    expect(() => explain(rs, createReferenceEngine(rs), FWD)).toThrow(/deeper than|chain loop/);
  });
});
