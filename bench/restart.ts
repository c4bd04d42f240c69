// The restart bench (issue 12): a data directory holding ≥ 1 GB of persisted rule sets (generated
// kube-proxy dumps of 20k and 10k services, each node its own seed and address, uploaded to a real
// server), SIGTERM timed, then a new process on the same directory: time to listening, /healthz
// 200, /readyz 200, the first explain on a persisted set, and explain latency on set A while other
// sets (B, then several at once) are being read back. Target: first answer within 2 s, no request
// waits on a rule set it did not ask for, SIGTERM ≤ 2 s. Writes bench/results/restart.{json,md}.
//
//   node --expose-gc --import tsx bench/restart.ts [--target-mb 1024] [--data-dir DIR] [--keep]
//     [--sizes 20000,10000] [--probes 200] [--dist] [--probe small]
// With --data-dir DIR that already holds the sets (a previous run with --keep), uploading is skipped.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { generateIptables } from '../src/kube/generate.js';
import type { Query } from '../src/model/contracts.js';
import { cpuMsOf, rssMiB, startServer, stopServer, until200, type ServerProcess } from './server-process.js';

const { values: args } = parseArgs({
  options: {
    'target-mb': { type: 'string', default: '1024' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '20000,10000' },
    endpoints: { type: 'string', default: '10' },
    probes: { type: 'string', default: '200' },
    /** Restart the built server (dist/): what `npm start` runs; src/ under tsx spends seconds compiling. */
    dist: { type: 'boolean', default: false },
    /** `small`: probe the smallest set (A) while the largest (B) and then the rest are read back (default: the largest). */
    probe: { type: 'string', default: 'large' },
  },
});
const TARGET = Number(args['target-mb']) * 1024 * 1024;
const SIZES = args.sizes.split(',').map(Number);
const EP = Number(args.endpoints);
const PROBES = Number(args.probes);
const root = fileURLToPath(new URL('../', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const r1 = (x: number) => Math.round(x * 10) / 10;
const pct = (xs: number[], p: number) => (xs.length ? r1([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!) : NaN);
const MANIFEST = '.bench-restart.json';

interface SetInfo {
  id: string;
  services: number;
  dumpBytes: number;
  query: Query;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) if (!f.startsWith('.')) n += statSync(join(dir, f)).size;
  return n;
}

function queryOf(g: ReturnType<typeof generateIptables>): Query {
  const s = g.services.find((x) => x.status === 'ok' && x.clusterIP && !x.clusterIP.includes(':'))!;
  return { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', source: '10.244.0.9', sourcePort: 1024 };
}

async function explain(url: string, set: SetInfo, sourcePort: number): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/rulesets/${set.id}/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...set.query, sourcePort }),
  });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status };
}

/** Resolves with ms from spawn until `path` first answers 200. */
async function firstOk(s: ServerProcess, path: string): Promise<number> {
  await until200(`${s.url}${path}`);
  return Math.round(performance.now() - s.t0);
}

const dataDir = args['data-dir'] ?? mkdtempSync(join(tmpdir(), 'lf-restart-'));
await mkdir(dataDir, { recursive: true });
const manifestPath = join(dataDir, MANIFEST);
let sets: SetInfo[] = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as SetInfo[]) : [];
const result: Record<string, unknown> = {};
let s: ServerProcess | undefined;
try {
  // --- fill: upload until the directory holds the target ------------------------------------------
  const upload: { services: number; ms: number; dumpMB: number }[] = [];
  if (dirBytes(dataDir) < TARGET) {
    s = await startServer(dataDir);
    await until200(`${s.url}/readyz`);
    // Generating the next dump takes longer than the server keeps an idle connection: close ours
    // first, or a POST may be written into a socket the server is closing (EPIPE).
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    for (let k = sets.length; dirBytes(dataDir) < TARGET; k++) {
      const services = SIZES[k % SIZES.length]!;
      const g = generateIptables({ services, endpoints: EP, seed: 100 + k, nodeIP: `192.168.${k >> 8}.${(k & 255) + 10}`, podCIDR: `10.244.${k}.0/24` });
      const t0 = performance.now();
      const res = await fetch(`${s.url}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ iptables: g.text, node: g.node }), dispatcher } as RequestInit);
      const out = (await res.json()) as { id: string };
      if (res.status !== 201) throw new Error(`set ${k}: ${res.status} ${JSON.stringify(out)}`);
      sets.push({ id: out.id, services, dumpBytes: Buffer.byteLength(g.text), query: queryOf(g) });
      writeFileSync(manifestPath, JSON.stringify(sets));
      upload.push({ services, ms: Math.round(performance.now() - t0), dumpMB: r1(Buffer.byteLength(g.text) / 1e6) });
      log(`  set ${k} (${services} services): 201 in ${upload.at(-1)!.ms} ms; data dir ${r1(dirBytes(dataDir) / 1048576)} MiB`);
    }
    // SIGTERM right after the last upload (its compiled form just written, the loader still up).
    result.sigtermAfterUploadMs = await stopServer(s.proc);
    s = undefined;
    log(`SIGTERM after the uploads: exited in ${result.sigtermAfterUploadMs} ms`);
  }
  const persistedMiB = r1(dirBytes(dataDir) / 1048576);
  log(`${sets.length} sets, ${persistedMiB} MiB persisted in ${dataDir}`);

  // --- restart ------------------------------------------------------------------------------------
  // The largest sets: A is asked for first, B while A is being probed, then the rest all at once.
  const bySize = [...sets].sort((a, b) => b.dumpBytes - a.dumpBytes);
  const [A, B, ...rest] = (args.probe === 'small' ? [bySize.at(-1)!, ...bySize.slice(0, -1)] : bySize) as [SetInfo, SetInfo, ...SetInfo[]];
  // Without --expose-gc, as in production (with it, every worker runs a full GC after each open).
  s = await startServer(dataDir, { dist: args.dist, exposeGc: false });
  const listenMs = Math.round(s.listenMs);
  const listenCpuMs = cpuMsOf(s.proc.pid!);
  const live = firstOk(s, '/healthz');
  const ready = firstOk(s, '/readyz');
  // The first explain on A goes out as soon as the server listens (before /readyz).
  const tA = performance.now();
  const first = await explain(s.url, A, 1024);
  const firstAnswerMs = Math.round(performance.now() - s.t0);
  const firstAnswerAfterListenMs = Math.round(performance.now() - s.t0 - s.listenMs);
  const firstExplainMs = Math.round(performance.now() - tA);
  const firstAnswerCpuMs = cpuMsOf(s.proc.pid!);
  const liveMs = await live;
  const readyMs = await ready;
  const readyCpuMs = cpuMsOf(s.proc.pid!);
  log(`restart: listening ${listenMs} ms, /healthz ${liveMs} ms, /readyz ${readyMs} ms, first explain on A (${A.services} services) answered ${firstAnswerMs} ms after spawn (${firstAnswerAfterListenMs} ms after listening; status ${first.status})`);

  // A's latency alone (uncached: a new source port each time), then while B is read back, then while
  // all the others are read back at once.
  let port = 2000;
  const baseline: number[] = [];
  for (let i = 0; i < PROBES; i++) baseline.push((await explain(s.url, A, port++)).ms);
  const probeWhile = async (others: SetInfo[]): Promise<{ a: number[]; othersMs: number[]; statuses: number[] }> => {
    let done = false;
    const t0 = performance.now();
    const pending = Promise.all(others.map((o) => explain(s!.url, o, 1024).then((r) => ({ ...r, at: performance.now() - t0 }))));
    void pending.then(() => (done = true));
    const a: number[] = [];
    while (!done) a.push((await explain(s!.url, A, port++)).ms);
    const rs = await pending;
    return { a, othersMs: rs.map((r) => Math.round(r.at)), statuses: rs.map((r) => r.status) };
  };
  const duringB = await probeWhile([B]);
  log(`A alone: p50 ${pct(baseline, 0.5)} ms, max ${r1(Math.max(...baseline))} ms; while B (${B.services}) is read back (${duringB.othersMs[0]} ms): ${duringB.a.length} answers, p50 ${pct(duringB.a, 0.5)} ms, max ${r1(Math.max(...duringB.a))} ms`);
  const duringRest = rest.length ? await probeWhile(rest) : undefined;
  if (duringRest) log(`while the other ${rest.length} sets are read back at once (all answered in ${Math.max(...duringRest.othersMs)} ms): ${duringRest.a.length} answers on A, p50 ${pct(duringRest.a, 0.5)} ms, max ${r1(Math.max(...duringRest.a))} ms`);
  const rssAfterAllMiB = rssMiB(s.proc.pid!);

  // SIGTERM while a set is being read back: the first set again, after the store dropped nothing,
  // so instead a task that reads: every set's services answer at once, then SIGTERM.
  const inflight = sets.map((o) => fetch(`${s!.url}/v1/rulesets/${o.id}/services`).then((r) => r.arrayBuffer()).catch(() => undefined));
  await new Promise((r) => setTimeout(r, 20));
  const sigtermBusyMs = await stopServer(s.proc);
  await Promise.all(inflight);
  s = undefined;
  log(`SIGTERM with ${sets.length} services answers in flight: exited in ${sigtermBusyMs} ms`);

  Object.assign(result, {
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '', node: process.version, loadAverage: Number(loadavg()[0]!.toFixed(2)) },
    sets: sets.map((x) => ({ services: x.services, dumpMB: r1(x.dumpBytes / 1e6) })),
    persistedMiB,
    upload,
    restart: { listenMs, liveMs, readyMs, firstAnswerMs, firstExplainMs, cpuMs: { atListening: listenCpuMs, atFirstAnswer: firstAnswerCpuMs, atReady: readyCpuMs }, firstAnswerAfterListenMs, firstStatus: first.status, firstSet: { services: A.services, dumpMB: r1(A.dumpBytes / 1e6) } },
    explainOnA: {
      alone: { n: baseline.length, p50: pct(baseline, 0.5), p99: pct(baseline, 0.99), max: r1(Math.max(...baseline)) },
      whileBReadBack: { n: duringB.a.length, p50: pct(duringB.a, 0.5), p99: pct(duringB.a, 0.99), max: r1(Math.max(...duringB.a)), bAnsweredMs: duringB.othersMs[0], bStatus: duringB.statuses[0], bServices: B.services },
      ...(duringRest
        ? { whileOthersReadBack: { sets: rest.length, n: duringRest.a.length, p50: pct(duringRest.a, 0.5), p99: pct(duringRest.a, 0.99), max: r1(Math.max(...duringRest.a)), allAnsweredMs: Math.max(...duringRest.othersMs), statuses: [...new Set(duringRest.statuses)] } }
        : {}),
    },
    rssAfterAllOpenedMiB: rssAfterAllMiB,
    sigtermBusyMs,
    dist: args.dist,
  });
} finally {
  if (s) await stopServer(s.proc);
  if (!args.keep) rmSync(dataDir, { recursive: true, force: true });
}

await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/restart.json'), `${JSON.stringify(result, null, 2)}\n`);
const R = result as any;
const e = R.explainOnA;
const md = `# Restart with persisted rule sets (${R.date})

${R.machine.cpus} cores, Node ${R.machine.node}, 1-minute load average ${R.machine.loadAverage} at the end (shared machine: wall-clock
figures are pessimistic). A real server process (${R.dist ? 'the build in dist/, as `npm start` runs it' : 'src/ under tsx'}; default pool: cores − 1 workers) on a data directory holding
${R.persistedMiB} MiB: ${R.sets.length} generated kube-proxy node dumps (${R.sets.map((x: any) => `${x.services / 1000}k`).join(', ')} services × ${EP} endpoints; each its own seed and node address),
uploaded as JSON bundles; each set is its \`.ruleset\` (the input) and \`.compiled\` (the shared compiled form).

| | ms |
|---|---:|
${R.sigtermAfterUploadMs !== undefined ? `| SIGTERM → exit, right after the last upload | ${R.sigtermAfterUploadMs} |\n` : ''}| restart: spawn → listening (importing the server's modules) | ${R.restart.listenMs} |
| spawn → \`/healthz\` 200 | ${R.restart.liveMs} |
| spawn → \`/readyz\` 200 (workers up, example loaded) | ${R.restart.readyMs} |
| spawn → first explain answered on a persisted set (${R.restart.firstSet.services / 1000}k services, asked as soon as the server listened; status ${R.restart.firstStatus}) | ${R.restart.firstAnswerMs} |
| listening → that first answer | ${R.restart.firstAnswerAfterListenMs} |
| server CPU time (all threads) used by: listening / the first answer / ready | ${R.restart.cpuMs.atListening} / ${R.restart.cpuMs.atFirstAnswer} / ${R.restart.cpuMs.atReady} |
| SIGTERM → exit with every set's services answer in flight | ${R.sigtermBusyMs} |

Explain on set A (uncached: a new source port each query, sequential), ms:

| while | answers | p50 | p99 | max |
|---|---:|---:|---:|---:|
| nothing else runs | ${e.alone.n} | ${e.alone.p50} | ${e.alone.p99} | ${e.alone.max} |
| set B (${e.whileBReadBack.bServices / 1000}k) is read back and opened (its first answer after ${e.whileBReadBack.bAnsweredMs} ms, status ${e.whileBReadBack.bStatus}) | ${e.whileBReadBack.n} | ${e.whileBReadBack.p50} | ${e.whileBReadBack.p99} | ${e.whileBReadBack.max} |
${e.whileOthersReadBack ? `| the other ${e.whileOthersReadBack.sets} sets are asked for at once (all answered after ${e.whileOthersReadBack.allAnsweredMs} ms, statuses ${e.whileOthersReadBack.statuses.join(', ')}) | ${e.whileOthersReadBack.n} | ${e.whileOthersReadBack.p50} | ${e.whileOthersReadBack.p99} | ${e.whileOthersReadBack.max} |\n` : ''}
Server RSS with every set opened: ${R.rssAfterAllOpenedMiB} MiB.
`;
await writeFile(join(root, 'bench/results/restart.md'), md);
process.stderr.write(md);
