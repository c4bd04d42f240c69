// Summarizes a V8 .cpuprofile: self time per function (top N) and per source file, optionally
// only for samples between two moments (microseconds since profile start), as markdown.
//   tsx bench/profile/summarize.ts FILE.cpuprofile [top=25]

import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: summarize.ts FILE.cpuprofile [top]');
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/');
  const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = url || n.callFrame.functionName;
  files.set(f, (files.get(f) ?? 0) + us);
}
const row = ([k, us]: [string, number]) => `| ${k} | ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} % |`;
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms\n\n| function | self ms | share |\n|---|---:|---:|`);
[...fn].sort((a, b) => b[1] - a[1]).slice(0, top).forEach((e) => console.log(row(e)));
console.log(`\n| file | self ms | share |\n|---|---:|---:|`);
[...files].sort((a, b) => b[1] - a[1]).slice(0, 15).forEach((e) => console.log(row(e)));
