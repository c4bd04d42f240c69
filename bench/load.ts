// The load path, measured (issue 12): parse + compile into the shared form vs `iptables-restore
// --test` on the same files, columnar batch trace (library, one core; and over HTTP at c=32),
// in-process explain on the shared form; then a real server process: memory added per loaded
// rule set (RSS of the whole process, every worker included, after the loader has exited and a
// GC), 201 → first explain, restart → first answer for a persisted set, SIGTERM → exit.
// Writes bench/results/load.json and bench/results/load.md.
//
//   node --expose-gc --import tsx bench/load.ts [--sizes 10000,20000] [--endpoints 10] [--no-restore] [--restore-max N] [--no-server] [--no-library]

import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { generateIptables } from '../src/kube/generate.js';
import { compileShared, openSharedRuleset } from '../src/shared-ruleset.js';
import { columnsOf } from '../src/engine/columns.js';
import { encodePackets, PACKETS_TYPE } from '../src/engine/columns-wire.js';
import type { Query } from '../src/model/contracts.js';
import { cpuMs, restoreTest } from './timing.js';
import { rssMiB, startServer, stopServer, until200 } from './server-process.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,20000' },
    endpoints: { type: 'string', default: '10' },
    'no-restore': { type: 'boolean', default: false },
    'no-server': { type: 'boolean', default: false },
    'no-library': { type: 'boolean', default: false },
    /** Run the built server (dist/, as `npm start` does) instead of src/ under tsx, whose loader thread spends ~1 s compiling TypeScript each time it starts. */
    dist: { type: 'boolean', default: false },
    packets: { type: 'string', default: '200000' },
    /** iptables-restore --test only up to this many services (it takes minutes at 20k on a busy machine). */
    'restore-max': { type: 'string', default: '20000' },
  },
});
const SIZES = args.sizes.split(',').map(Number);
const EP = Number(args.endpoints);
const root = fileURLToPath(new URL('../', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const r1 = (x: number) => Math.round(x * 10) / 10;

function packetsFor(g: ReturnType<typeof generateIptables>, n: number): Query[] {
  const ok = g.services.filter((s) => s.status === 'ok' && s.clusterIP && !s.clusterIP.includes(':'));
  let seed = 7;
  const out: Query[] = new Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const s = ok[seed % ok.length]!;
    out[i] = { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', source: '10.244.0.9', sourcePort: 1024 + (i % 60000) };
  }
  return out;
}

interface LibPoint {
  services: number;
  dumpMB: number;
  rules: number;
  loadMs: number;
  parseMs: number;
  compileMs: number;
  sharedMB: number;
  restoreTestMs: number | string;
  restoreRatio: number | null;
  traceColumnsPps: number;
  tracePps: number;
  explainP50Us: number;
}

const lib: LibPoint[] = [];
const dumps = new Map<number, ReturnType<typeof generateIptables>>();
for (const n of SIZES) {
  const g = generateIptables({ services: n, endpoints: EP, seed: 1 });
  dumps.set(n, g);
  const bundle = { iptables: g.text, node: g.node };
  log(`${n} services: ${(g.text.length / 1e6).toFixed(1)} MB`);
  if (args['no-library']) continue;
  (globalThis as { gc?: () => void }).gc?.();
  let packed!: ReturnType<typeof compileShared>;
  const loadMs = cpuMs(() => (packed = compileShared(bundle)));
  log(`  compileShared ${Math.round(loadMs)} ms CPU (parse ${packed.stats.parseMs}, compile ${packed.stats.compileMs})`);
  const rt = args['no-restore'] || n > Number(args['restore-max']) ? undefined : restoreTest(g.text);
  const restore: number | string = rt === undefined ? 'not run' : (rt.ms ?? rt.note ?? 'failed');
  log(`  iptables-restore --test ${restore}`);
  const sh = openSharedRuleset(packed.shared);
  const pk = packetsFor(g, Number(args.packets));
  const cols = columnsOf(pk);
  sh.traceColumns(cols.family.length > 1000 ? columnsOf(pk.slice(0, 1000)) : cols, { seed: 1 }); // warm
  const colMs = cpuMs(() => sh.traceColumns(cols, { seed: 1 }));
  const few = pk.slice(0, 20_000);
  sh.trace(few.slice(0, 500), { seed: 1 });
  const trMs = cpuMs(() => sh.trace(few, { seed: 1 }));
  const lat: number[] = [];
  for (let i = 0; i < 3000; i++) {
    // Fewer packets than samples (--packets 2000) reuse them; the source port keeps queries distinct.
    const q = { ...pk[i % pk.length]!, sourcePort: 2000 + i };
    const t0 = performance.now();
    sh.explain(q);
    lat.push((performance.now() - t0) * 1000);
  }
  lat.sort((a, b) => a - b);
  const pt: LibPoint = {
    services: n,
    dumpMB: r1(g.text.length / 1e6),
    rules: packed.stats.rules,
    loadMs: Math.round(loadMs),
    parseMs: Math.round(packed.stats.parseMs),
    compileMs: Math.round(packed.stats.compileMs),
    sharedMB: r1(packed.shared.byteLength / 1e6),
    restoreTestMs: restore,
    restoreRatio: typeof restore === 'number' ? r1(restore / loadMs) : null,
    traceColumnsPps: Math.round((cols.family.length / colMs) * 1000),
    tracePps: Math.round((few.length / trMs) * 1000),
    explainP50Us: r1(lat[Math.floor(lat.length / 2)]!),
  };
  log(`  traceColumns ${pt.traceColumnsPps} pkt/s, trace ${pt.tracePps} pkt/s, explain p50 ${pt.explainP50Us} µs`);
  lib.push(pt);
}

// --- a real server ------------------------------------------------------------------------------
const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

interface ServerPoint {
  services: number;
  uploadMs: number;
  firstExplainMs: number;
  secondExplainMs: number;
  rssAddedMiB: number;
  rssPerDumpByte: number;
  /** What the store holds in memory for every ruleset so far (landfall_rulesets_memory_bytes). */
  storeMiB: number;
}
const server: { points: ServerPoint[]; baseRssMiB: number; restart?: Record<string, number>; batchHttp?: Record<string, number> } = { points: [], baseRssMiB: 0 };

if (!args['no-server']) {
  const dataDir = mkdtempSync(join(tmpdir(), 'lf-loadpath-data-'));
  try {
    let s = await startServer(dataDir, { dist: args.dist });
    await until200(`${s.url}/readyz`);
    await new Promise((r) => setTimeout(r, 12_000)); // the loader exits when idle
    server.baseRssMiB = rssMiB(s.proc.pid!);
    log(`server RSS idle ${server.baseRssMiB} MiB`);
    let before = server.baseRssMiB;
    const ids = new Map<number, string>();
    for (const n of SIZES) {
      const g = dumps.get(n)!;
      const body = JSON.stringify({ iptables: g.text, node: g.node });
      const t0 = performance.now();
      const up = await post(`${s.url}/v1/rulesets`, body);
      const uploadMs = Math.round(performance.now() - t0);
      const { id } = (await up.json()) as { id: string };
      ids.set(n, id);
      const q = JSON.stringify(packetsFor(g, 1)[0]);
      const t1 = performance.now();
      const e1 = await post(`${s.url}/v1/rulesets/${id}/explain`, q);
      await e1.text();
      const firstExplainMs = r1(performance.now() - t1);
      const t2 = performance.now();
      await (await post(`${s.url}/v1/rulesets/${id}/explain`, JSON.stringify({ ...JSON.parse(q), sourcePort: 9 }))).text();
      const secondExplainMs = r1(performance.now() - t2);
      await new Promise((r) => setTimeout(r, 12_000)); // the loader exits; its heap goes back
      const after = rssMiB(s.proc.pid!);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      const storeMiB = r1(Number(/^landfall_rulesets_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN) / 1048576);
      const added = r1(after - before);
      before = after;
      server.points.push({ services: n, uploadMs, firstExplainMs, secondExplainMs, rssAddedMiB: added, rssPerDumpByte: Math.round(((added * 1048576) / g.text.length) * 100) / 100, storeMiB });
      log(`  ${n}: 201 in ${uploadMs} ms; first explain ${firstExplainMs} ms, second ${secondExplainMs} ms; RSS +${added} MiB (store holds ${storeMiB} MiB in all)`);
    }

    // Batch trace over HTTP: binary columns, 10,000 packets a request, c=32 for 10 s.
    const big = SIZES[SIZES.length - 1]!;
    const bodyBytes = encodePackets(columnsOf(packetsFor(dumps.get(big)!, 10_000)), 1);
    const pool = new Pool(s.url, { connections: 32 });
    let done = 0;
    let errors = 0;
    const end = performance.now() + 10_000;
    const tb0 = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < end) {
          const res = await pool.request({ method: 'POST', path: `/v1/rulesets/${ids.get(big)}/trace`, body: bodyBytes, headers: { 'content-type': PACKETS_TYPE } });
          await res.body.arrayBuffer();
          if (res.statusCode === 200) done++;
          else errors++;
        }
      }),
    );
    const secs = (performance.now() - tb0) / 1000;
    await pool.close();
    server.batchHttp = { services: big, packetsPerRequest: 10_000, concurrency: 32, requests: done, errors, packetsPerSecond: Math.round((done * 10_000) / secs) };
    log(`  HTTP batch trace: ${server.batchHttp.packetsPerSecond} pkt/s (${errors} errors)`);

    // Restart: SIGTERM, then a new process on the same data directory.
    const sigtermMs = await stopServer(s.proc);
    s = await startServer(dataDir, { dist: args.dist });
    await until200(`${s.url}/healthz`);
    const liveMs = Math.round(performance.now() - s.t0);
    await until200(`${s.url}/readyz`);
    const readyMs = Math.round(performance.now() - s.t0);
    const g = dumps.get(big)!;
    const t3 = performance.now();
    const e = await post(`${s.url}/v1/rulesets/${ids.get(big)}/explain`, JSON.stringify(packetsFor(g, 1)[0]));
    await e.text();
    const firstAnswerMs = Math.round(performance.now() - t3);
    server.restart = { sigtermMs, listenMs: Math.round(s.listenMs), liveMs, readyMs, firstAnswerAfterReadyMs: firstAnswerMs, services: big, status: e.status };
    log(`  restart: SIGTERM ${sigtermMs} ms; live ${liveMs} ms, ready ${readyMs} ms, first answer on the persisted ${big} set ${firstAnswerMs} ms later`);
    server.restart.sigtermMs2 = await stopServer(s.proc);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const report = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '', node: process.version, loadAverage: Number(loadavg()[0]!.toFixed(2)) },
  endpoints: EP,
  library: lib,
  server: { ...server, runs: args.dist ? 'dist' : 'src under tsx' },
};
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/load.json'), `${JSON.stringify(report, null, 2)}\n`);
const rows = lib.map(
  (p) =>
    `| ${p.services.toLocaleString('en')} | ${p.dumpMB} | ${p.rules.toLocaleString('en')} | ${p.loadMs} (${p.parseMs} + ${p.compileMs}) | ${p.restoreTestMs} | ${p.restoreRatio ?? 'n/a'}× | ${p.sharedMB} | ${p.traceColumnsPps.toLocaleString('en')} | ${p.tracePps.toLocaleString('en')} | ${p.explainP50Us} |`,
);
const srows = server.points.map(
  (p) => `| ${p.services.toLocaleString('en')} | ${p.uploadMs} | ${p.firstExplainMs} | ${p.secondExplainMs} | ${p.rssAddedMiB} | ${p.rssPerDumpByte} | ${p.storeMiB} |`,
);
const md = `# Load path (${report.date})

${report.machine.cpus} cores (${report.machine.model}), Node ${report.machine.node}, 1-minute load average ${report.machine.loadAverage} at the end
(the machine is shared with other jobs: wall-clock figures are pessimistic). kube-proxy dumps of N services × ${EP} endpoints.

Library (one core; CPU time):

| services | dump MB | rules | parse + compile into the shared form, ms (parse + compile) | \`iptables-restore --test\` ms | ratio | shared form MB | traceColumns pkt/s | trace() pkt/s | explain p50 µs |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Server (a real process from ${args.dist ? 'the build in dist/, as `npm start` runs it' : 'src/ under tsx'}, default pool; RSS of the whole process, every worker included, after the loader thread has exited):
idle ${server.baseRssMiB} MiB.

| services | POST → 201 ms | first explain after 201 ms | second explain ms | RSS added MiB | RSS added ÷ dump bytes | store in memory, all sets, MiB |
|---:|---:|---:|---:|---:|---:|---:|
${srows.join('\n')}

${server.batchHttp ? `HTTP batch trace (binary columns, ${server.batchHttp.packetsPerRequest} packets a request, c=${server.batchHttp.concurrency}, ${server.batchHttp.services} services): ${server.batchHttp.packetsPerSecond.toLocaleString('en')} packets/s, ${server.batchHttp.errors} errors.` : ''}

${server.restart ? `Restart with the ${server.restart.services}-service set persisted: SIGTERM → exit ${server.restart.sigtermMs} ms; new process listening ${server.restart.listenMs} ms, /healthz 200 at ${server.restart.liveMs} ms, /readyz 200 at ${server.restart.readyMs} ms (workers up, example loaded), first explain on the persisted set answered ${server.restart.firstAnswerAfterReadyMs} ms after that (read back from disk, no parse).` : ''}
`;
await writeFile(join(root, 'bench/results/load.md'), md);
process.stderr.write(md);
