// The load generator (its own process, so it does not share an event loop with the server):
// `concurrency` loops, each sending its next request when the previous answer has been read,
// for `durationMs`. Prints one JSON line: requests, errors, req/s, latency percentiles, and the
// requests sent and CPU used over warm-up and run together (CPU per request).
//
// Input (a JSON file named by argv[2]): { url, concurrency, durationMs, warmupMs, requests: [{method, path, body?}] }
// Requests are taken round-robin from the list (warm-up and run one pass), so a run exercises many
// different queries.

import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

interface Spec {
  url: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  requests: { method: 'GET' | 'POST'; path: string; body?: string }[];
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const pool = new Pool(spec.url, { connections: spec.concurrency, pipelining: 1 });

let sent = 0;
// The run goes on through the list where the warm-up stopped: starting again at the top would ask
// the warm-up's queries again, and a run of new queries would begin with answer-cache hits.
let next = 0;
async function phase(durationMs: number, record: boolean) {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const end = performance.now() + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const r = spec.requests[next++ % spec.requests.length]!;
      const t0 = performance.now();
      sent++;
      try {
        const res = await pool.request({
          method: r.method,
          path: r.path,
          ...(r.body !== undefined ? { body: r.body, headers: { 'content-type': 'application/json' } } : {}),
        });
        await res.body.arrayBuffer();
        if (record) {
          latencies.push(performance.now() - t0);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode >= 400) errors++;
        }
      } catch {
        if (record) errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  return { latencies, statuses, errors, seconds: (performance.now() - t0) / 1000 };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const cpu0 = process.cpuUsage();
if (spec.warmupMs > 0) await phase(spec.warmupMs, false);
const { latencies, statuses, errors, seconds } = await phase(spec.durationMs, true);
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
await pool.close();
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    sent,
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    errors,
    statuses,
    seconds: Number(seconds.toFixed(2)),
    rps: Number((latencies.length / seconds).toFixed(1)),
    p50: Number(pct(latencies, 50).toFixed(2)),
    p90: Number(pct(latencies, 90).toFixed(2)),
    p99: Number(pct(latencies, 99).toFixed(2)),
    max: Number((latencies[latencies.length - 1] ?? NaN).toFixed(2)),
  })}\n`,
);
