// The engine bench, as a function (bench/engine.bench.ts is the CLI; test/engine/wasm-bench.test.ts
// runs it on a tiny size). For each size: a generated kube-proxy dump of N services × M endpoints,
// parse and compile times, `iptables-restore --test` on the same file where possible, explain
// latency, trace throughput of the wasm and the reference engine, columnar batch trace throughput
// (the library's traceColumns), mean rulesEvaluated, compiled bytes per rule and RSS.

import { cpuPerCall, ms, restoreTest } from './timing.js';
import { Bench } from 'tinybench';
import { explain } from '../src/engine/explain.js';
import { resolveNode, resolveQuery } from '../src/engine/packet.js';
import { createReferenceEngine } from '../src/engine/reference.js';
import type { Engine, WalkPacket } from '../src/engine/types.js';
import { compileRuleset, createWasmEngine } from '../src/engine/wasm.js';
import { generateIptables, type GeneratedService } from '../src/kube/generate.js';
import type { Query } from '../src/model/contracts.js';
import { numberRules, type Ruleset } from '../src/model/ruleset.js';
import { parseIptablesSave } from '../src/parse/iptables.js';
import { mulberry32 } from '../src/engine/types.js';
import { allocResults, columnsOf, COLUMN_VERDICTS, traceColumns } from '../src/engine/columns.js';
import { formatAddr } from '../src/model/addr.js';

export { cpuPerCall, restoreTest };

export interface SizeResult {
  services: number;
  endpoints: number;
  dumpMB: number;
  rules: number;
  parseMs: number;
  compileMs: number;
  /** null when iptables-restore, root or network namespaces are unavailable (see restoreNote). */
  iptablesRestoreTestMs: number | null;
  restoreNote?: string;
  explainP50Us: number;
  explainP99Us: number;
  traceWasmPps: number;
  traceReferencePps: number;
  traceRatio: number;
  /** The library's columnar batch trace (src/engine/columns.ts traceColumns), packets per second and CPU µs per packet. */
  traceColumnsPps: number;
  traceColumnsCpuUsPerPacket: number;
  wasmUsPerPacket: number;
  /** CPU time (process.cpuUsage) per packet / per explain: steadier than wall time on a shared machine. */
  wasmCpuUsPerPacket: number;
  referenceCpuUsPerPacket: number;
  traceCpuRatio: number;
  explainCpuUs: number;
  meanRulesEvaluated: number;
  compiledBytesPerRule: number;
  compiledBytes: number;
  indexRuns: number;
  /** Trace batches the wasm engine handed to the reference (should be 0 on these dumps). */
  hostFallbacks: number;
  rssMB: number;
}

export interface BenchOptions {
  sizes: number[];
  endpoints: number;
  /** Time budget per measured task (ms). */
  taskMs: number;
  /** Packets per trace batch. */
  batch: number;
  /** Packets per columnar trace call (default 65536: the query mix repeated with other source ports). */
  columnsBatch?: number;
  seed: number;
  /** Run iptables-restore --test (needs root, iptables and `ip netns`). */
  restore: boolean;
  log?: (line: string) => void;
}


/** The Ruleset from dump text, as loadRuleset builds it (iptables part only). */
export function buildRuleset(text: string, node: Parameters<typeof resolveNode>[0]): Ruleset {
  const d = parseIptablesSave(text);
  return {
    v4: d.v4,
    v6: d.v6,
    ipsets: { sets: new Map(), supplied: false },
    node: resolveNode(node),
    warnings: d.warnings,
    ...numberRules(d.v4, d.v6),
  };
}

/** A realistic mix: 70% cluster IPs from pods, 20% node ports from outside, 10% misses. */
export function makeQueries(services: GeneratedService[], nodeIP: string, n: number, seed: number): Query[] {
  const rnd = mulberry32(seed);
  const nodePorts = services.filter((s) => s.nodePort !== undefined);
  const out: Query[] = [];
  for (let i = 0; i < n; i++) {
    const u = rnd() / 2 ** 32;
    const s = services[rnd() % services.length];
    if (u < 0.7) {
      out.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' });
    } else if (u < 0.9 && nodePorts.length > 0) {
      const np = nodePorts[rnd() % nodePorts.length];
      out.push({ protocol: np.protocol, destination: nodeIP, port: np.nodePort!, origin: 'external' });
    } else {
      // a random service-CIDR address: almost always no service, so the kernel walks all of KUBE-SERVICES
      out.push({ protocol: 'tcp', destination: `10.${100 + (rnd() % 10)}.${rnd() % 256}.${rnd() % 256}`, port: 80 + (rnd() % 1000), origin: 'pod' });
    }
  }
  return out;
}

/**
 * A full GC when the process runs with --expose-gc: the garbage of loading (the dump text, the
 * generator's objects) is collected before a timed phase instead of inside it, where marking a
 * heap of a GB (20k services) spreads over thousands of explain calls.
 */
const settle = (): void => (globalThis as { gc?: () => void }).gc?.();

async function measure(name: string, taskMs: number, fn: () => void): Promise<{ p50: number; p99: number; mean: number }> {
  settle();
  const bench = new Bench({ time: taskMs, iterations: 5, warmup: true, warmupTime: Math.min(200, taskMs / 4) });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`bench task ${name}: ${r.state}`);
  return { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.mean };
}

export async function benchSize(services: number, o: BenchOptions): Promise<SizeResult> {
  const log = o.log ?? (() => {});
  const gen = generateIptables({ services, endpoints: o.endpoints, seed: o.seed });
  const text = gen.text;
  let t0 = performance.now();
  const rs = buildRuleset(text, gen.node);
  const parseMs = ms(t0);
  t0 = performance.now();
  const compiled = compileRuleset(rs);
  const compileMs = ms(t0);
  log(`  ${services} services: ${rs.rules.length} rules, parse ${parseMs} ms, compile ${compileMs} ms`);
  const restore = o.restore ? restoreTest(text) : { ms: null, note: 'skipped (--no-restore)' };
  if (restore.ms !== null) log(`  iptables-restore --test ${restore.ms} ms`);

  const wasm = createWasmEngine(rs, compiled);
  const ref: Engine = createReferenceEngine(rs);
  const nodeIP = gen.node.addresses[0];
  const queries = makeQueries(gen.services, nodeIP, o.batch, o.seed + services);
  const pkts: WalkPacket[] = queries.map((q) => resolveQuery(q, rs.node).pkt);

  // identical answers first (a bench of a wrong engine is worthless)
  const a = wasm.trace(pkts, o.seed);
  const b = ref.trace(pkts, o.seed);
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`wasm and reference traces differ at ${services} services`);
  const meanRulesEvaluated = a.reduce((s, r) => s + r.rulesEvaluated, 0) / a.length;

  const tw = await measure('trace wasm', o.taskMs, () => void wasm.trace(pkts, o.seed));
  const tr = await measure('trace reference', o.taskMs, () => void ref.trace(pkts, o.seed));
  settle();
  const wasmCpu = cpuPerCall(o.taskMs, () => void wasm.trace(pkts, o.seed)) / o.batch;
  const refCpu = cpuPerCall(o.taskMs, () => void ref.trace(pkts, o.seed)) / o.batch;
  const traceWasmPps = (o.batch / tw.mean) * 1000;
  const traceReferencePps = (o.batch / tr.mean) * 1000;

  // columnar batch trace: the same query mix with trace()'s default sources, repeated with other source ports
  const nCols = o.columnsBatch ?? 65536;
  const colQueries = Array.from({ length: nCols }, (_, i) => {
    const q = queries[i % queries.length];
    const src = formatAddr(pkts[i % queries.length].src);
    return q.protocol === 'icmp' ? { ...q, source: src } : { ...q, source: src, sourcePort: 1024 + (i % 60000) };
  });
  const cols = columnsOf(colQueries);
  const colOut = allocResults(nCols);
  traceColumns(rs.node, wasm, cols, o.seed, colOut);
  const check = wasm.trace(colQueries.slice(0, 2000).map((q) => resolveQuery(q, rs.node).pkt), o.seed);
  check.forEach((r, k) => {
    if (COLUMN_VERDICTS[colOut.verdict[k]] !== r.verdict || colOut.dst[4 * k] !== r.dst.w[0] || colOut.rulesEvaluated[k] !== r.rulesEvaluated) {
      throw new Error(`traceColumns and trace differ at packet ${k} (${services} services)`);
    }
  });
  const tc = await measure('trace columns', o.taskMs, () => void traceColumns(rs.node, wasm, cols, o.seed, colOut));
  settle();
  const colCpu = cpuPerCall(o.taskMs, () => void traceColumns(rs.node, wasm, cols, o.seed, colOut)) / nCols;

  // explain of service IPs (cluster IP from a pod: one walk per endpoint, merged)
  const svcQueries = queries.filter((q) => q.origin === 'pod').slice(0, 64);
  let qi = 0;
  const ex = await measure('explain wasm', o.taskMs, () => void explain(rs, wasm, svcQueries[qi++ % svcQueries.length]));
  settle();
  const explainCpuUs = cpuPerCall(o.taskMs, () => void explain(rs, wasm, svcQueries[qi++ % svcQueries.length]));

  const rssMB = Number((process.memoryUsage().rss / 2 ** 20).toFixed(1));
  const res: SizeResult = {
    services,
    endpoints: o.endpoints,
    dumpMB: Number((Buffer.byteLength(text) / 1e6).toFixed(2)),
    rules: rs.rules.length,
    parseMs,
    compileMs,
    iptablesRestoreTestMs: restore.ms,
    explainP50Us: Number((ex.p50 * 1000).toFixed(1)),
    explainP99Us: Number((ex.p99 * 1000).toFixed(1)),
    traceWasmPps: Math.round(traceWasmPps),
    traceReferencePps: Math.round(traceReferencePps),
    traceRatio: Number((traceWasmPps / traceReferencePps).toFixed(1)),
    traceColumnsPps: Math.round((nCols / tc.mean) * 1000),
    traceColumnsCpuUsPerPacket: Number(colCpu.toFixed(3)),
    wasmUsPerPacket: Number(((tw.mean * 1000) / o.batch).toFixed(3)),
    wasmCpuUsPerPacket: Number(wasmCpu.toFixed(3)),
    referenceCpuUsPerPacket: Number(refCpu.toFixed(2)),
    traceCpuRatio: Number((refCpu / wasmCpu).toFixed(1)),
    explainCpuUs: Number(explainCpuUs.toFixed(1)),
    meanRulesEvaluated: Number(meanRulesEvaluated.toFixed(1)),
    compiledBytesPerRule: Number(compiled.stats.bytesPerRule.toFixed(1)),
    compiledBytes: compiled.stats.bytes,
    indexRuns: compiled.stats.runs,
    hostFallbacks: wasm.stats.hostTraces,
    rssMB,
  };
  if (restore.note) res.restoreNote = restore.note;
  log(
    `  trace wasm ${res.traceWasmPps} pkt/s, reference ${res.traceReferencePps} pkt/s (×${res.traceRatio}); ` +
      `CPU ${res.wasmCpuUsPerPacket} vs ${res.referenceCpuUsPerPacket} µs/pkt (×${res.traceCpuRatio}); traceColumns ${res.traceColumnsPps} pkt/s (CPU ${res.traceColumnsCpuUsPerPacket} µs/pkt); explain p50 ${res.explainP50Us} µs, CPU ${res.explainCpuUs} µs`,
  );
  return res;
}

export async function runEngineBench(o: BenchOptions): Promise<SizeResult[]> {
  const out: SizeResult[] = [];
  for (const n of o.sizes) out.push(await benchSize(n, o));
  return out;
}

/** The markdown report: the table of measured figures and the targets of issue 3. */
export function renderMarkdown(results: SizeResult[], meta: Record<string, string | number>): string {
  const head =
    '| services | dump MB | rules | parse ms | compile ms | iptables-restore --test ms | explain p50 µs | explain p99 µs | explain CPU µs | trace wasm pkt/s | trace reference pkt/s | ratio (wall) | wasm CPU µs/pkt | reference CPU µs/pkt | ratio (CPU) | traceColumns pkt/s | traceColumns CPU µs/pkt | mean rulesEvaluated | bytes/rule | index runs | RSS MB |\n' +
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows = results.map(
    (r) =>
      `| ${r.services} | ${r.dumpMB} | ${r.rules} | ${r.parseMs} | ${r.compileMs} | ${r.iptablesRestoreTestMs ?? `n/a (${r.restoreNote})`} | ${r.explainP50Us} | ${r.explainP99Us} | ${r.explainCpuUs} | ${r.traceWasmPps} | ${r.traceReferencePps} | ${r.traceRatio} | ${r.wasmCpuUsPerPacket} | ${r.referenceCpuUsPerPacket} | ${r.traceCpuRatio} | ${r.traceColumnsPps} | ${r.traceColumnsCpuUsPerPacket} | ${r.meanRulesEvaluated} | ${r.compiledBytesPerRule} | ${r.indexRuns} | ${r.rssMB} |`,
  );
  const by = (n: number) => results.find((r) => r.services === n);
  const targets: string[] = [];
  const r1 = by(1000);
  const r10 = by(10000);
  const r20 = by(20000);
  if (r10) {
    targets.push(
      `- trace ≥ 10× reference at 10k services: ×${r10.traceRatio} wall, ×${r10.traceCpuRatio} CPU → ${Math.min(r10.traceRatio, r10.traceCpuRatio) >= 10 ? 'met' : 'MISSED'}`,
    );
  }
  if (r1 && r20) {
    const k = r20.wasmUsPerPacket / r1.wasmUsPerPacket;
    const kc = r20.wasmCpuUsPerPacket / r1.wasmCpuUsPerPacket;
    const verdict = k <= 1.5 && kc <= 1.5 ? 'met' : k <= 1.5 ? 'met on wall time, MISSED on CPU time' : kc <= 1.5 ? 'met on CPU time, MISSED on wall time' : 'MISSED';
    targets.push(`- wasm per-packet time at 20k ≤ 1.5× at 1k: ×${k.toFixed(2)} wall, ×${kc.toFixed(2)} CPU → ${verdict}`);
  }
  if (r10) targets.push(`- explain ≤ 50 µs p50 at 10k: ${r10.explainP50Us} µs p50 (wall; mean CPU ${r10.explainCpuUs} µs) → ${r10.explainP50Us <= 50 ? 'met' : 'MISSED'}`);
  if (r10 && r10.iptablesRestoreTestMs !== null) {
    const k = r10.iptablesRestoreTestMs / (r10.parseMs + r10.compileMs);
    targets.push(`- parse+compile ≥ 10× faster than iptables-restore --test at 10k: ×${k.toFixed(1)} → ${k >= 10 ? 'met' : 'MISSED'}`);
  }
  if (r20) {
    targets.push(`- library batch trace (traceColumns) ≥ 2M pkt/s on one core at 20k (issue 12): ${r20.traceColumnsPps} pkt/s wall, ${Math.round(1e6 / r20.traceColumnsCpuUsPerPacket)} by CPU time → ${r20.traceColumnsPps >= 2e6 ? 'met' : 'MISSED'}`);
    targets.push(`- in-process explain p50 ≤ 20 µs at 20k (issue 12): ${r20.explainP50Us} µs → ${r20.explainP50Us <= 20 ? 'met' : 'MISSED'}`);
  }
  const worst = Math.max(...results.map((r) => r.compiledBytesPerRule));
  targets.push(`- ≤ 64 bytes per compiled rule: worst ${worst} → ${worst <= 64 ? 'met' : 'MISSED'}`);
  const metaLines = Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`);
  return `# Engine bench\n\n${metaLines.join('\n')}\n\n${head}\n${rows.join('\n')}\n\n## Targets (issues 3 and 12)\n\n${targets.join('\n')}\n`;
}
