// Kernel as oracle for the priority walk (SEMANTICS.md "Hooks and base chains"): an iptables nat
// table (iptables-nft, priority −100) plus a foreign nft table loaded with `nft -f` into the lab's
// node namespace. Which DNAT wins, and what a filter chain on either side of the NAT core sees, is
// decided by the kernel and compared with explain on both engines: on the model built with the nft
// builder (src/model/hooks.ts, mirroring the nft text line by line: the walk checked independently
// of the nft parser), and through the library on iptables-save plus the kernel's own
// `nft list ruleset` text and `nft -j` JSON.
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelLab } from '../../src/lab/index.js';
import { explain } from '../../src/engine/explain.js';
import { resolveNode } from '../../src/engine/packet.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { createWasmEngine } from '../../src/engine/wasm.js';
import { parseAddr, parseCidr } from '../../src/model/addr.js';
import { addNftChain, addNftRule, nftTable, type BaseChainSpec, type NftTable } from '../../src/model/hooks.js';
import type { Query } from '../../src/model/contracts.js';
import type { Match, Target } from '../../src/model/rule.js';
import { numberRules, type Ruleset } from '../../src/model/ruleset.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { disagreements, labLifecycle, Timings, type Variant } from './check.js';
import { loadLibrary, loadVariants } from './library.js';

const lib = await loadLibrary();

const SVC = '10.96.0.10';
const OTHER = '10.96.0.11';
const POD_A = '10.244.1.10';
const POD_B = '10.244.2.20';
const PORT = 8080;
const CLIENT = '203.0.113.10';

/** kube-proxy-like iptables nat: the service goes to POD_A. */
const IPTABLES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d ${SVC}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ${POD_A}:${PORT}
-A OUTPUT -d ${SVC}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ${POD_A}:${PORT}
COMMIT
`;

/** One foreign nft table, as text for `nft -f` and as the model explain walks. */
interface Foreign {
  text: string;
  table: NftTable;
}

interface ChainSpec {
  name: string;
  base: BaseChainSpec;
  /** nft rule text and its model. */
  rules: { nft: string; matches: Match[]; target: Target }[];
}

const dstIs = (a: string): Match => ({ kind: 'dst', invert: false, cidr: parseCidr(`${a}/32`)! });
const tcpDport = (p: number): Match[] => [
  { kind: 'proto', invert: false, proto: 6 },
  { kind: 'dport', invert: false, range: { lo: p, hi: p } },
];
const dnatTo = (a: string, p: number): Target => ({ kind: 'DNAT', ranges: [{ lo: parseAddr(a)!, hi: parseAddr(a)!, ports: { lo: p, hi: p } }], random: false, persistent: false });

/** A service DNAT in nft: `ip daddr SVC tcp dport 80 dnat to POD:PORT`. */
function dnatRule(svc: string, pod: string) {
  return { nft: `ip daddr ${svc} tcp dport 80 dnat to ${pod}:${PORT}`, matches: [dstIs(svc), ...tcpDport(80)], target: dnatTo(pod, PORT) };
}

function dropRule(pod: string) {
  return { nft: `ip daddr ${pod} drop`, matches: [dstIs(pod)], target: { kind: 'DROP' } as Target };
}

function foreign(chains: ChainSpec[]): Foreign {
  const lines = ['table ip foreign {'];
  const table = nftTable('ip', 'foreign', 1);
  for (const c of chains) {
    lines.push(`  chain ${c.name} {`);
    const chain = addNftChain(table, { name: c.name, line: lines.length, base: c.base });
    lines.push(`    type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority}; policy accept;`);
    for (const r of c.rules) {
      lines.push(`    ${r.nft}`);
      addNftRule(table, chain, { line: lines.length, text: r.nft, matches: r.matches, target: r.target });
    }
    lines.push('  }');
  }
  lines.push('}');
  return { text: `${lines.join('\n')}\n`, table };
}

interface Scenario {
  name: string;
  foreign: Foreign;
  query: Query;
  /** What the kernel is expected to do (stated, so a vacuous agreement cannot pass). */
  expect: string;
}

const natPre = (priority: number, svc = SVC): ChainSpec => ({ name: 'pre', base: { hook: 'prerouting', type: 'nat', priority }, rules: [dnatRule(svc, POD_B)] });
const ext = (destination: string): Query => ({ protocol: 'tcp', destination, port: 80, source: CLIENT, origin: 'external' });

const SCENARIOS: Scenario[] = [
  { name: 'foreign nat prerouting at −150 beats iptables nat (−100)', foreign: foreign([natPre(-150)]), query: ext(SVC), expect: `${POD_B}:${PORT}` },
  { name: 'foreign nat prerouting at −50 comes after iptables nat: skipped', foreign: foreign([natPre(-50)]), query: ext(SVC), expect: `${POD_A}:${PORT}` },
  { name: 'foreign nat prerouting at −50 maps what iptables nat leaves alone', foreign: foreign([natPre(-50, OTHER)]), query: ext(OTHER), expect: `${POD_B}:${PORT}` },
  {
    name: 'foreign nat output at −150 beats iptables nat OUTPUT (host origin)',
    foreign: foreign([{ name: 'out', base: { hook: 'output', type: 'nat', priority: -150 }, rules: [dnatRule(SVC, POD_B)] }]),
    query: { protocol: 'tcp', destination: SVC, port: 80, origin: 'host' },
    expect: `${POD_B}:${PORT}`,
  },
  {
    // nat chains run at the NAT core (−100): a filter chain at −120 sees the original destination …
    name: 'filter at −120 runs before a nat chain at −150 (sees the service address)',
    foreign: foreign([natPre(-150), { name: 'early', base: { hook: 'prerouting', type: 'filter', priority: -120 }, rules: [dropRule(POD_B)] }]),
    query: ext(SVC),
    expect: `${POD_B}:${PORT}`,
  },
  {
    // … and one at −90 the rewritten one, even when the nat chain says −50.
    name: 'filter at −90 runs after a nat chain at −50 (sees the DNAT)',
    foreign: foreign([natPre(-50, OTHER), { name: 'late', base: { hook: 'prerouting', type: 'filter', priority: -90 }, rules: [dropRule(POD_B)] }]),
    query: ext(OTHER),
    expect: 'drop',
  },
];

function rulesetOf(iptablesSave: string, table: NftTable, node: ReturnType<KernelLab['nodeContext']>): Ruleset {
  const d = parseIptablesSave(iptablesSave);
  return { v4: d.v4, ipsets: { sets: new Map(), supplied: false }, node: resolveNode(node), warnings: [], nft: [table], ...numberRules(d.v4, undefined, [table]) };
}

describe.skipIf(!availability.ok || !lib.ok)(labSuiteTitle('kernel vs explain: base chains by priority (iptables nat + nft nat/filter)'), () => {
  let lab: KernelLab;
  const timings = new Timings();

  beforeAll(async () => {
    timings.begin();
    lab = await KernelLab.create({ v6: null });
  });

  labLifecycle(() => lab, timings, () => 'base chains by priority');

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const t0 = performance.now();
      if (!lib.ok) return;
      await lab.load({ iptables: IPTABLES, nftables: s.foreign.text });
      await lab.addPods([POD_B]); // the pods' listener on PORT is a wildcard one
      const saved = await lab.save();
      const rs = rulesetOf(saved, s.foreign.table, lab.nodeContext());
      const model = (engine: 'reference' | 'wasm'): Variant['rs'] => {
        const e = engine === 'reference' ? createReferenceEngine(rs) : createWasmEngine(rs);
        return { explain: (q) => explain(rs, e, q) };
      };
      const listings = { 'iptables-save + nft list ruleset': { iptables: saved, nftables: await lab.listNftables() }, 'iptables-save + nft -j': { iptables: saved, nftables: await lab.listNftables({ json: true }) } };
      const variants: Variant[] = [{ name: 'builder model / reference', rs: model('reference') }, { name: 'builder model / wasm', rs: model('wasm') }, ...loadVariants(lib, listings, lab.nodeContext()).variants];
      const predicted = explain(rs, createReferenceEngine(rs), s.query).outcomes;
      expect(predicted.map((o) => (o.verdict === 'accept' ? o.endpoint : o.verdict))).toEqual([s.expect]);
      const observed = await lab.probe({ origin: s.query.origin!, proto: 'tcp', destination: s.query.destination, port: 80, source: s.query.source, count: 8, timeoutMs: 1_500 });
      timings.add(s.name, performance.now() - t0, 8);
      expect(disagreements(variants, s.query, observed, s.name).join('\n')).toBe('');
    });
  }
});
