// The fleet bench (issue 12): N node snapshots of ONE generated cluster — same services and
// endpoints, each node with its own address and pod CIDR, so the dumps differ in node addresses
// and in which endpoints are local — uploaded to one real server process. Reports the server's
// total resident memory (RSS, every worker included, after GC), upload times, explain latency
// against one node, and how much of the compiled form two nodes have in common (could it be
// shared?). No target yet. Writes bench/results/fleet.json and bench/results/fleet.md.
//
//   node --expose-gc --import tsx bench/fleet.ts [--nodes 50] [--services 10000] [--endpoints 10] [--explains 300]

import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { generateIptables, type GenerateOptions } from '../src/kube/generate.js';
import { compileShared } from '../src/shared-ruleset.js';
import { residentBytes, sectionOf } from '../src/compile/shared.js';
import { rssMiB, startServer, stopServer, until200 } from './server-process.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50' },
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '10' },
    explains: { type: 'string', default: '300' },
  },
});
const NODES = Number(args.nodes);
const SERVICES = Number(args.services);
const EP = Number(args.endpoints);
const root = fileURLToPath(new URL('../', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const r1 = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node k of the cluster: its own address and pod CIDR; the services and endpoints are the cluster's. */
function nodeOpts(k: number): GenerateOptions {
  return { services: SERVICES, endpoints: EP, seed: 1, nodeIP: `192.168.${k >> 8}.${(k & 255) + 10}`, podCIDR: `10.244.${k}.0/24` };
}

const pct = (xs: number[], p: number) => r1([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!);

// --- what two nodes' compiled forms share -------------------------------------------------------
log(`compiling nodes 0 and 1 in-process to compare their compiled forms (${SERVICES} services)`);
const g0 = generateIptables(nodeOpts(0));
const g1 = generateIptables(nodeOpts(1));
const s0 = new Uint8Array(compileShared({ iptables: g0.text, node: g0.node }).shared);
const s1 = new Uint8Array(compileShared({ iptables: g1.text, node: g1.node }).shared);
function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  let same = 0;
  for (let i = from; i < to && i < a.length && i < b.length; i++) if (a[i] === b[i]) same++;
  return same;
}
const w0 = sectionOf(s0.buffer as SharedArrayBuffer, 'words');
const w1 = sectionOf(s1.buffer as SharedArrayBuffer, 'words');
const res0 = residentBytes(s0.buffer as SharedArrayBuffer);
const res1 = residentBytes(s1.buffer as SharedArrayBuffer);
const sharing = {
  dumpBytesDiffer: g0.text.length !== g1.text.length || g0.text !== g1.text,
  dumpBytes: [g0.text.length, g1.text.length],
  residentBytes: [res0, res1],
  residentSameBytes: sameBytes(s0, s1, 0, Math.min(res0, res1)),
  wordsBytes: [w0.length, w1.length],
  wordsSameBytes: w0.length === w1.length ? sameBytes(s0.subarray(w0.at), s1.subarray(w1.at), 0, w0.length) : null,
};
log(`  resident parts ${res0} / ${res1} bytes, ${sharing.residentSameBytes} equal at the same offset; words ${w0.length} / ${w1.length}`);

// --- a real server, N uploads ------------------------------------------------------------------
const dataDir = mkdtempSync(join(tmpdir(), 'lf-fleet-'));
const uploads: { node: number; ms: number; dumpMB: number }[] = [];
let idleMiB = 0;
let finalMiB = 0;
let storeMiB = 0;
let dumpBytes = 0;
let explain: { p50: number; p99: number; errors: number; n: number } | undefined;
let firstId = '';
try {
  const s = await startServer(dataDir);
  await until200(`${s.url}/readyz`);
  await sleep(12_000); // the loader thread exits when idle
  idleMiB = rssMiB(s.proc.pid!);
  log(`server idle RSS ${idleMiB} MiB`);
  // Generating the next node takes longer than the server keeps an idle connection: close ours
  // first, or a POST may be written into a socket the server is closing (EPIPE).
  const dispatcher = new Agent({ keepAliveTimeout: 1000 });
  for (let k = 0; k < NODES; k++) {
    const g = k === 0 ? g0 : k === 1 ? g1 : generateIptables(nodeOpts(k));
    const body = JSON.stringify({ iptables: g.text, node: g.node });
    dumpBytes += g.text.length;
    const t0 = performance.now();
    const res = await fetch(`${s.url}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher } as RequestInit);
    const out = (await res.json()) as { id: string };
    if (res.status !== 201) throw new Error(`node ${k}: ${res.status} ${JSON.stringify(out)}`);
    if (k === 0) firstId = out.id;
    uploads.push({ node: k, ms: Math.round(performance.now() - t0), dumpMB: r1(g.text.length / 1e6) });
    log(`  node ${k}: 201 in ${uploads[k]!.ms} ms, RSS ${rssMiB(s.proc.pid!)} MiB`);
  }
  await sleep(12_000);
  finalMiB = rssMiB(s.proc.pid!);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  storeMiB = r1(Number(/^landfall_rulesets_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN) / 1048576);

  // Explain against node 0, uncached (every query a new source port), one at a time.
  const ok = g0.services.filter((x) => x.status === 'ok' && x.clusterIP && !x.clusterIP.includes(':'));
  const lat: number[] = [];
  let errors = 0;
  for (let i = 0; i < Number(args.explains); i++) {
    const sv = ok[(i * 7919) % ok.length]!;
    const q = { protocol: sv.protocol, destination: sv.clusterIP, port: sv.port, origin: 'pod', source: '10.244.0.9', sourcePort: 1024 + i };
    const t0 = performance.now();
    const res = await fetch(`${s.url}/v1/rulesets/${firstId}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) });
    await res.text();
    lat.push(performance.now() - t0);
    if (res.status !== 200) errors++;
  }
  explain = { p50: pct(lat, 0.5), p99: pct(lat, 0.99), errors, n: lat.length };
  log(`  explain on node 0: p50 ${explain.p50} ms, p99 ${explain.p99} ms, ${errors} errors`);
  await stopServer(s.proc);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const up = uploads.map((u) => u.ms);
const report = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '', node: process.version, loadAverage: Number(loadavg()[0]!.toFixed(2)) },
  nodes: NODES,
  services: SERVICES,
  endpoints: EP,
  dumpMB: r1(dumpBytes / 1e6),
  rss: { idleMiB, finalMiB, addedMiB: r1(finalMiB - idleMiB), addedPerDumpByte: Math.round((((finalMiB - idleMiB) * 1048576) / dumpBytes) * 100) / 100, storeMiB },
  uploadMs: { total: up.reduce((a, b) => a + b, 0), p50: pct(up, 0.5), max: Math.max(...up) },
  explain,
  sharing,
  uploads,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/fleet.json'), `${JSON.stringify(report, null, 2)}\n`);
const sameRes = Math.round((sharing.residentSameBytes / Math.min(res0, res1)) * 100);
const md = `# Fleet (${report.date})

${NODES} node snapshots of one generated cluster (${SERVICES.toLocaleString('en')} services × ${EP} endpoints; each node its own
address and pod CIDR, so the dumps differ in node addresses and local endpoints) uploaded one after another to one
server process (src/ under tsx, default pool). ${report.machine.cpus} cores, Node ${report.machine.node}, 1-minute load average
${report.machine.loadAverage} at the end (shared machine: wall-clock figures are pessimistic).

| | |
|---|---:|
| dump bytes, all nodes | ${report.dumpMB} MB |
| server RSS idle → after all uploads (after GC) | ${idleMiB} → ${finalMiB} MiB |
| RSS added ÷ dump bytes | ${report.rss.addedPerDumpByte} |
| rulesets held by the store (resident parts) | ${storeMiB} MiB |
| upload (POST → 201), total / median / max | ${report.uploadMs.total} / ${report.uploadMs.p50} / ${report.uploadMs.max} ms |
| explain on node 0, uncached, sequential: p50 / p99 (${explain?.n} queries, ${explain?.errors} errors) | ${explain?.p50} / ${explain?.p99} ms |

## What two nodes share

Compiled in-process, nodes 0 and 1: resident parts ${res0.toLocaleString('en')} and ${res1.toLocaleString('en')} bytes, of which
${sharing.residentSameBytes.toLocaleString('en')} (${sameRes}%) are equal at the same offset; words ${w0.length.toLocaleString('en')} and ${w1.length.toLocaleString('en')} bytes${sharing.wordsSameBytes === null ? ' (different lengths)' : `, ${sharing.wordsSameBytes.toLocaleString('en')} equal at the same offset`}.
Nodes of one cluster carry the same rules except the node address rules and the local-endpoint
(XLB) chains, so most rule texts, chains and words are the same bytes at different offsets: a
content-addressed store of chunks (for example per chain: its rule texts and its compiled words,
keyed by their hash) would keep one copy of the common part across a fleet — cheaply for the rule
texts and chain tables (read-only, offsets per node), less so for the words (jump targets and
index tables are absolute word offsets, so equal chains compile to different bytes). Not built.
`;
await writeFile(join(root, 'bench/results/fleet.md'), md);
process.stderr.write(md);
