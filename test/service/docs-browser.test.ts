// The one web page landfall serves (Swagger UI at /docs) in a real browser: Debian's chromium
// driven by playwright-core against a real listening server, then "Try it out" on explain.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`skipping the browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);

describe.skipIf(!haveChromium)('Swagger UI at /docs in chromium', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startApp({}, { example: true });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('renders every documented route and runs an explain against the preloaded example', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/docs`, { waitUntil: 'networkidle' });
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.textContent?.replace(/\u200b/g, '').trim()));
      for (const p of ['/v1/rulesets', '/v1/rulesets/{id}/explain', '/v1/rulesets/{id}/trace', '/v1/explain', '/healthz']) {
        expect(paths).toContain(p);
      }
      // The spec the page loaded is the live one.
      const title = await page.textContent('.info .title');
      expect(title).toMatch(/landfall/i);

      // Try it out: explain against the alias `example`.
      const op = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/v1\/rulesets\/\{id\}\/explain$/ }) }).first();
      await op.locator('.opblock-summary').click();
      await op.locator('button.try-out__btn').click();
      await op.locator('input[placeholder="id"]').fill('example');
      await op.locator('textarea.body-param__text').fill(JSON.stringify({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' }));
      await op.locator('button.execute').click();
      const body = op.locator('.live-responses-table .response-col_description pre').first();
      try {
        await body.waitFor({ timeout: 20_000 });
      } catch (e) {
        await page.screenshot({ path: '/tmp/docs-fail.png', fullPage: true });
        throw e;
      }
      const text = (await body.textContent()) ?? '';
      expect(text).toMatch(/"endpoint": "10\.244\.\d+\.\d+:53"/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
