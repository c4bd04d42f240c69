// The worker's encode step for new explain queries, in process, on the service's own path (a
// generated node compiled into the shared form and opened as a worker opens it): CPU µs per answer
// (min over rounds) for the walk alone, the walk + JSON.stringify, the walk + explainJson, and a
// whole batch (src/service/answer-batch.ts) with either; and a check that both JSONs are equal.
//   tsx bench/profile/explain-encode.ts [services=10000] [rounds=7] [batch=12]

import { explainJson, writeExplainJson, JsonBytes } from '../../src/engine/explain-json.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { Query } from '../../src/model/contracts.js';
import { encodeAnswers } from '../../src/service/answer-batch.js';
import { compileShared, openSharedRuleset } from '../../src/shared-ruleset.js';

const services = Number(process.argv[2] ?? 10000);
const rounds = Number(process.argv[3] ?? 7);
const batch = Number(process.argv[4] ?? 12);

const dump = generateIptables({ services, endpoints: 5, seed: 1 });
const rs = openSharedRuleset(compileShared({ iptables: dump.text, node: dump.node }).shared);
const reachable = dump.services.filter((s) => s.status === 'ok' && s.clusterIP && !s.clusterIP.includes(':'));
// The HTTP bench's new queries (bench/http.ts): a random service from a pod, a new source port each.
let rng = 12345;
let unique = 0;
const query = (): Query => {
  rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
  const s = reachable[rng % reachable.length]!;
  return { protocol: s.protocol as Query['protocol'], destination: s.clusterIP!, port: s.port, origin: 'pod', sourcePort: 1024 + (unique++ % 64512) };
};
const N = 4000;
const queries = Array.from({ length: N * rounds }, query);

// Warm both paths (and the step cache: every service asked a few times, as a long run does).
let bytes = 0;
for (let i = 0; i < Math.min(queries.length, 3 * reachable.length); i++) {
  const r = rs.explain(queries[i]!);
  const a = JSON.stringify(r);
  const b = explainJson(r);
  if (a !== b) throw new Error(`explainJson differs from JSON.stringify for ${JSON.stringify(queries[i])}`);
  bytes += a.length;
}
const avgBytes = Math.round(bytes / Math.min(queries.length, 3 * reachable.length));

function cpu(fn: (qs: Query[]) => void): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const qs = queries.slice(r * N, (r + 1) * N);
    const c0 = process.cpuUsage();
    fn(qs);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / N);
  }
  return Number(best.toFixed(2));
}
let sink = 0;
const walk = cpu((qs) => {
  for (const q of qs) sink += rs.explain(q).outcomes.length;
});
const stringify = cpu((qs) => {
  for (const q of qs) sink += JSON.stringify(rs.explain(q)).length;
});
const out = new JsonBytes();
const serializer = cpu((qs) => {
  for (const q of qs) {
    out.at = 0;
    writeExplainJson(out, rs.explain(q));
    sink += out.at;
  }
});
const batched = (encode: (out: JsonBytes, q: Query) => void) =>
  cpu((qs) => {
    for (let i = 0; i < qs.length; i += batch) sink += encodeAnswers(qs.slice(i, i + batch), encode).answers.length;
  });
const batchStringify = batched((o, q) => o.utf8(JSON.stringify(rs.explain(q))));
const batchSerializer = batched((o, q) => writeExplainJson(o, rs.explain(q)));
console.log(
  JSON.stringify({
    services,
    avgBytes,
    cpuUsPerAnswer: { walk, walkStringify: stringify, walkWriteExplainJson: serializer, batchStringify, batchExplainJson: batchSerializer },
    sink: sink > 0,
  }),
);
