// Dashboard bench: the first view's bundle size (gzipped, as a browser downloads it) and, in
// Debian's chromium, how long the services view of a 20,000-service rule set takes to become
// usable (rows drawn and the count shown, from navigation start, services fetched and indexed)
// and how long one search keystroke takes to redraw the filtered list.
// Writes bench/results/web.json and bench/results/web.md.
//
//   npx tsx bench/web.ts [--services 20000] [--endpoints 10] [--runs 5]

import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { generateIptables } from '../src/kube/generate.js';
import { WEB_DIR } from '../src/service/web.js';
import { ensureWebBuilt, launchBrowser, startServer } from '../web/harness.js';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '20000' },
    endpoints: { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
  },
});
const N = Number(args.services);
const E = Number(args.endpoints);
const RUNS = Number(args.runs);
const out = fileURLToPath(new URL('./results/', import.meta.url));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

ensureWebBuilt();

// ---- bundle: index.html and everything it loads
const html = readFileSync(join(WEB_DIR, 'index.html'));
const assets = [...html.toString().matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
const files = [{ file: 'index.html', bytes: html.length, gzip: gzipSync(html, { level: 9 }).length }];
for (const a of assets) {
  const b = readFileSync(join(WEB_DIR, a));
  files.push({ file: a, bytes: b.length, gzip: gzipSync(b, { level: 9 }).length });
}
const bundle = { files, bytes: files.reduce((s, f) => s + f.bytes, 0), gzip: files.reduce((s, f) => s + f.gzip, 0), budget: 200 * 1024 };
console.error(`first view: ${bundle.bytes} B, ${bundle.gzip} B gzipped`);

// ---- 20k services
const load0 = loadavg()[0];
const server = await startServer({ bodyLimit: 512 * 1024 * 1024 });
const browser = await launchBrowser();
try {
  const gen = generateIptables({ services: N, endpoints: E, seed: 1 });
  const body = JSON.stringify({ iptables: gen.text, node: gen.node });
  let t = performance.now();
  const up = await fetch(`${server.base}/v1/rulesets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const { id } = (await up.json()) as { id: string };
  const uploadMs = performance.now() - t;
  t = performance.now();
  const svcRes = await fetch(`${server.base}/v1/rulesets/${id}/services`);
  const svcText = await svcRes.text();
  const serverServicesMs = performance.now() - t;
  const count = (JSON.parse(svcText) as { services: unknown[] }).services.length;
  console.error(`${count} services, ${svcText.length} B of JSON; upload+parse ${Math.round(uploadMs)} ms`);

  const page = browser.page;
  const usable: number[] = [];
  const fetchMs: number[] = [];
  const keystroke: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await page.goto('about:blank');
    await page.goto(`${server.base}/#/services?rs=${id}`);
    // In the page: ms from navigation start until the full list is counted and rows are drawn.
    const h = await page.waitForFunction(
      (n) => {
        const el = document.querySelector('[data-testid=service-count]');
        return el?.textContent?.startsWith(`${n} of ${n} `) && document.querySelector('.vrow') ? performance.now() : false;
      },
      count,
      { polling: 'raf', timeout: 120_000 },
    );
    usable.push(Number(await h.jsonValue()));
    fetchMs.push(
      await page.evaluate(() => {
        const e = performance.getEntriesByType('resource').find((r) => r.name.endsWith('/services')) as PerformanceResourceTiming | undefined;
        return e ? e.responseEnd - e.startTime : NaN;
      }),
    );
    // One keystroke: a search term typed in, until the new count is on screen (next frame).
    keystroke.push(
      await page.evaluate(async (term) => {
        const input = document.querySelector<HTMLInputElement>('input[type=search]')!;
        const el = document.querySelector('[data-testid=service-count]')!;
        const before = el.textContent;
        const t0 = performance.now();
        input.value = term;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        while (el.textContent === before) await new Promise((r) => requestAnimationFrame(r));
        await new Promise((r) => requestAnimationFrame(r));
        return performance.now() - t0;
      }, `ns-${run + 1}`),
    );
  }
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadBefore: r1(load0), loadAfter: r1(loadavg()[0]) },
    bundle,
    services: {
      services: count,
      endpointsPerService: E,
      servicesJsonBytes: svcText.length,
      uploadAndParseMs: Math.round(uploadMs),
      serverServicesMs: Math.round(serverServicesMs),
      runs: RUNS,
      usableMs: { median: Math.round(median(usable)), all: usable.map(Math.round) },
      servicesFetchMs: { median: Math.round(median(fetchMs)), all: fetchMs.map(Math.round) },
      keystrokeMs: { median: r1(median(keystroke)), all: keystroke.map(r1) },
    },
  };
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'web.json'), JSON.stringify(result, null, 2) + '\n');
  const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
  const md = [
    `# Dashboard (${result.date})`,
    '',
    `${result.machine.cpus} cores (${result.machine.model}), Node ${result.machine.node}, Debian chromium headless; 1-minute load ${result.machine.loadBefore} before, ${result.machine.loadAfter} after.`,
    '',
    '| first view | bytes | gzipped |',
    '|---|---|---|',
    ...files.map((f) => `| ${f.file} | ${kb(f.bytes)} | ${kb(f.gzip)} |`),
    `| **total** (budget ${kb(bundle.budget)} gzipped) | ${kb(bundle.bytes)} | **${kb(bundle.gzip)}** |`,
    '',
    `Services view, ${count} services × ${E} endpoints (${(svcText.length / 1048576).toFixed(1)} MB of services JSON), ${RUNS} fresh page loads:`,
    '',
    '| measure | median | runs |',
    '|---|---|---|',
    `| navigation start → list drawn and counted (usable) | **${result.services.usableMs.median} ms** | ${result.services.usableMs.all.join(', ')} |`,
    `| of which GET /services (in the browser) | ${result.services.servicesFetchMs.median} ms | ${result.services.servicesFetchMs.all.join(', ')} |`,
    `| one search keystroke → filtered list on screen | ${result.services.keystrokeMs.median} ms | ${result.services.keystrokeMs.all.join(', ')} |`,
    '',
    `Upload + parse + compile of the rule set (not part of the view): ${result.services.uploadAndParseMs} ms.`,
    '',
  ].join('\n');
  await writeFile(join(out, 'web.md'), md);
  process.stdout.write(md);
} finally {
  await browser.close();
  await server.close();
}
