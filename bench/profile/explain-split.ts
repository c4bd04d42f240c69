// Where an in-process explain's time goes on a generated node: the replayed walks alone (wasm walk
// + record decoding, by engine.walk with each explain's forced-branch lists), the whole explain, and
// the number of walks per explain. CPU µs, min over rounds.
//   tsx bench/profile/explain-split.ts [services=1000] [rounds=5]

import { buildRuleset, makeQueries } from '../engine-suite.js';
import { explain } from '../../src/engine/explain.js';
import { resolveQuery } from '../../src/engine/packet.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { Engine, WalkPacket } from '../../src/engine/types.js';

const services = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 5);
const gen = generateIptables({ services, endpoints: 10, seed: 1 });
const rs = buildRuleset(gen.text, gen.node);
const engine = createWasmEngine(rs, compileRuleset(rs));
const pod = makeQueries(gen.services, gen.node.addresses[0]!, 4096, 7)
  .filter((q) => q.origin === 'pod')
  .slice(0, 64);

// Each explain's walks, as (packet, forced) pairs, recorded through a wrapping engine.
const walks: { pkt: WalkPacket; forced: number[] }[][] = pod.map((q) => {
  const list: { pkt: WalkPacket; forced: number[] }[] = [];
  const spy: Engine = { ...engine, walk: (pkt, forced) => (list.push({ pkt, forced: [...Array.from(forced)] }), engine.walk(pkt, forced)) };
  explain(rs, spy, q);
  return list;
});
const pkts = pod.map((q) => resolveQuery(q, rs.node).pkt);
const nWalks = walks.reduce((s, w) => s + w.length, 0) / walks.length;

function cpu(fn: () => void, n: number): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / n);
  }
  return best;
}
const N = 3000;
const walkUs = cpu(() => {
  for (let i = 0; i < N; i++) {
    const k = i % pkts.length;
    for (const w of walks[k]) engine.walk(pkts[k], w.forced);
  }
}, N);
const explainUs = cpu(() => {
  for (let i = 0; i < N; i++) explain(rs, engine, pod[i % pod.length]);
}, N);
const resolveUs = cpu(() => {
  for (let i = 0; i < N; i++) resolveQuery(pod[i % pod.length], rs.node);
}, N);
console.log(JSON.stringify({ services, walksPerExplain: nWalks, walksUs: Number(walkUs.toFixed(2)), resolveUs: Number(resolveUs.toFixed(2)), explainUs: Number(explainUs.toFixed(2)) }));
