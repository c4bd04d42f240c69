// Where the load path's time goes: parse + compile of a dump, then uncached explain queries.
// Run under `node --cpu-prof` (see bench/profile/README.md); prints phase times as JSON on stdout.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile/load-profile.ts FILE [explain-count]

import { readFileSync } from 'node:fs';
import { loadRuleset } from '../../src/index.js';

const file = process.argv[2];
if (!file) throw new Error('usage: load-profile.ts FILE [explains]');
const explains = Number(process.argv[3] ?? 2000);
const text = readFileSync(file, 'utf8');
const t0 = performance.now();
const rs = loadRuleset({ iptables: text, node: { addresses: ['192.168.0.10'], podCIDRs: ['10.244.1.0/24'] } });
const t1 = performance.now();
const svcs = rs.services();
const t2 = performance.now();
let n = 0;
for (let i = 0; i < explains; i++) {
  const s = svcs[(i * 7919) % svcs.length]!;
  rs.explain({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod', sourcePort: 30000 + i });
  n++;
}
const t3 = performance.now();
console.log(JSON.stringify({ loadMs: t1 - t0, parseMs: rs.stats.parseMs, compileMs: rs.stats.compileMs, servicesMs: t2 - t1, explains: n, explainUs: ((t3 - t2) * 1000) / n }));
