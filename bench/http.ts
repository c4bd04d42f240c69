// HTTP load bench: a real landfall server process, a bare Fastify process and an undici load
// generator process, all on this machine in one run. Explain and trace on a 10,000-service
// kube-proxy rule set at c=32, next to the bare route; then an RSS soak (explain at c=64).
// Writes bench/results/http.json and bench/results/http.md.
//
//   npx tsx bench/http.ts [--services 10000] [--duration 20] [--soak 60] [--concurrency 32]
//     [--runs bare,cached,uncached,trace] [--server-root DIR] [--cpu-prof DIR] [--out NAME]
//     [--node-args="FLAGS"] [--server-log FILE]
//
// The server runs from dist/ when it has been built (production), else from src/ under tsx.
// --server-root runs another checkout's server (a before/after comparison: each run's ratio to the
// bare route is measured in that run); --soak 0 skips the soak; --cpu-prof writes the server's
// CPU profiles (main thread and each worker) into DIR; --out names the results files (default http).

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateIptables } from '../src/kube/generate.js';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    duration: { type: 'string', default: '20' },
    soak: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '32' },
    'soak-concurrency': { type: 'string', default: '64' },
    batch: { type: 'string', default: '100' },
    pool: { type: 'string' },
    'render-only': { type: 'boolean', default: false },
    runs: { type: 'string', default: 'bare,cached,uncached,trace' },
    'server-root': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'node-args': { type: 'string', default: '' },
    'server-log': { type: 'string' },
    out: { type: 'string', default: 'http' },
  },
});
const N = Number(args.services);
const DURATION = Number(args.duration) * 1000;
const SOAK = Number(args.soak) * 1000;
const C = Number(args.concurrency);
const SOAK_C = Number(args['soak-concurrency']);
const BATCH = Number(args.batch);

const RUNS = new Set(args.runs.split(','));
const OUT = args.out;

const root = fileURLToPath(new URL('../', import.meta.url));
const serverRoot = args['server-root'] ? resolve(args['server-root']) : root;
const distMain = join(serverRoot, 'dist/service/main.js');
const fromDist = existsSync(distMain) && existsSync(join(serverRoot, 'dist/index.js'));

function tsxArgs(file: string): string[] {
  return file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
}

/** Spawns a server that logs "Server listening at URL" as JSON on stdout. */
function startProcess(args: string[], env: Record<string, string>, log?: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (log) appendFileSync(log, `${line}\n`);
      const m = /Server listening at (http:\/\/[\d.]+:\d+)/.exec(line);
      if (m) resolve({ proc, url: m[1]! });
    });
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number((Number(m[1]) / 1024).toFixed(1)) : NaN;
}

/**
 * CPU seconds a process has used so far: its main thread (tid = pid) and all its other threads
 * (workers, GC helpers, libuv), from /proc (clock ticks, 100 Hz).
 */
function cpuSeconds(pid: number): { main: number; other: number; faults: number; mainFaults: number } {
  const fields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (f: string[]) => Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
  // The process's own figure includes threads that have exited (the loader does when idle).
  const proc = fields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const all = ticks(proc) / 100;
  const mainFields = fields(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  const main = ticks(mainFields) / 100;
  // Minor page faults (field 10): fresh memory touched for the first time; all threads, and the main one.
  return { main, other: all - main, faults: Number(proc[7]), mainFaults: Number(mainFields[7]) };
}

interface LoadResult {
  requests: number;
  /** Requests sent including the warm-up, and the load generator's CPU seconds for all of them. */
  sent: number;
  cpuSeconds: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

let specs = 0;
async function load(spec: { url: string; concurrency: number; durationMs: number; warmupMs: number; requests: unknown[] }): Promise<LoadResult> {
  // The request list is megabytes: hand it over in a file, not argv.
  const specFile = join(dataDir, `load-${specs++}.json`);
  await writeFile(specFile, JSON.stringify(spec));
  const proc = spawn(process.execPath, tsxArgs(join(root, 'bench/http-load.ts')).concat(specFile), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exited ${code}`)))),
  );
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server never became ready');
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((r) => {
    proc.removeAllListeners('exit');
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
  });
}

if (args['render-only']) {
  const report = JSON.parse(readFileSync(join(root, 'bench/results/http.json'), 'utf8')) as Parameters<typeof markdown>[0];
  const r = report.results;
  const u = r.find((x) => x.name.startsWith('explain (every'));
  if (u) {
    report.targets.uncachedExplainP99Ok = u.p99 <= 25;
  }
  await writeFile(join(root, 'bench/results/http.md'), markdown(report));
  process.exit(0);
}

// --- the rule set and the queries -------------------------------------------------------------
const t0 = performance.now();
const dump = generateIptables({ services: N, endpoints: Number(args.endpoints), seed: 1 });
const genMs = performance.now() - t0;
const reachable = dump.services.filter((s) => s.status === 'ok' && s.clusterIP && !s.clusterIP.includes(':'));
let rng = 12345;
const pick = <T>(xs: T[]): T => {
  rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
  return xs[rng % xs.length]!;
};
const query = () => {
  const s = pick(reachable);
  return { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' };
};
// Distinct source ports make every query distinct, so none is answered from the answer cache.
let unique = 0;
const uniqueQuery = () => ({ ...query(), sourcePort: 1024 + (unique++ % 64512) });

const dataDir = await mkdtemp(join(tmpdir(), 'landfall-bench-'));
const profArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`] : [];
// --node-args: flags for the server's node (V8 GC flags, --trace-gc with --server-log FILE for its stdout).
const nodeArgs = args['node-args'].split(' ').filter(Boolean);
const server = await startProcess([...profArgs, ...nodeArgs, ...tsxArgs(fromDist ? distMain : join(serverRoot, 'src/service/main.ts'))], {
  PORT: '0',
  HOST: '127.0.0.1',
  LANDFALL_DATA_DIR: dataDir,
  LOG_LEVEL: 'info',
  LANDFALL_BODY_LIMIT: String(256 * 1024 * 1024),
  ...(args.pool ? { LANDFALL_POOL_SIZE: args.pool } : {}),
}, args['server-log']);
// Other work on the machine skews latency tails: record how busy it was.
const loadBefore = loadavg()[0]!;
const bare = await startProcess(tsxArgs(join(root, 'bench/http-bare.ts')), {});
try {
  await waitReady(server.url);
  const body = JSON.stringify({ iptables: dump.text, node: dump.node });
  const u0 = performance.now();
  const up = await fetch(`${server.url}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const uploadMs = performance.now() - u0;
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const { id, stats } = (await up.json()) as { id: string; stats: { rules: number } };
  process.stderr.write(`uploaded ${N} services (${stats.rules} rules, ${(body.length / 1e6).toFixed(1)} MB) in ${uploadMs.toFixed(0)} ms\n`);

  // A dashboard's view: a few hundred services asked about again and again.
  const explainReqs = Array.from({ length: 500 }, () => ({
    method: 'POST',
    path: `/v1/rulesets/${id}/explain`,
    body: JSON.stringify(query()),
  }));
  const uniqueExplainReqs = Array.from({ length: 60_000 }, () => ({
    method: 'POST',
    path: `/v1/rulesets/${id}/explain`,
    body: JSON.stringify(uniqueQuery()),
  }));
  const traceReqs = Array.from({ length: 50 }, () => ({
    method: 'POST',
    path: `/v1/rulesets/${id}/trace`,
    body: JSON.stringify({ packets: Array.from({ length: BATCH }, query), seed: 1 }),
  }));
  const bareReqs = [{ method: 'POST', path: '/bare', body: JSON.stringify(query()) }];

  // Worker tasks the server completed so far (its /metrics): requests per task is the explain batch size.
  const tasksDone = async (url: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text().catch(() => '');
    return Number(/^landfall_pool_tasks_completed_total (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  const run = async (name: string, url: string, requests: unknown[], pid: number, warmupMs = 2000) => {
    const rssBefore = rssMiB(pid);
    const tasks0 = await tasksDone(url);
    // CPU is read over the whole load (warm-up included) and divided by every request sent.
    const cpu0 = cpuSeconds(pid);
    const r = await load({ url, concurrency: C, durationMs: DURATION, warmupMs, requests });
    const cpu1 = cpuSeconds(pid);
    const rssAfter = rssMiB(pid);
    const tasks = (await tasksDone(url)) - tasks0;
    const perReq = (s: number) => Number(((s * 1e6) / r.sent).toFixed(1));
    const cpu = { mainUs: perReq(cpu1.main - cpu0.main), otherUs: perReq(cpu1.other - cpu0.other), loadGeneratorUs: perReq(r.cpuSeconds) };
    const faults = Number(((cpu1.faults - cpu0.faults) / r.sent).toFixed(2));
    const mainFaults = Number(((cpu1.mainFaults - cpu0.mainFaults) / r.sent).toFixed(2));
    process.stderr.write(
      `${name}: ${r.rps} req/s p50 ${r.p50} ms p99 ${r.p99} ms errors ${r.errors}; CPU µs/request: server main ${cpu.mainUs}, server other threads ${cpu.otherUs}, load generator ${cpu.loadGeneratorUs}; server page faults/request ${faults} (main thread ${mainFaults})${Number.isNaN(tasks) ? '' : `; ${tasks} worker tasks (${(r.sent / Math.max(1, tasks)).toFixed(1)} requests each)`}\n`,
    );
    return { name, concurrency: C, ...r, cpuPerRequest: cpu, pageFaultsPerRequest: { all: faults, main: mainFaults }, rssBeforeMiB: rssBefore, rssAfterMiB: rssAfter };
  };
  type Result = Awaited<ReturnType<typeof run>>;
  const results: Result[] = [];
  if (RUNS.has('bare')) results.push(await run('bare fastify POST', bare.url, bareReqs, bare.proc.pid!));
  // The warm-up asks each of the 500 queries at least once, so the run measures cache hits.
  if (RUNS.has('cached')) results.push(await run('explain (500 queries repeating: answer cache)', server.url, explainReqs, server.proc.pid!, 4000));
  if (RUNS.has('uncached')) results.push(await run('explain (every query new: walked in a worker)', server.url, uniqueExplainReqs, server.proc.pid!));
  if (RUNS.has('trace')) results.push(await run(`trace (${BATCH} packets/request)`, server.url, traceReqs, server.proc.pid!));
  if (results.length < 4 || SOAK === 0) {
    // A partial run (while developing, or profiling): ratios to the bare route, no report files.
    const bareRps = results.find((x) => x.name.startsWith('bare'))?.rps;
    if (bareRps) for (const x of results.slice(1)) process.stderr.write(`${x.name}: ${(x.rps / bareRps).toFixed(3)}× bare\n`);
    process.exitCode = 0;
  } else {
  // Soak: warm up (which also fills the answer cache to its cap), then run new explain queries at
  // higher concurrency, sampling the server's RSS every second. One RSS reading swings by tens of
  // MB with the worker's GC cycles, so growth compares the median of the first 10 samples with
  // the median of the last 10.
  const soakReqs = uniqueExplainReqs.slice().reverse();
  await load({ url: server.url, concurrency: SOAK_C, durationMs: 10_000, warmupMs: 0, requests: soakReqs });
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(server.proc.pid!)), 1000);
  const soak = await load({ url: server.url, concurrency: SOAK_C, durationMs: SOAK, warmupMs: 0, requests: soakReqs });
  clearInterval(sampler);
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const window = Math.max(1, Math.min(10, Math.floor(samples.length / 3)));
  const soakBefore = median(samples.slice(0, window));
  const soakAfter = median(samples.slice(-window));
  const growth = (soakAfter - soakBefore) / soakBefore;
  process.stderr.write(`soak c=${SOAK_C} ${SOAK / 1000}s: RSS median ${soakBefore} → ${soakAfter} MiB (${(growth * 100).toFixed(1)}%)\n`);

  const [b, e, u, t] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0], (typeof results)[0]];
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      model: cpus()[0]?.model ?? '',
      node: process.version,
      loadAverageBefore: Number(loadBefore.toFixed(2)),
      loadAverageAfter: Number(loadavg()[0]!.toFixed(2)),
    },
    poolSize: args.pool ? Number(args.pool) : Math.max(1, availableParallelism() - 1),
    server: fromDist ? 'dist (compiled)' : 'src under tsx',
    ruleset: { services: N, endpoints: Number(args.endpoints), rules: stats.rules, bytes: body.length, generateMs: Math.round(genMs), uploadMs: Math.round(uploadMs) },
    durationSeconds: DURATION / 1000,
    results,
    soak: {
      concurrency: SOAK_C,
      ...soak,
      rssAfterWarmupMiB: soakBefore,
      rssEndMiB: soakAfter,
      rssGrowth: Number(growth.toFixed(4)),
      rssSamplesMiB: samples,
    },
    targets: {
      explainVsBare: Number((e.rps / b.rps).toFixed(3)),
      explainVsBareOk: e.rps / b.rps >= 0.3,
      explainP99Ok: e.p99 <= 25,
      uncachedExplainP99Ok: u.p99 <= 25,
      explainErrorsOk: e.errors === 0 && u.errors === 0,
      uncachedExplainVsBare: Number((u.rps / b.rps).toFixed(3)),
      traceErrorsOk: t.errors === 0,
      soakRssOk: growth < 0.1,
    },
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(join(root, `bench/results/${OUT}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(root, `bench/results/${OUT}.md`), markdown(report));
  process.stderr.write(markdown(report));
  }
} finally {
  await stop(server.proc);
  await stop(bare.proc);
  await rm(dataDir, { recursive: true, force: true });
}

function markdown(r: {
  date: string;
  machine: { cpus: number; model: string; node: string; loadAverageBefore: number; loadAverageAfter: number };
  poolSize: number;
  server: string;
  ruleset: { services: number; endpoints: number; rules: number; bytes: number; uploadMs: number };
  durationSeconds: number;
  results: ({
    name: string;
    concurrency: number;
    rssBeforeMiB: number;
    rssAfterMiB: number;
    cpuPerRequest?: { mainUs: number; otherUs: number; loadGeneratorUs: number };
  } & LoadResult)[];
  soak: { concurrency: number; seconds: number; rssAfterWarmupMiB: number; rssEndMiB: number; rssGrowth: number } & LoadResult;
  targets: Record<string, number | boolean>;
}): string {
  const rows = r.results.map(
    (x) =>
      `| ${x.name} | ${x.concurrency} | ${x.rps} | ${x.p50} | ${x.p99} | ${x.errors} | ${x.cpuPerRequest ? `${x.cpuPerRequest.mainUs} + ${x.cpuPerRequest.otherUs} / ${x.cpuPerRequest.loadGeneratorUs}` : 'n/a'} | ${x.rssBeforeMiB} → ${x.rssAfterMiB} |`,
  );
  const ok = (b: unknown) => (b ? 'met' : '**missed**');
  return `# HTTP load (${r.date})

${r.machine.cpus} cores (${r.machine.model}), Node ${r.machine.node}; server from ${r.server}, ${r.poolSize} worker thread(s).
1-minute load average ${r.machine.loadAverageBefore} before, ${r.machine.loadAverageAfter} after (other processes share the machine).
Rule set: ${r.ruleset.services} services × ${r.ruleset.endpoints} endpoints, ${r.ruleset.rules} rules,
${(r.ruleset.bytes / 1e6).toFixed(1)} MB upload (parsed + compiled in ${r.ruleset.uploadMs} ms). Each run ${r.durationSeconds} s after a 2 s warm-up (4 s for the cached run);
an undici loop in its own process; the bare route is a separate Fastify process measured in the same run.

| run | c | req/s | p50 ms | p99 ms | errors | CPU µs/request: server main + other threads / load generator | server RSS MiB |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Soak: new explain queries at c=${r.soak.concurrency} for ${r.soak.seconds} s after 10 s warm-up: ${r.soak.rps} req/s, p99 ${r.soak.p99} ms,
${r.soak.errors} errors; server RSS (median of the first vs the last 10 one-second samples) ${r.soak.rssAfterWarmupMiB} → ${r.soak.rssEndMiB} MiB (${(r.soak.rssGrowth * 100).toFixed(1)}%).

Targets (issue 4), for explain with repeating queries (answer cache) / with every query new:
- explain ≥ 0.3× bare req/s: ${r.targets.explainVsBare}× ${ok(r.targets.explainVsBareOk)} / ${r.targets.uncachedExplainVsBare}× ${ok(Number(r.targets.uncachedExplainVsBare) >= 0.3)}
- explain p99 ≤ 25 ms: ${ok(r.targets.explainP99Ok)} / ${ok(r.targets.uncachedExplainP99Ok)}
- 0 errors (explain and trace): ${ok(r.targets.explainErrorsOk && r.targets.traceErrorsOk)}
- soak RSS growth < 10%: ${ok(r.targets.soakRssOk)}

CPU per request is read from /proc over each whole load (warm-up included): the server's main thread,
its other threads (the worker, GC helpers) and the load generator, which share the same two cores.
A new query costs a walk and the JSON of its ~11 KB answer (every outcome's path with its rule text)
in the one worker a 2-core machine leaves after the event loop. Explains that arrive while the worker
is busy go to it together as one task (src/service/pool.ts; two batches in flight per worker, so it
finds the next when it finishes one), so the task round trip (two thread wake-ups and the messages,
more than a walk on this machine) is paid once per batch, and a batch's answers come back as UTF-8
views into one transferred buffer that the route sends and caches as they are.
`;
}
