// The dashboard in a real browser: Debian's chromium (playwright-core) against the real server
// listening on a free port. One browser and one page for the whole file, views in the order a
// user would take them. Expectations come from the API and the dump files, never from constants.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { generateIptables } from '../../src/kube/generate.js';
import { WEB_DIR } from '../../src/service/web.js';
import { CHROMIUM, ensureWebBuilt, launchBrowser, startServer, type Browser, type Server } from '../../web/harness.js';
import { withTestWorker } from '../service/helpers.js';

const EXAMPLE = new URL('../../examples/kube-node/', import.meta.url);
const dumpLines = readFileSync(new URL('iptables.txt', EXAMPLE), 'utf8').split('\n');
const BUDGET = 200 * 1024;

interface ApiService {
  name: string;
  namespace: string;
  clusterIP: string;
  port: number;
  protocol: string;
  endpoints: { endpoint: string; probability: number }[];
}
interface ApiOutcome {
  probability: number;
  endpoint: string;
  verdict: string;
  path: { line: number; rule: string; policy?: string }[];
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`skipping the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

describe.skipIf(!haveChromium)('dashboard in chromium', () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const offsite: string[] = [];

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(server.base + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const go = async (hash: string): Promise<void> => {
    // A full load each time, as a pasted link would be.
    await page.goto('about:blank');
    await page.goto(`${server.base}/${hash}`);
  };

  beforeAll(async () => {
    ensureWebBuilt();
    server = await startServer({}, withTestWorker()); // the pool worker bundled once per run
    browser = await launchBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(server.base) && !u.startsWith('about:') && !u.startsWith('data:') && !u.startsWith('blob:')) offsite.push(u);
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    expect(pageErrors).toEqual([]);
    expect(offsite).toEqual([]);
  });

  it('serves the dashboard at / under the bundle budget, with a CSP, beside /docs and /v1', async () => {
    const res = await fetch(`${server.base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    let gz = gzipSync(html).length;
    for (const a of assets) {
      const r = await fetch(`${server.base}/${a}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toContain('immutable');
      gz += gzipSync(Buffer.from(await r.arrayBuffer())).length;
    }
    expect(gz).toBeLessThan(BUDGET);
    expect((await fetch(`${server.base}/docs/json`)).status).toBe(200);
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    const missing = await fetch(`${server.base}/v1/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    await page.goto(`${server.base}/`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Rule sets');
  });

  let rsId = '';
  it('uploads the bundled example (files picked in the form) and shows its stats', async () => {
    await go('#/rulesets');
    await page.setInputFiles('input[type=file]', [new URL('iptables.txt', EXAMPLE).pathname, new URL('node.json', EXAMPLE).pathname]);
    await expect(page.locator('select[aria-label="kind of iptables.txt"]').inputValue()).resolves.toBe('iptables');
    await expect(page.locator('select[aria-label="kind of node.json"]').inputValue()).resolves.toBe('node');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const idEl = page.getByTestId('ruleset-id');
    await idEl.waitFor();
    rsId = (await idEl.textContent())!.trim();
    expect(rsId).toMatch(/^[0-9a-f]{64}$/);
    expect(page.url()).toContain(`rs=${rsId}`);
    const summary = (await api<{ stats: { rules: number } }>('GET', `/v1/rulesets/${rsId}`)).json;
    const rules = page.locator('.stats div', { hasText: /^rules/ }).locator('dd');
    await expect(rules.textContent()).resolves.toBe(String(summary.stats.rules));
  });

  let svc: ApiService;
  it('finds a service by search and opens it with the keyboard', async () => {
    const services = (await api<{ services: ApiService[] }>('GET', `/v1/rulesets/${rsId}/services`)).json.services;
    svc = services.filter((s) => s.endpoints.length >= 2 && s.clusterIP).sort((a, b) => a.name.localeCompare(b.name))[0];
    expect(svc).toBeDefined();
    await page.getByRole('link', { name: /Services/ }).first().click();
    await page.getByTestId('service-count').filter({ hasText: `of ${services.length} services` }).waitFor();
    await page.getByLabel('Search').fill(svc.name);
    // Names sort, so the service comes before any whose name it prefixes (dns before dns-tcp).
    const matching = services.filter((s) => s.name.includes(svc.name)).length;
    await page.getByTestId('service-count').filter({ hasText: `${matching} of ${services.length} services` }).waitFor();
    const list = page.getByRole('listbox', { name: 'Services' });
    await list.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('Enter');
    const detail = page.getByTestId('service-detail');
    await expect(detail.locator('h2').textContent()).resolves.toBe(svc.name);
    const shown = await detail.locator('.endpoints li .mono').allTextContents();
    expect(shown.sort()).toEqual(svc.endpoints.map((e) => e.endpoint).sort());
    expect(page.url()).toContain(`sel=${encodeURIComponent(svc.name)}`);
  });

  let explainUrl = '';
  let outcomes: ApiOutcome[] = [];
  it('explains it from a pod: the chart, the NAT and the path with the dump\'s line numbers', async () => {
    await page.getByTestId('service-detail').getByRole('link', { name: 'from a pod' }).click();
    await page.getByTestId('path').waitFor();
    explainUrl = page.url();
    expect(explainUrl).toContain(`dst=${svc.clusterIP}`);
    expect(explainUrl).toContain('origin=pod');
    const answer = await api<{ outcomes: ApiOutcome[] }>('POST', `/v1/rulesets/${rsId}/explain`, { protocol: svc.protocol, destination: svc.clusterIP, port: svc.port, origin: 'pod' });
    outcomes = answer.json.outcomes;
    // One bar per outcome, each outcome's endpoint listed.
    await expect(page.getByTestId('outcome-chart').locator('g.bar').count()).resolves.toBe(outcomes.length);
    const listed = await page.locator('.outcomes button .mono').allTextContents();
    expect(listed.sort()).toEqual(outcomes.map((o) => o.endpoint).sort());
    // The path of the most likely outcome: every step's line holds that step's text in the dump.
    const top = [...outcomes].sort((a, b) => b.probability - a.probability)[0];
    const steps = page.getByTestId('path').locator('.step');
    const lines = (await steps.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-line')))));
    expect(lines).toEqual(top.path.map((s) => s.line));
    const texts = await steps.locator('code.rule').allTextContents();
    lines.forEach((line, i) => {
      const dump = dumpLines[line - 1];
      // A policy step is the chain's declaration, ":CHAIN POLICY [counters]".
      if (top.path[i].policy !== undefined) expect(`${dump} `.startsWith(`${texts[i]} `)).toBe(true);
      // iptables-save -c prefixes counters; the rule text is what follows them.
      else expect(texts[i]).toBe(dump.replace(/^\[\d+:\d+\] /, ''));
    });
    // The DNAT rule is highlighted as the one that set the destination.
    const dnat = page.getByTestId('path').locator('.step.key', { hasText: 'sets destination' });
    await expect(dnat.locator('code.rule').textContent()).resolves.toContain(`--to-destination ${top.endpoint}`);
    // Hooks in kernel order for a forwarded pod packet.
    const hooks = await page.locator('.hook-name').allTextContents();
    expect(hooks[0]).toBe('PREROUTING');
    expect(hooks.at(-1)).toBe('POSTROUTING');
  });

  it('reloads a deep link to the second outcome and shows the same answer; copy as curl asks the same', async () => {
    expect(outcomes.length).toBeGreaterThanOrEqual(2);
    const second = [...outcomes.keys()].sort((a, b) => outcomes[b].probability - outcomes[a].probability)[1];
    const link = `${explainUrl.slice(explainUrl.indexOf('#'))}&o=${second}`;
    await go(link);
    await page.getByTestId('path').waitFor();
    const lines = await page.getByTestId('path').locator('.step').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-line'))));
    expect(lines).toEqual(outcomes[second].path.map((s) => s.line));
    await expect(page.locator(`.outcomes button[data-outcome="${second}"]`).getAttribute('aria-pressed')).resolves.toBe('true');
    const curl = (await page.getByTestId('curl').textContent())!;
    expect(curl).toContain(`/v1/rulesets/${rsId}/explain`);
    const cli = (await page.getByTestId('cli').textContent())!;
    expect(cli).toContain(`--dst ${svc.clusterIP}:${svc.port}`);
    expect(cli).toContain('--origin pod');
    // Asynchronously: the server answering it runs in this process.
    const curlAnswer = existsSync('/usr/bin/curl') ? (await promisify(execFile)('sh', ['-c', curl], { encoding: 'utf8', timeout: 20_000 })).stdout : null;
    if (curlAnswer !== null) expect((JSON.parse(curlAnswer) as { outcomes: ApiOutcome[] }).outcomes.map((o) => o.endpoint)).toEqual(outcomes.map((o) => o.endpoint));
  });

  it('shows one tab per case when the answer rests on assumptions', async () => {
    // An ipset the dump uses but the upload does not give: its membership is an assumption.
    const text = ['*filter', ':INPUT ACCEPT [0:0]', '-A INPUT -m set --match-set BLOCKED src -j DROP', '-A INPUT -p tcp --dport 22 -j ACCEPT', 'COMMIT', ''].join('\n');
    const setLine = text.split('\n').findIndex((l) => l.includes('--match-set')) + 1;
    const up = await api<{ id: string }>('POST', '/v1/rulesets', { iptables: text, node: { addresses: ['192.168.0.10'] } });
    const query = { protocol: 'tcp', destination: '192.168.0.10', port: 22 };
    const r = (await api<{ outcomes: (ApiOutcome & { assumes?: unknown[]; uncertain?: unknown[] })[] }>('POST', `/v1/rulesets/${up.json.id}/explain`, query)).json;
    const keys = new Set(r.outcomes.map((o) => JSON.stringify(o.assumes ?? o.uncertain ?? [])));
    expect(keys.size).toBe(2);
    await go(`#/explain?rs=${up.json.id}&proto=tcp&dst=192.168.0.10&port=22`);
    const tabs = page.getByRole('tab');
    await tabs.first().waitFor();
    await expect(tabs.count()).resolves.toBe(keys.size);
    await expect(page.locator('.assumes .ln').first().textContent()).resolves.toBe(String(setLine));
    const firstLines = await page.getByTestId('path').locator('.step').evaluateAll((els) => els.map((e) => e.getAttribute('data-line')));
    // Keyboard: the arrow key moves to the other case, whose path differs.
    await tabs.first().focus();
    await page.keyboard.press('ArrowRight');
    await expect(tabs.nth(1).getAttribute('aria-selected')).resolves.toBe('true');
    await page.waitForFunction((prev) => JSON.stringify(Array.from(document.querySelectorAll('[data-testid=path] .step')).map((e) => e.getAttribute('data-line'))) !== prev, JSON.stringify(firstLines));
    const verdicts = await page.locator('.outcomes .tag').allTextContents();
    expect(verdicts).toHaveLength(1);
    expect(r.outcomes.map((o) => o.verdict)).toContain(verdicts[0]);
    expect(page.url()).toContain('case=1');
  });

  it('shows a parse error on the offending line with its column marked', async () => {
    const broken = ['*filter', ':INPUT ACCEPT [0:0]', '-A INPUT -p tcp --dport 80 -j ACCEPT', '-A INPUT -p tcp --dport notaport -j ACCEPT', 'COMMIT', ''].join('\n');
    const problem = (await api<{ line: number; column: number }>('POST', '/v1/rulesets', { iptables: broken })).json;
    expect(problem.line).toBe(4);
    await go('#/rulesets');
    await page.getByLabel('Paste a dump').fill(broken);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const errLine = page.locator('.src-line.err-line');
    await errLine.waitFor();
    await expect(errLine.getAttribute('data-line')).resolves.toBe(String(problem.line));
    const mark = errLine.locator('mark.err-col');
    await expect(mark.getAttribute('data-column')).resolves.toBe(String(problem.column));
    const badLine = broken.split('\n')[problem.line - 1];
    await expect(mark.textContent()).resolves.toBe(badLine.slice(problem.column - 1).split(' ')[0]);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('notaport');
  });

  it('runs a small scaling job to the end: progress, chart, JSON download', async () => {
    await go('#/scale');
    await page.getByLabel('Services (comma-separated counts)').fill('50,100');
    await page.getByLabel('Endpoints per service').fill('2');
    await page.getByLabel('Packets per point').fill('200');
    await page.getByLabel('ipvs').uncheck();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByTestId('job-state').waitFor();
    expect(page.url()).toMatch(/#\/scale\?job=[0-9a-f-]{36}/);
    await page.getByTestId('job-state').filter({ hasText: /^(done|failed|cancelled)$/ }).waitFor({ timeout: 120_000 });
    await expect(page.getByTestId('job-state').textContent()).resolves.toBe('done');
    await expect(page.locator('progress[aria-label="job progress"]').evaluate((p) => (p as HTMLProgressElement).value)).resolves.toBe(100);
    await expect(page.getByTestId('scale-chart').locator('svg').count()).resolves.toBe(1);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
    const json = JSON.parse(readFileSync((await dl.path())!, 'utf8')) as { points: { services: number; mode: string }[] };
    expect(json.points.map((p) => [p.mode, p.services])).toEqual([
      ['iptables', 50],
      ['iptables', 100],
    ]);
  }, 150_000);

  // A few thousand services exercise the virtual list, the filters and End; the 20,000-service
  // case (and its timing) is bench/web.ts, which keeps this suite fast.
  const MANY = 3_000;
  it(`lists and filters ${MANY} services from the generator`, async () => {
    const gen = generateIptables({ services: MANY, endpoints: 2, seed: 7 });
    // Uploaded through the page (files picked), with the progress shown while it loads.
    await go('#/rulesets');
    // From files on disk: chromium reads them itself (a buffer would cross the protocol in pieces).
    const dir = mkdtempSync(join(tmpdir(), 'landfall-web-many-'));
    writeFileSync(join(dir, 'big.iptables'), gen.text);
    writeFileSync(join(dir, 'node.json'), JSON.stringify(gen.node));
    await page.setInputFiles('input[type=file]', [join(dir, 'big.iptables'), join(dir, 'node.json')]);
    // The server in this process reads and decodes the body on its main thread, which also
    // carries playwright's messages: allow the click's acknowledgement to wait for it.
    // Note whether the progress bar ever shows, however briefly.
    await page.evaluate(() => {
      const w = window as unknown as { sawProgress: boolean };
      w.sawProgress = false;
      new MutationObserver(() => {
        if (document.querySelector('.upload-progress progress')) w.sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click({ timeout: 120_000 });
    const idEl = page.getByTestId('ruleset-id');
    await idEl.waitFor({ timeout: 150_000 });
    const id = (await idEl.textContent())!.trim();
    rmSync(dir, { recursive: true, force: true });
    await expect(page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress)).resolves.toBe(true);
    const services = (await api<{ services: ApiService[] }>('GET', `/v1/rulesets/${id}/services`)).json.services;
    expect(services.length).toBeGreaterThanOrEqual(MANY);
    await go(`#/services?rs=${id}`);
    const count = page.getByTestId('service-count');
    await count.filter({ hasText: `${services.length} of ${services.length} services` }).waitFor({ timeout: 60_000 });
    // Virtual: a screenful of rows in the DOM, not thousands.
    const rendered = await page.locator('.vrow').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(100);
    // Namespace filter.
    const ns = services[services.length >> 1].namespace;
    await page.getByLabel('Namespace').selectOption(ns);
    await count.filter({ hasText: `${services.filter((s) => s.namespace === ns).length} of ${services.length} services` }).waitFor();
    // Search by a cluster IP within the namespace finds that service first or among few.
    const target = services.filter((s) => s.namespace === ns)[0];
    await page.getByLabel('Search').fill(target.name);
    await count.filter({ hasText: `${services.filter((s) => s.name.includes(target.name)).length} of ${services.length} services` }).waitFor();
    await page.locator('.vrow').first().click();
    await expect(page.getByTestId('service-detail').locator('h2').textContent()).resolves.toBe(target.name);
    // Clear the filters; End jumps to the last row.
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Namespace').selectOption('');
    await count.filter({ hasText: `${services.length} of ${services.length} services` }).waitFor();
    await page.getByRole('listbox', { name: 'Services' }).focus();
    await page.keyboard.press('End');
    const last = [...services].sort((a, b) => (a.name < b.name ? -1 : 1)).at(-1)!;
    await page.locator(`#svc-${services.length - 1}`).waitFor();
    await expect(page.locator(`#svc-${services.length - 1} .vname`).textContent()).resolves.toBe(last.name);
  }, 240_000);

  it('stays readable at 390 px: no horizontal scrolling on the explain view', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go(explainUrl.slice(explainUrl.indexOf('#')));
    await page.getByTestId('path').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});

// The build the tests use is the one `npm run build:web` makes.
describe('dashboard build output', () => {
  it('lives in build/web with an index.html', () => {
    ensureWebBuilt();
    expect(existsSync(`${WEB_DIR}index.html`)).toBe(true);
  });
});
