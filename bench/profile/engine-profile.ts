// Where uncached explain and columnar batch trace spend their time on a generated node.
// With --prof DIR, the two measured phases (not the setup) are profiled into DIR/explain.cpuprofile
// and DIR/trace.cpuprofile; summarize them with bench/profile/summarize.ts.
//   tsx bench/profile/engine-profile.ts [services=10000] [explains=20000] [packets=2000000] [--prof DIR]

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { buildRuleset, makeQueries } from '../engine-suite.js';
import { explain } from '../../src/engine/explain.js';
import { compileRuleset, createWasmEngine } from '../../src/engine/wasm.js';
import { columnsOf, traceColumns } from '../../src/engine/columns.js';
import { generateIptables } from '../../src/kube/generate.js';

const argv = process.argv.slice(2);
const profAt = argv.indexOf('--prof');
const profDir = profAt >= 0 ? argv.splice(profAt, 2)[1] : undefined;
const services = Number(argv[0] ?? 10000);
const explains = Number(argv[1] ?? 20000);
const packets = Number(argv[2] ?? 2000000);
const session = new Session();
session.connect();
async function profiled(name: string, fn: () => void): Promise<void> {
  if (!profDir) return fn();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  fn();
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(`${profDir}/${name}.cpuprofile`, JSON.stringify(profile));
}
const gen = generateIptables({ services, endpoints: 10, seed: 1 });
const rs = buildRuleset(gen.text, gen.node);
const engine = createWasmEngine(rs, compileRuleset(rs));
const queries = makeQueries(gen.services, gen.node.addresses[0]!, 4096, 7);
const pod = queries.filter((q) => q.origin === 'pod').slice(0, 64);
for (let i = 0; i < 2000; i++) explain(rs, engine, pod[i % pod.length]!); // warm up
(globalThis as { gc?: () => void }).gc?.(); // the load's garbage, collected before the timed phase (--expose-gc)
let t0 = performance.now();
let c0 = process.cpuUsage();
await profiled('explain', () => {
  for (let i = 0; i < explains; i++) explain(rs, engine, pod[i % pod.length]!);
});
const explainUs = ((performance.now() - t0) * 1000) / explains;
const cpu = process.cpuUsage(c0);
const explainCpuUs = (cpu.user + cpu.system) / explains;
const cols = columnsOf(queries.map((q, i) => ({ ...q, source: q.origin === 'pod' ? '10.244.1.7' : '203.0.113.9', sourcePort: 30000 + (i % 30000) })));
traceColumns(rs.node, engine, cols, 0); // warm up
t0 = performance.now();
c0 = process.cpuUsage();
let done = 0;
await profiled('trace', () => {
  while (done < packets) {
    traceColumns(rs.node, engine, cols, done);
    done += queries.length;
  }
});
const pps = done / ((performance.now() - t0) / 1000);
const c1 = process.cpuUsage(c0);
const cpuPps = done / ((c1.user + c1.system) / 1e6);
console.log(JSON.stringify({ services, explainUs: Number(explainUs.toFixed(2)), explainCpuUs: Number(explainCpuUs.toFixed(2)), traceColumnsPps: Math.round(pps), traceColumnsCpuPps: Math.round(cpuPps) }));
