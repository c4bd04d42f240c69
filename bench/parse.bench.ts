// Load-path bench (issue 12): parse + compile of generated kube-proxy dumps against
// `iptables-restore --test` on the same file, plus services discovery and the model's retained heap.
// Writes bench/results/parse.json and bench/results/parse.md (--out to write elsewhere).
//
//   nice -n 10 node --expose-gc --import tsx bench/parse.bench.ts [--sizes 10000,20000] [--endpoints 10]
//                                [--no-restore] [--out bench/results/parse] [--label after]
//
// "parse" is parseIptablesSave + numberRules (as bench/engine-suite.ts measures it), "compile" the
// engine's compileRuleset. Wall and CPU time (process.cpuUsage: includes GC helper threads) are both
// given: the machine is shared, so wall time moves with the load average printed beside it.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveNode } from '../src/engine/packet.js';
import { compileRuleset } from '../src/engine/wasm.js';
import { generateIptables } from '../src/kube/generate.js';
import { discoverServices } from '../src/kube/services.js';
import { numberRules, type Ruleset } from '../src/model/ruleset.js';
import { parseIptablesSave } from '../src/parse/iptables.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,20000' },
    endpoints: { type: 'string', default: '10' },
    'no-restore': { type: 'boolean', default: false },
    out: { type: 'string', default: new URL('./results/parse', import.meta.url).pathname },
    label: { type: 'string', default: '' },
  },
});

interface Row {
  services: number;
  dumpMB: number;
  rules: number;
  parseMs: number;
  compileMs: number;
  parseCpuMs: number;
  compileCpuMs: number;
  servicesMs: number;
  retainedMB: number | null;
  restoreMs: number | null;
  restoreNote?: string;
  ratio: number | null;
  load: string;
}

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  return process.memoryUsage().heapUsed;
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** `iptables-restore --test` in a namespace of this bench's own (root, iptables and ip needed). */
function restoreTest(text: string): { ms: number | null; note?: string } {
  if (process.getuid?.() !== 0) return { ms: null, note: 'not root' };
  const ns = `lf-parse-bench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'lf-parse-bench-'));
  const file = join(dir, 'dump.txt');
  writeFileSync(file, text);
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
    const t0 = performance.now();
    const r = spawnSync('ip', ['netns', 'exec', ns, 'iptables-restore', '--test', file], { encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0) return { ms: null, note: `iptables-restore --test failed: ${(r.stderr || '').trim().split('\n')[0]}` };
    return { ms: r1(ms) };
  } catch (e) {
    return { ms: null, note: String((e as Error).message).split('\n')[0] };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One size, in a function of its own so nothing of the previous size stays reachable from this frame. */
function measure(services: number): Row {
  const gen = generateIptables({ services, endpoints: Number(args.endpoints), seed: 1 });
  const text = gen.text;
  const h0 = heap();
  let w0 = performance.now();
  let c0 = cpu();
  const d = parseIptablesSave(text);
  const rs: Ruleset = { v4: d.v4, v6: d.v6, ipsets: { sets: new Map(), supplied: false }, node: resolveNode(gen.node), warnings: d.warnings, ...numberRules(d.v4, d.v6) };
  const parseMs = performance.now() - w0;
  const parseCpuMs = cpu() - c0;
  w0 = performance.now();
  c0 = cpu();
  const compiled = compileRuleset(rs);
  const compileMs = performance.now() - w0;
  const compileCpuMs = cpu() - c0;
  w0 = performance.now();
  const svcs = discoverServices(rs);
  const servicesMs = performance.now() - w0;
  const retainedMB = gc ? (heap() - h0) / 1e6 : null;
  if (svcs.length === 0 || compiled.words.length === 0) throw new Error('nothing loaded');
  const restore = args['no-restore'] ? { ms: null, note: 'skipped (--no-restore)' } : restoreTest(text);
  const row: Row = {
    services,
    dumpMB: r1(Buffer.byteLength(text) / 1e6),
    rules: rs.rules.length,
    parseMs: r1(parseMs),
    compileMs: r1(compileMs),
    parseCpuMs: r1(parseCpuMs),
    compileCpuMs: r1(compileCpuMs),
    servicesMs: r1(servicesMs),
    retainedMB: retainedMB === null ? null : r1(retainedMB),
    restoreMs: restore.ms,
    ...(restore.note ? { restoreNote: restore.note } : {}),
    ratio: restore.ms === null ? null : r1(restore.ms / (parseMs + compileMs)),
    load: loadavg().map((x) => x.toFixed(1)).join(' '),
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const rows: Row[] = [];
for (const services of args.sizes.split(',').map(Number)) rows.push(measure(services));

const meta = { date: new Date().toISOString(), node: process.version, cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`, label: args.label, command: process.argv.slice(1).join(' ') };
const md = [
  `# Load-path bench${args.label ? ` (${args.label})` : ''}`,
  '',
  ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
  '',
  '| services | dump MB | rules | parse ms | compile ms | parse CPU ms | compile CPU ms | services ms | model heap MB | iptables-restore --test ms | restore ÷ (parse+compile) | load avg |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.services} | ${r.dumpMB} | ${r.rules} | ${r.parseMs} | ${r.compileMs} | ${r.parseCpuMs} | ${r.compileCpuMs} | ${r.servicesMs} | ${r.retainedMB ?? '–'} | ${r.restoreMs ?? r.restoreNote} | ${r.ratio ?? '–'} | ${r.load} |`),
  '',
].join('\n');
await mkdir(join(args.out, '..'), { recursive: true });
await writeFile(`${args.out}.json`, `${JSON.stringify({ meta, rows }, null, 2)}\n`);
await writeFile(`${args.out}.md`, md);
process.stdout.write(md);
