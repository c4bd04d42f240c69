// Node-side helpers for driving the dashboard in a real browser: build it when its sources are
// newer than build/web, start the real server on a free port, and launch Debian's chromium
// through playwright-core (no downloaded browser). Used by test/web, bench/web.ts and
// web/screenshots.ts.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { buildApp, type App } from '../src/service/app.js';
import { defaultConfig, type ServiceConfig } from '../src/service/config.js';
import { WEB_DIR } from '../src/service/web.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SOURCES = ['web/src', 'web/index.html', 'web/vite.config.ts', 'src/scale/svg.ts', 'src/scale/types.ts'];

function newest(path: string): number {
  const p = join(ROOT, path);
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newest(join(path, f))));
}

/** Builds build/web/ (as `npm run build:web`) unless it is newer than every source. */
export function ensureWebBuilt(): void {
  const index = join(WEB_DIR, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...SOURCES.map(newest))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    // Under vitest NODE_ENV is 'test', which would give a development build.
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface Server {
  app: App;
  base: string;
  close(): Promise<void>;
}

/** The real app (example preloaded as `example`) listening on 127.0.0.1:<free port>. */
export async function startServer(overrides: Partial<ServiceConfig> = {}, opts: { workerFile?: string } = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'landfall-web-'));
  const app = await buildApp({
    config: defaultConfig({ poolSize: 1, dataDir, maxEventLoopDelayMs: 0, ...overrides }),
    exampleDir: join(ROOT, 'examples/kube-node'),
    ...(opts.workerFile ? { workerFile: opts.workerFile } : {}),
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  await app.landfall.boot.done;
  return {
    app,
    base,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Headless chromium with a fresh profile, nothing reaching out to the network on its own. */
export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'landfall-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
