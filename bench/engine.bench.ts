// Engine bench (issue 3): generated kube-proxy rule sets of 1k/5k/10k/20k services × 10 endpoints.
// Writes bench/results/engine.json and bench/results/engine.md.
//
//   node --expose-gc --import tsx bench/engine.bench.ts [--sizes 1000,5000,10000,20000] [--endpoints 10] [--task-ms 1500]
//                                 [--batch 1000] [--columns-batch 65536] [--no-restore]

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { renderMarkdown, runEngineBench } from './engine-suite.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000,20000' },
    endpoints: { type: 'string', default: '10' },
    'task-ms': { type: 'string', default: '1500' },
    batch: { type: 'string', default: '1000' },
    'columns-batch': { type: 'string', default: '65536' },
    seed: { type: 'string', default: '1' },
    'no-restore': { type: 'boolean', default: false },
  },
});

const sizes = args.sizes.split(',').map(Number);
const results = await runEngineBench({
  sizes,
  endpoints: Number(args.endpoints),
  taskMs: Number(args['task-ms']),
  batch: Number(args.batch),
  columnsBatch: Number(args['columns-batch']),
  seed: Number(args.seed),
  restore: !args['no-restore'],
  log: (l) => process.stderr.write(`${l}\n`),
});
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  'load average at end': (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' '),
  'trace batch': Number(args.batch),
  'traceColumns batch': Number(args['columns-batch']),
  'full GC before each timed phase': typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'yes (--expose-gc)' : 'no',
};
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(new URL('./results/engine.json', import.meta.url), `${JSON.stringify({ meta, results }, null, 2)}\n`);
await writeFile(new URL('./results/engine.md', import.meta.url), renderMarkdown(results, meta));
process.stdout.write(renderMarkdown(results, meta));
