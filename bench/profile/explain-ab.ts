// In-process explain on a generated node, for before/after comparisons: the same script is copied
// into an old checkout and both are run back to back. Prints CPU µs per explain (min over rounds),
// wall p50, and a hash of every answer's JSON (old and new must print the same hash).
//   tsx bench/profile/explain-ab.ts [services=1000] [explainsPerRound=5000] [rounds=5] [--prof FILE]

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { buildRuleset, makeQueries } from '../engine-suite.js';
import { explain } from '../../src/engine/explain.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { generateIptables } from '../../src/kube/generate.js';

const argv = process.argv.slice(2);
const profAt = argv.indexOf('--prof');
const profFile = profAt >= 0 ? argv.splice(profAt, 2)[1] : undefined;
const services = Number(argv[0] ?? 1000);
const perRound = Number(argv[1] ?? 5000);
const rounds = Number(argv[2] ?? 5);

const gen = generateIptables({ services, endpoints: 10, seed: 1 });
const rs = buildRuleset(gen.text, gen.node);
const engine = createWasmEngine(rs, compileRuleset(rs));
const queries = makeQueries(gen.services, gen.node.addresses[0]!, 4096, 7);
// the engine suite's explain set: the first 64 pod queries (cluster IPs, a few misses)
const pod = queries.filter((q) => q.origin === 'pod').slice(0, 64);
// every query of the mix once: the answers' hash
const hash = createHash('sha256');
for (const q of queries.slice(0, 1024)) hash.update(JSON.stringify(explain(rs, engine, q)));
const digest = hash.digest('hex').slice(0, 16);
for (let i = 0; i < 3000; i++) explain(rs, engine, pod[i % pod.length]!); // warm up
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();

let session: Session | undefined;
if (profFile) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
let best = Infinity;
const lat: number[] = [];
for (let r = 0; r < rounds; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < perRound; i++) {
    const t0 = performance.now();
    explain(rs, engine, pod[i % pod.length]!);
    lat.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  best = Math.min(best, (c.user + c.system) / perRound);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(profFile!, JSON.stringify(profile));
}
lat.sort((a, b) => a - b);
const p50 = lat[Math.floor(lat.length / 2)]! * 1000;
console.log(JSON.stringify({ services, cpuUsMin: Number(best.toFixed(2)), p50Us: Number(p50.toFixed(2)), answers: digest }));
