// Before/after explain in ONE process: each given checkout's modules (its own src/ and build/) are
// loaded side by side, each builds the same generated node, and timed rounds alternate between them
// so machine load drifts hit both alike. Prints per checkout CPU µs per explain (min over rounds),
// the fastest round's wall µs per explain, wall p50, and a hash of its answers' JSON over the query mix (must be equal).
//   tsx bench/profile/explain-ab-same.ts services perRound rounds DIR_A DIR_B [...]

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [servicesArg, perRoundArg, roundsArg, ...dirs] = process.argv.slice(2);
const services = Number(servicesArg ?? 1000);
const perRound = Number(perRoundArg ?? 3000);
const rounds = Number(roundsArg ?? 7);
if (dirs.length === 0) throw new Error('usage: explain-ab-same.ts services perRound rounds DIR...');

type ExplainFn = (q: unknown) => unknown;
interface Side {
  dir: string;
  run: ExplainFn;
  pod: unknown[];
  digest: string;
  best: number;
  /** Wall µs per explain of the fastest round. */
  bestWall: number;
  lat: number[];
}

const imp = (dir: string, f: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(dir, f)).href);
const sides: Side[] = [];
for (const dir of dirs) {
  const suite = await imp(dir, 'bench/engine-suite.ts');
  const ex = await imp(dir, 'src/engine/explain.ts');
  const w = await imp(dir, 'src/engine/wasm.ts');
  const g = await imp(dir, 'src/kube/generate.ts');
  const gen = (g.generateIptables as (o: object) => { text: string; node: { addresses: string[] }; services: unknown[] })({ services, endpoints: 10, seed: 1 });
  const rs = (suite.buildRuleset as (t: string, n: unknown) => unknown)(gen.text, gen.node);
  const engine = (w.createWasmEngine as (rs: unknown, c: unknown) => unknown)(rs, (w.compileRuleset as (rs: unknown) => unknown)(rs));
  const explain = ex.explain as (rs: unknown, e: unknown, q: unknown) => unknown;
  const queries = (suite.makeQueries as (s: unknown[], ip: string, n: number, seed: number) => { origin: string }[])(gen.services, gen.node.addresses[0]!, 4096, 7);
  const run: ExplainFn = (q) => explain(rs, engine, q);
  const hash = createHash('sha256');
  for (const q of queries.slice(0, 1024)) hash.update(JSON.stringify(run(q)));
  const pod = queries.filter((q) => q.origin === 'pod').slice(0, 64);
  for (let i = 0; i < 3000; i++) run(pod[i % pod.length]);
  sides.push({ dir, run, pod, digest: hash.digest('hex').slice(0, 16), best: Infinity, bestWall: Infinity, lat: [] });
}
const gc = (globalThis as { gc?: () => void }).gc;
for (let r = 0; r < rounds; r++) {
  for (const s of sides) {
    gc?.();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      s.run(s.pod[i % s.pod.length]);
      s.lat.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    s.best = Math.min(s.best, (c.user + c.system) / perRound);
    s.bestWall = Math.min(s.bestWall, ((performance.now() - w0) * 1000) / perRound);
  }
}
for (const s of sides) {
  s.lat.sort((a, b) => a - b);
  const p50 = s.lat[Math.floor(s.lat.length / 2)]! * 1000;
  console.log(JSON.stringify({ dir: s.dir, services, cpuUsMin: Number(s.best.toFixed(2)), wallUsMinRound: Number(s.bestWall.toFixed(2)), p50Us: Number(p50.toFixed(2)), answers: s.digest }));
}
