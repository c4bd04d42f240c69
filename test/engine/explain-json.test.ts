// writeExplainJson writes the bytes Buffer.from(JSON.stringify(result)) holds, and nothing else:
// over real explain answers (the bundled examples, a generated node in the shared form, an nft -j
// node, IPVS, users' pasted dumps), each query asked twice so the second answer's shared path steps
// come from their remembered bytes; and over arbitrary results (fast-check) with strings JSON
// escapes (quotes, backslashes, controls, non-ASCII, lone surrogates), odd numbers, members left out.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { explainJson, JsonBytes, rememberJson, writeExplainJson } from '../../src/engine/explain-json.js';
import { EXAMPLES_DIR, readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import { formatAddr } from '../../src/model/addr.js';
import type { ExplainResult, Query, RulesetBundle } from '../../src/model/contracts.js';
import { loadRuleset, type LoadedRuleset } from '../../src/ruleset.js';
import { compileShared, openSharedRuleset } from '../../src/shared-ruleset.js';
import { corpusFile, fixture } from '../helpers/fixtures.js';

/** The bytes writeExplainJson writes after something else already in the output (offsets matter). */
function written(r: ExplainResult, out = new JsonBytes(64)): Buffer {
  out.at = 0;
  out.ascii('xyz');
  writeExplainJson(out, r);
  return Buffer.from(out.buf.subarray(3, out.at));
}

function expectSame(r: ExplainResult, what: string): void {
  const want = JSON.stringify(r);
  const got = written(r);
  if (!got.equals(Buffer.from(want, 'utf8'))) expect(got.toString('utf8'), what).toBe(want);
  expect(explainJson(r), what).toBe(want);
}

interface Answering {
  ruleset: LoadedRuleset['ruleset'];
  explain(q: Query): ExplainResult;
}
type ServiceLike = { clusterIP?: string | null; protocol: Query['protocol']; port: number; nodePort?: number | undefined };

/** Every service from each origin, its node port, and a few packets that match no service. */
function queriesOf(rs: Answering, services: ServiceLike[]): Query[] {
  const node = rs.ruleset.node;
  const out: Query[] = [];
  for (const s of services) {
    if (!s.clusterIP) continue;
    const f = s.clusterIP.includes(':') ? 6 : 4;
    const host = node.addresses.find((a) => a.family === f);
    for (const origin of ['pod', 'host', 'external'] as const) out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin });
    if (s.nodePort !== undefined && host) out.push({ protocol: s.protocol, destination: formatAddr(host), port: s.nodePort, origin: 'external' });
  }
  out.push({ protocol: 'tcp', destination: '10.96.255.254', port: 81, origin: 'external' });
  out.push({ protocol: 'udp', destination: '8.8.8.8', port: 53, origin: 'pod' });
  out.push({ protocol: 'icmp', destination: '1.1.1.1', origin: 'host' });
  out.push({ protocol: 'tcp', destination: '2001:db8::99', port: 443, origin: 'external' });
  return out;
}

/** Each query twice: the second answer's path steps are the shared, remembered ones. */
function checkAll(name: string, rs: Answering, services: ServiceLike[]): number {
  let n = 0;
  for (let round = 0; round < 2; round++) {
    for (const q of queriesOf(rs, services)) {
      let r: ExplainResult;
      try {
        r = rs.explain(q);
      } catch {
        continue; // a query this node cannot take (an IPv6 packet on an IPv4-only node): no answer to write
      }
      expectSame(r, `${name} ${JSON.stringify(q)}`);
      n++;
    }
  }
  return n;
}

describe('writeExplainJson equals JSON.stringify on real answers', () => {
  for (const name of readdirSync(EXAMPLES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
    test(`example ${name}, both engines`, () => {
      const bundle = readNodeDir(join(EXAMPLES_DIR, name))!;
      for (const engine of ['wasm', 'reference'] as const) {
        const rs = loadRuleset(bundle, { engine });
        expect(checkAll(name, rs, rs.services())).toBeGreaterThan(8);
      }
    });
  }

  test('a generated 1,000-service node, answered from the shared compiled form (as the workers do)', () => {
    const g = generateIptables({ services: 1000, endpoints: 5, seed: 3 });
    const rs = openSharedRuleset(compileShared({ iptables: g.text, node: g.node }).shared);
    expect(checkAll('generated-1000', rs, g.services.filter((x) => x.status === 'ok') as ServiceLike[])).toBeGreaterThan(6000);
  });

  test('an nft -j node, with handles', () => {
    const bundle: RulesetBundle = { ...readNodeDir(join(EXAMPLES_DIR, 'nft-node'))!, nftables: fixture('nft/nft-node.json') };
    delete bundle.iptables;
    const rs = loadRuleset(bundle);
    let handles = 0;
    for (const q of queriesOf(rs, rs.services())) handles += rs.explain(q).outcomes.flatMap((o) => o.path).filter((s) => s.handle !== undefined).length;
    expect(handles).toBeGreaterThan(0);
    expect(checkAll('nft-node.json', rs, rs.services())).toBeGreaterThan(8);
  });

  test("users' dumps: a kube-proxy nft paste (calico#8025) and the iptables corpus", () => {
    const calico = loadRuleset({ nftables: fixture('nft/calico-8025.txt') }, { lenient: true });
    expect(checkAll('calico-8025', calico, calico.services())).toBeGreaterThanOrEqual(4);
    let loaded = 0;
    for (const name of readdirSync(new URL('../corpus/', import.meta.url))) {
      const iptables = corpusFile(name, 'iptables.txt');
      if (iptables === undefined) continue;
      const ipvs = corpusFile(name, 'ipvs.txt');
      let rs: LoadedRuleset;
      try {
        rs = loadRuleset({ iptables, ...(ipvs ? { ipvs } : {}), node: { addresses: ['192.168.1.10'] } }, { lenient: true });
      } catch {
        continue; // a paste that does not load even leniently (its own tests say why)
      }
      checkAll(name, rs, rs.services());
      loaded++;
    }
    expect(loaded).toBeGreaterThan(5);
  });

  test('answers with unknown conditions (ipset contents not given): assumes and uncertain', () => {
    const bundle = readNodeDir(join(EXAMPLES_DIR, 'calico-node'))!;
    delete bundle.ipsets;
    const rs = loadRuleset(bundle);
    let assumed = 0;
    for (const q of queriesOf(rs, rs.services())) {
      const r = rs.explain(q);
      assumed += r.uncertain.length;
      expectSame(r, JSON.stringify(q));
    }
    expect(assumed).toBeGreaterThan(0);
  });
});

// --- arbitrary results -------------------------------------------------------------------------

/** Strings JSON.stringify must escape or encode: ASCII, quotes, backslashes, controls, non-ASCII, lone surrogates. */
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\n', '\u007f', '\u2028', '\ud800', '\udfff', 'é', '😀', 'a', '/') }),
  fc.string({ unit: 'binary' }),
);
const oddNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1e21, 1e-7, 0.1 + 0.2));
const step = fc
  .record(
    {
      family: fc.constantFrom('ip', 'ip6', 'inet'),
      table: oddString,
      chain: oddString,
      index: oddNumber,
      line: oddNumber,
      handle: oddNumber,
      rule: oddString,
      policy: oddString,
      ipvs: oddString,
    },
    { requiredKeys: ['family', 'table', 'chain', 'line', 'rule'] },
  )
  // Shared steps are frozen and remembered (explain.ts); per-answer ones are plain objects.
  .chain((s) => fc.constantFrom(s, Object.freeze(s), rememberJson(Object.freeze({ ...s }))));
const outcome = fc.record(
  {
    probability: oddNumber,
    verdict: fc.constantFrom('accept', 'drop', 'reject'),
    endpoint: oddString,
    masquerade: fc.boolean(),
    source: oddString,
    path: fc.array(step, { maxLength: 6 }),
    assumes: fc.array(fc.record({ line: oddNumber, condition: oddString, holds: fc.boolean() }), { maxLength: 2 }),
    rulesEvaluated: oddNumber,
    rejectWith: fc.option(oddString, { nil: undefined }),
    outInterface: fc.option(oddString, { nil: undefined }),
    notes: fc.array(oddString, { maxLength: 2 }),
  },
  { requiredKeys: ['probability', 'verdict', 'endpoint', 'masquerade', 'source', 'path', 'assumes', 'rulesEvaluated'] },
);
const result = fc.record({
  query: fc.record({ protocol: fc.constantFrom('tcp', 'udp'), destination: oddString, port: fc.option(oddNumber, { nil: undefined }), inInterface: fc.option(oddString, { nil: null }) }),
  outcomes: fc.array(outcome, { maxLength: 4 }),
  uncertain: fc.array(fc.record({ line: oddNumber, table: oddString, chain: oddString, rule: oddString, reason: oddString }), { maxLength: 2 }),
  warnings: fc.array(oddString, { maxLength: 2 }),
});

describe('writeExplainJson equals JSON.stringify on arbitrary results', () => {
  test('odd strings and numbers, members set to undefined, steps shared across results', () => {
    const out = new JsonBytes(16);
    fc.assert(
      fc.property(result, fc.array(fc.constantFrom('probability', 'source', 'path', 'notes', 'verdict')), (r, holes) => {
        const res = r as unknown as ExplainResult;
        // Members JSON.stringify leaves out (undefined, a function) or writes as null in an array.
        for (const [i, o] of res.outcomes.entries()) if (holes[i] !== undefined) (o as unknown as Record<string, unknown>)[holes[i]!] = i % 2 ? undefined : () => 1;
        const want = Buffer.from(JSON.stringify(res), 'utf8');
        expect(written(res, out).equals(want)).toBe(true);
        expect(explainJson(res)).toBe(JSON.stringify(res));
      }),
      { numRuns: 400 },
    );
  });

  test('what JSON.stringify does by itself: toJSON, array elements left out, a bigint', () => {
    const s = rememberJson(Object.freeze({ family: 'ip', table: 'nat', chain: 'X', line: 1, rule: 'r' }));
    const base = { query: { protocol: 'tcp' }, outcomes: [], uncertain: [], warnings: [] };
    const cases: unknown[] = [
      { ...base, outcomes: [{ probability: 1, path: [s, undefined, () => 1, Symbol('x'), s] }] },
      { ...base, outcomes: [{ probability: 1, path: Object.assign([s], { toJSON: () => 'custom' }) }] },
      { ...base, outcomes: [{ toJSON: () => ({ replaced: true }) }, s, 'text', null] },
      { ...base, toJSON: () => 'whole' },
      Object.assign(Object.create(null) as object, base, { warnings: ['no prototype'] }),
      { ...base, outcomes: [{ probability: 1, path: [new Date(0)] }] },
    ];
    for (const c of cases) expectSame(c as ExplainResult, JSON.stringify(c) ?? 'undefined');
    const big = { ...base, outcomes: [{ probability: 1n }] } as unknown as ExplainResult;
    expect(() => JSON.stringify(big)).toThrow(TypeError);
    expect(() => writeExplainJson(new JsonBytes(), big)).toThrow(TypeError);
  });

  test('a step is remembered only when its JSON can never change', () => {
    const out = new JsonBytes();
    const open = { family: 'ip', table: 'nat', chain: 'X', line: 1, rule: 'r' };
    rememberJson(open); // not frozen: it may change, so it is not remembered
    open.rule = 'changed';
    const r = { query: {}, outcomes: [{ path: [open] }], uncertain: [], warnings: [] } as unknown as ExplainResult;
    expect(written(r, out).toString()).toBe(JSON.stringify(r));
    let n = 0;
    const getter = Object.freeze(Object.defineProperty({ family: 'ip' }, 'line', { get: () => ++n, enumerable: true }));
    rememberJson(getter);
    const g = { query: {}, outcomes: [{ path: [getter, getter] }], uncertain: [], warnings: [] } as unknown as ExplainResult;
    expect(written(g, out).toString()).toBe('{"query":{},"outcomes":[{"path":[{"family":"ip","line":1},{"family":"ip","line":2}]}],"uncertain":[],"warnings":[]}');
    const nested = Object.freeze({ family: 'ip', inner: { x: 1 } });
    rememberJson(nested);
    nested.inner.x = 2;
    const m = { query: {}, outcomes: [{ path: [nested] }], uncertain: [], warnings: [] } as unknown as ExplainResult;
    expect(written(m, out).toString()).toBe(JSON.stringify(m));
  });

  test('an enumerable member on Object.prototype: JSON.stringify ignores it, and so does the writer', () => {
    const r = { query: {}, outcomes: [{ probability: 0.5, path: [] }], uncertain: [], warnings: [] } as unknown as ExplainResult;
    (Object.prototype as Record<string, unknown>).polluted = 1;
    try {
      expectSame(r, 'polluted prototype');
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });
});
