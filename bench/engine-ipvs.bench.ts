// IPVS mode vs iptables mode (issue 5): the same generated services (same seed) rendered as a
// kube-proxy iptables-mode dump and as an IPVS-mode node (iptables + ipset save + ipvsadm-save),
// the same packet mix (70% cluster IPs from pods, 20% node ports from outside, 10% misses), both
// engines. Writes bench/results/engine-ipvs.json and .md.
//
//   npx tsx bench/engine-ipvs.bench.ts [--sizes 1000,10000,20000] [--endpoints 10] [--cpu-ms 800] [--batch 1000]

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { cpuPerCall } from './engine-suite.js';
import { explain } from '../src/engine/explain.js';
import { resolveNode, resolveQuery } from '../src/engine/packet.js';
import { createReferenceEngine } from '../src/engine/reference.js';
import type { WalkPacket } from '../src/engine/types.js';
import { compileRuleset, createWasmEngine } from '../src/engine/wasm.js';
import { generateIptables } from '../src/kube/generate.js';
import { generateIpvs } from '../src/kube/generate-ipvs.js';
import { numberRules, type Ruleset } from '../src/model/ruleset.js';
import { parseIpsets } from '../src/parse/ipset.js';
import { parseIptablesSave } from '../src/parse/iptables.js';
import { parseIpvs } from '../src/parse/ipvs.js';
import { makeQueries } from './engine-suite.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,20000' },
    endpoints: { type: 'string', default: '10' },
    'cpu-ms': { type: 'string', default: '800' },
    batch: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
  },
});
const endpoints = Number(args.endpoints);
const cpuMs = Number(args['cpu-ms']);
const batch = Number(args.batch);
const seed = Number(args.seed);

interface ModeResult {
  mode: 'iptables' | 'ipvs';
  services: number;
  rules: number;
  ipsetEntries: number;
  virtualServers: number;
  compileMs: number;
  compiledMB: number;
  meanRulesEvaluated: number;
  wasmCpuUsPerPacket: number;
  referenceCpuUsPerPacket: number;
  ratio: number;
  explainWasmCpuUs: number;
  explainReferenceCpuUs: number;
  /** Trace batches / walks the wasm engine handed to the reference (0: the whole walk ran in wasm). */
  hostTraces: number;
  hostWalks: number;
}

function round(x: number, d = 2): number {
  return Number(x.toFixed(d));
}

function run(mode: 'iptables' | 'ipvs', services: number, rs: Ruleset, queries: ReturnType<typeof makeQueries>): ModeResult {
  let t0 = performance.now();
  const compiled = compileRuleset(rs);
  const compileMs = performance.now() - t0;
  const wasm = createWasmEngine(rs, compiled);
  const ref = createReferenceEngine(rs);
  const pkts: WalkPacket[] = queries.map((q) => resolveQuery(q, rs.node).pkt);
  const a = wasm.trace(pkts, seed);
  const b = ref.trace(pkts, seed);
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${mode} ${services}: wasm and reference traces differ`);
  const meanRulesEvaluated = a.reduce((s, r) => s + r.rulesEvaluated, 0) / a.length;
  const w = cpuPerCall(cpuMs, () => void wasm.trace(pkts, seed)) / batch;
  const r = cpuPerCall(cpuMs, () => void ref.trace(pkts, seed)) / batch;
  const svcQueries = queries.filter((q) => q.origin === 'pod').slice(0, 64);
  let i = 0;
  const ew = cpuPerCall(cpuMs, () => void explain(rs, wasm, svcQueries[i++ % svcQueries.length]));
  const er = cpuPerCall(cpuMs, () => void explain(rs, ref, svcQueries[i++ % svcQueries.length]));
  t0 = performance.now();
  return {
    mode,
    services,
    rules: rs.rules.length,
    ipsetEntries: [...rs.ipsets.sets.values()].reduce((s, x) => s + x.entries.length, 0),
    virtualServers: rs.ipvs?.services.length ?? 0,
    compileMs: round(compileMs, 1),
    compiledMB: round(compiled.words.byteLength / 1e6),
    meanRulesEvaluated: round(meanRulesEvaluated, 1),
    wasmCpuUsPerPacket: round(w, 3),
    referenceCpuUsPerPacket: round(r, 3),
    ratio: round(r / w, 1),
    explainWasmCpuUs: round(ew, 1),
    explainReferenceCpuUs: round(er, 1),
    hostTraces: wasm.stats.hostTraces,
    hostWalks: wasm.stats.hostWalks,
  };
}

const results: ModeResult[] = [];
for (const services of args.sizes.split(',').map(Number)) {
  const ipt = generateIptables({ services, endpoints, seed });
  const d = parseIptablesSave(ipt.text);
  const rsIpt: Ruleset = { v4: d.v4, v6: d.v6, ipsets: { sets: new Map(), supplied: false }, node: resolveNode(ipt.node), warnings: d.warnings, ...numberRules(d.v4, d.v6) };
  const gen = generateIpvs({ services, endpoints, seed });
  const di = parseIptablesSave(gen.iptables);
  const ipvs = parseIpvs(gen.ipvs);
  const rsIpvs: Ruleset = { v4: di.v4, v6: di.v6, ipsets: parseIpsets(gen.ipsets), ipvs, node: resolveNode(gen.node, ipvs), warnings: di.warnings, ...numberRules(di.v4, di.v6) };
  const queries = makeQueries(ipt.services, ipt.node.addresses[0], batch, seed + services);
  for (const [mode, rs] of [['iptables', rsIpt], ['ipvs', rsIpvs]] as const) {
    const r = run(mode, services, rs, queries);
    process.stderr.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  }
}

const meta = { date: new Date().toISOString(), node: process.version, cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`, 'load average at end': loadavg().map((x) => x.toFixed(1)).join(' '), 'trace batch': batch, endpoints };
const head = '| services | mode | rules | ipset entries | virtual servers | compile ms | mean rulesEvaluated | wasm µs/pkt (CPU) | reference µs/pkt (CPU) | ratio | explain wasm µs | explain reference µs | host hand-offs |';
const rows = results.map((r) => `| ${r.services} | ${r.mode} | ${r.rules} | ${r.ipsetEntries} | ${r.virtualServers} | ${r.compileMs} | ${r.meanRulesEvaluated} | ${r.wasmCpuUsPerPacket} | ${r.referenceCpuUsPerPacket} | ${r.ratio}× | ${r.explainWasmCpuUs} | ${r.explainReferenceCpuUs} | ${r.hostTraces + r.hostWalks} |`);
const md = [
  '# IPVS mode vs iptables mode (same services, same packets)',
  '',
  `${meta.date}, Node ${meta.node}, ${meta.cpu}, load ${meta['load average at end']}; ${endpoints} endpoints per service, trace batches of ${batch} packets (70% cluster IPs from pods, 20% node ports from outside, 10% misses); CPU time per packet.`,
  '',
  head,
  `|${head.split('|').slice(1, -1).map(() => '---').join('|')}|`,
  ...rows,
  '',
  'IPVS mode: a packet crosses a handful of rules (ipset lookups decide) and the IPVS stage, so rulesEvaluated stays flat; iptables mode walks KUBE-SERVICES (indexed in wasm, linear in the reference). Host hand-offs 0: ipset lookups and IPVS scheduling run inside the wasm walk.',
  '',
].join('\n');
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(new URL('./results/engine-ipvs.json', import.meta.url), `${JSON.stringify({ meta, results }, null, 2)}\n`);
await writeFile(new URL('./results/engine-ipvs.md', import.meta.url), md);
process.stdout.write(md);
