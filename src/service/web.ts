// The dashboard (web/, built into build/web/ by `npm run build:web`) served at `/`. Static files
// only: the page talks to the same server's /v1 API, loads nothing from elsewhere (the CSP says
// so to the browser), and hashed assets are cached for good while index.html is always revalidated.
// Registered from app.ts; unknown paths fall through to the app's problem+json 404.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { problem } from './errors.js';

/** build/web/ from both src/service/ and dist/service/. */
export const WEB_DIR = fileURLToPath(new URL('../../build/web/', import.meta.url));

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Preact sets element styles (bar widths); the scaling chart's SVG carries presentation attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export default async function webRoutes(app: FastifyInstance): Promise<void> {
  if (!existsSync(`${WEB_DIR}index.html`)) {
    // A checkout that skipped the build still serves the API; `/` says what is missing.
    app.log.warn({ dir: WEB_DIR }, 'dashboard not built (npm run build:web); / answers 503');
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      const p = problem('not-ready', 'the dashboard is not built: run `npm run build:web` (npm ci does it)');
      return reply.status(503).type('application/problem+json').send(JSON.stringify(p));
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: WEB_DIR,
    prefix: '/',
    index: 'index.html',
    wildcard: true,
    decorateReply: false,
    cacheControl: false,
    setHeaders(reply, path) {
      if (path.includes('/assets/')) void reply.header('cache-control', 'public, max-age=31536000, immutable');
      else void reply.header('cache-control', 'no-cache');
      if (path.endsWith('.html')) {
        void reply.header('content-security-policy', CSP);
        void reply.header('x-content-type-options', 'nosniff');
        void reply.header('referrer-policy', 'no-referrer');
      }
    },
  });
}
