// The stepwise open (openWasmEngine through openSharedRulesetStepwise) gives the engine the direct
// open gives: the same words in the instance, so byte-identical explain answers, traces and
// columnar traces — whether the words are copied from the whole form or read piece by piece from
// wherever the whole form is kept (a resident part), and whatever the piece size.
import { describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { compileShared, openSharedRuleset, openSharedRulesetStepwise, residentPart, type FillTail } from '../../src/shared-ruleset.js';
import { columnsOf } from '../../src/engine/columns.js';
import type { Query, RulesetBundle } from '../../src/model/contracts.js';
import { corpusFile, fixture } from '../helpers/fixtures.js';

const g = generateIptables({ services: 60, endpoints: 3, seed: 31 });
const { shared } = compileShared({ iptables: g.text, node: g.node });
const queries: Query[] = g.services.flatMap((s, i) => [
  { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const, source: '10.244.1.7', sourcePort: 40000 + i },
  { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'host' as const, source: g.node.addresses?.[0] ?? '192.168.0.10', sourcePort: 41000 + i },
]);
const direct = openSharedRuleset(shared);

/** Everything the ruleset answers, as the bytes the service sends. */
function answers(rs: typeof direct): string[] {
  return [
    ...queries.map((q) => JSON.stringify(rs.explain(q))),
    JSON.stringify(rs.trace(queries, { seed: 3 })),
    JSON.stringify(rs.traceColumns(columnsOf(queries), { seed: 3 })),
    rs.servicesJson(),
  ];
}

describe('opening a shared form stepwise', () => {
  const want = answers(direct);

  it.each([4, 1000, 1 << 20])('copying the words %i bytes a turn answers as the direct open', async (pieceBytes) => {
    let turns = 0;
    let pieces = 0;
    const rs = await openSharedRulesetStepwise(shared, { pieceBytes, yield: async () => void turns++, pieces: (n) => (pieces = n) });
    const words = new Int32Array(shared).length; // upper bound only: the words are a part of the buffer
    expect(pieces).toBeGreaterThanOrEqual(1);
    expect(pieces).toBeLessThanOrEqual(Math.ceil((words * 4) / pieceBytes));
    // A turn after the tables, before each piece (the first also follows making the instance), and
    // before the engine is made; then one before explain's step cache is made and one after it
    // (a set this small makes it in one piece: src/engine/explain.ts prepareExplain).
    expect(turns).toBe(pieces + 4);
    expect(answers(rs)).toEqual(want);
  });

  it('a resident part reads its words through fill, piece by piece, and answers the same', async () => {
    const whole = new Uint8Array(shared);
    const reads: [number, number][] = [];
    const fill: FillTail = async (into, at) => {
      reads.push([at, into.length]);
      into.set(whole.subarray(at, at + into.length));
    };
    const tail = (at: number, length: number) => whole.slice(at, at + length);
    const rs = await openSharedRulesetStepwise(residentPart(shared), { pieceBytes: 4096, yield: async () => {}, fill, tail });
    expect(reads.length).toBeGreaterThan(1);
    // Contiguous ranges that cover the words once.
    for (let i = 1; i < reads.length; i++) expect(reads[i]![0]).toBe(reads[i - 1]![0] + reads[i - 1]![1]);
    expect(answers(rs)).toEqual(want);
  });

  it('a resident part without fill is refused', async () => {
    await expect(openSharedRulesetStepwise(residentPart(shared), { yield: async () => {}, tail: () => new Uint8Array(0) })).rejects.toThrow(/fill/);
  });
});

// Dumps other people wrote: kube-proxy's own nft rules (upstream's test transaction as the kernel
// lists it), a user's Calico/k3s `nft list ruleset` (projectcalico/calico#8025) and an OpenShift
// iptables-save paste (origin#7546), each opened stepwise 4 bytes a turn and as a resident part.
describe.each([
  ['kube-proxy nftables (upstream rules, kernel listing)', { nftables: fixture('nft/kube-proxy-v1.35.txt') }],
  ['Calico k3s nft paste', { nftables: fixture('nft/calico-8025.txt') }],
  ['OpenShift iptables-save paste', { iptables: corpusFile('openshift3-filter', 'iptables.txt')! }],
] as [string, RulesetBundle][])('a real dump opened stepwise: %s', (_name, bundle) => {
  const { shared: real } = compileShared(bundle, { lenient: true });
  const at = openSharedRuleset(real);
  const svcQueries: Query[] = (JSON.parse(at.servicesJson()) as { services: { protocol: Query['protocol']; clusterIP?: string; port: number }[] }).services.flatMap((s) =>
    s.clusterIP ? [{ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const, source: '10.244.1.7', sourcePort: 40001 }] : [],
  );
  const qs: Query[] = [...svcQueries, { protocol: 'tcp', destination: '10.0.0.1', port: 443, origin: 'external', source: '203.0.113.9', sourcePort: 40002 }];
  const all = (rs: typeof at) => [...qs.map((q) => JSON.stringify(rs.explain(q))), JSON.stringify(rs.trace(qs, { seed: 5 })), rs.servicesJson()];
  const want = all(at);

  it('from the whole form, 4 bytes a turn', async () => {
    let pieces = 0;
    const rs = await openSharedRulesetStepwise(real, { pieceBytes: 4, yield: async () => {}, pieces: (n) => (pieces = n) });
    expect(pieces).toBeGreaterThan(100);
    expect(all(rs)).toEqual(want);
  });

  it('as a resident part read through fill', async () => {
    const whole = new Uint8Array(real);
    const fill: FillTail = async (into, from) => into.set(whole.subarray(from, from + into.length));
    const rs = await openSharedRulesetStepwise(residentPart(real), { pieceBytes: 256, yield: async () => {}, fill, tail: (from, length) => whole.slice(from, from + length) });
    expect(all(rs)).toEqual(want);
  });
});
