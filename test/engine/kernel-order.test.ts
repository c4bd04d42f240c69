// One evaluation order for the compiler and the reference walk (src/compile/ops.ts kernelOrder):
// the header part (addresses, protocol, interfaces, fragment, nft's nfproto) first, in rule order,
// then the modules. The two once disagreed on `nfproto` (the differential generator's seed
// 515155905): for an IPv4 packet with an out interface known only as `eni1a+`, the wasm engine
// asked "is eni1a+ eni1a?" (and branched on it) for an inet rule whose nfproto ipv6 already fails.
import { describe, expect, test } from 'vitest';
import { kernelOrder } from '../../src/compile/ops.js';
import type { Match } from '../../src/model/rule.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { loadRuleset } from '../../src/ruleset.js';
import { compareAllWalks } from './differential-support.js';

const nfproto6: Match = { kind: 'nfproto', invert: false, family: 6 };
const oif: Match = { kind: 'outIface', invert: false, name: 'eni1a', prefix: false };
const dport: Match = { kind: 'dport', invert: true, range: { lo: 443, hi: 1443 } };
const nth: Match = { kind: 'nth', invert: false, every: 4, packet: 1 };

describe('kernelOrder', () => {
  test('nfproto is part of the header: kept in place before the modules', () => {
    expect(kernelOrder([nfproto6, oif, dport, nth])).toEqual([nfproto6, oif, dport, nth]);
    expect(kernelOrder([dport, nfproto6, oif])).toEqual([nfproto6, oif, dport]);
    // Already in kernel order: the same array, nothing allocated.
    const ordered = [oif, dport];
    expect(kernelOrder(ordered)).toBe(ordered);
  });

  const nft = `table inet t {
\tchain out {
\t\ttype filter hook output priority filter; policy accept;
\t\toifname "eni1a" tcp dport != 443-1443 counter drop
\t}
}
`;
  // The listing's rule with its matches as the generator wrote them: nfproto ipv6 first.
  const rs = loadRuleset({ nftables: nft, node: { addresses: ['192.168.0.10', 'fd00::10'] } }, { engine: 'reference' }).ruleset;
  const rule = rs.rules.find((r) => r.target?.kind === 'DROP')!;
  rule.matches = [nfproto6, oif, dport, { kind: 'comment', text: 'a comment' }, nth];
  const ref = createReferenceEngine(rs);
  const wasm = createWasmEngine(rs, compileRuleset(rs));
  const packet = (destination: string) =>
    resolveQuery({ protocol: 'tcp', destination, port: 80, origin: 'host', outInterface: 'eni1a+' }, rs.node).pkt;

  test('an IPv4 packet fails nfproto ipv6 first: no interface question, no branch, on both engines', () => {
    const v4 = packet('10.0.0.1');
    expect(compareAllWalks(ref, wasm, v4)).toBe(1);
    const w = wasm.walk(v4, []);
    expect(w.assumptions.filter((a) => /interface/.test(a.reason))).toEqual([]);
    expect(w.decisions).toEqual([]);
  });

  test('an IPv6 packet passes nfproto and asks about the interface (the same on both engines)', () => {
    const v6 = packet('fd00::1');
    expect(compareAllWalks(ref, wasm, v6)).toBeGreaterThan(1);
    expect(ref.walk(v6, []).assumptions.some((a) => /interface eni1a\+ may or may not be eni1a/.test(a.reason))).toBe(true);
  });
});
