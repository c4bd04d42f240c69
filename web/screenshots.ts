// Regenerates the README's dashboard screenshots (web/screenshots/*.png) from the real server and
// Debian's chromium: `npm run screenshots`. Each view on the bundled example node, at 1280 px wide,
// plus the explain view at 390 px.

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureWebBuilt, launchBrowser, startServer } from './harness.js';

const OUT = fileURLToPath(new URL('./screenshots/', import.meta.url));
mkdirSync(OUT, { recursive: true });
ensureWebBuilt();
const server = await startServer();
const browser = await launchBrowser({ width: 1280, height: 860 });
const { page } = browser;
page.setDefaultTimeout(60_000);
const shot = async (name: string, hash: string, ready: string, full = true): Promise<void> => {
  await page.goto('about:blank');
  await page.goto(`${server.base}/${hash}`);
  await page.locator(ready).first().waitFor();
  await page.screenshot({ path: `${OUT}${name}.png`, fullPage: full });
  console.error(`wrote web/screenshots/${name}.png`);
};
try {
  const checkout = encodeURIComponent('shop/checkout:http');
  await shot('rulesets', '#/rulesets?rs=example', '[data-testid=ruleset-id]');
  await shot('services', `#/services?rs=example&sel=${checkout}`, '[data-testid=service-detail]', false);
  await shot('explain', `#/explain?rs=example&svc=${checkout}&origin=external&target=nodeport`, 'input[list=svc-names]');
  // The example's node address is not known to a fresh browser; the NodePort preset asks for it.
  await page.getByRole('textbox', { name: 'Destination', exact: true }).fill('192.168.0.10');
  await page.getByRole('button', { name: 'Explain', exact: true }).click();
  await page.getByTestId('path').waitFor();
  await page.screenshot({ path: `${OUT}explain.png`, fullPage: true });
  const explainHash = new URL(page.url()).hash;

  await page.goto(`${server.base}/#/rulesets`);
  await page.getByLabel('Paste a dump').fill(['*filter', ':INPUT ACCEPT [0:0]', '-A INPUT -p tcp --dport 80 -j ACCEPT', '-A INPUT -p tcp --dport notaport -j ACCEPT', 'COMMIT', ''].join('\n'));
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.locator('.err-line').waitFor();
  await page.screenshot({ path: `${OUT}parse-error.png`, fullPage: true });

  await page.goto(`${server.base}/#/scale`);
  await page.getByLabel('Services (comma-separated counts)').fill('200,400,800');
  await page.getByLabel('Endpoints per service').fill('5');
  await page.getByLabel('Packets per point').fill('500');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByTestId('scale-chart').waitFor({ timeout: 300_000 });
  await page.screenshot({ path: `${OUT}scale.png`, fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('about:blank');
  await page.goto(`${server.base}/${explainHash}`);
  await page.getByTestId('path').waitFor();
  await page.locator('.answer').screenshot({ path: `${OUT}explain-390.png` });
  console.error('wrote web/screenshots/explain-390.png');
  await shot('services-390', `#/services?rs=example&sel=${checkout}`, '[data-testid=service-detail]', false);
} finally {
  await browser.close();
  await server.close();
}
