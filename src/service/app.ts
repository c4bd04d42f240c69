// buildApp: the Fastify application, separate from listen() so tests can inject() into it and
// the server entry can decide where to listen. It owns the pool and the store; routes get them
// through `app.landfall`. Startup work (workers, the bundled example, persisted rulesets) runs in
// the background after ready(), and /healthz + /readyz say 200 only once it is done.

import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import underPressure from '@fastify/under-pressure';
import cors from '@fastify/cors';
import bearerAuth from '@fastify/bearer-auth';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceConfig } from './config.js';
import { ApiError, faultToApiError, problem, toProblem } from './errors.js';
import { createMetrics } from './metrics.js';
import { AnswerCache } from './answer-cache.js';
import { UploadIndex } from './uploads.js';
import { WorkerPool } from './pool.js';
import { namedSchemas } from './schemas.js';
import { RulesetStore } from './store.js';
import { boot } from './boot.js';
import type { Landfall } from './landfall.js';
import type { Task } from './protocol.js';
import { withCompiled } from './load.js';
import { rulesetRoutes } from './routes/rulesets.js';
import { explainRoutes } from './routes/explain.js';
import { opsRoutes } from './routes/ops.js';
import scaleRoutes from './routes/scale.js';
import { openapiOptions } from './openapi.js';

export interface AppOptions {
  config: ServiceConfig;
  logger?: FastifyServerOptions['logger'];
  /** Directory of the bundled example (examples/kube-node); null for none. */
  exampleDir?: string | null;
  /** Worker module override (unit tests of the pool mechanics). */
  workerFile?: string;
}

export type App = FastifyInstance;

export async function buildApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: config.bodyLimit,
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    // Requests may carry large dumps; keep sockets from idling forever but give uploads time.
    requestTimeout: 120_000,
    ajv: {
      // Reject rather than silently repair: a wrong type or an unknown field is the client's
      // mistake and the 400 says which field.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = createMetrics();
  const workerFile = opts.workerFile ?? config.workerFile;
  const pool = new WorkerPool({
    size: config.poolSize,
    queueMax: config.queueMax,
    taskTimeoutMs: config.taskTimeoutMs,
    loadTimeoutMs: config.loadTimeoutMs,
    loaderIdleMs: config.loaderIdleMs,
    worker: {
      cacheBytes: config.workerCacheBytes,
      ...(config.maxPaths ? { maxPaths: config.maxPaths } : {}),
      ...(config.engine ? { engine: config.engine } : {}),
    },
    ...(workerFile ? { filename: workerFile } : {}),
    onCrash: (reason) => app.log.error({ reason }, 'a worker died while running a task; piscina replaces it'),
  });
  const store = new RulesetStore({ dataDir: config.dataDir, maxBytes: config.storeBytes, log: app.log });

  const landfall: Landfall = {
    config,
    pool,
    store,
    metrics,
    answers: new AnswerCache(config.answerCacheBytes),
    uploads: new UploadIndex(),
    boot: { ready: false, done: Promise.resolve() },
    run: (async (task: Task, fieldPrefix?: string) => {
      const res = task.op === 'explain' && task.ruleset.id !== null ? await pool.explain({ ...task.ruleset, id: task.ruleset.id }, task.query) : await pool.run(task);
      const t = res.timings;
      if (t.loadMs !== undefined) metrics.loads.observe({ phase: 'load' }, t.loadMs / 1000);
      if (t.parseMs !== undefined) metrics.loads.observe({ phase: 'parse' }, t.parseMs / 1000);
      if (t.compileMs !== undefined) metrics.loads.observe({ phase: 'compile' }, t.compileMs / 1000);
      if (!res.ok) throw faultToApiError(res.fault, fieldPrefix);
      if (task.op === 'explain') return { json: Buffer.from(res.binary!.buffer, res.binary!.byteOffset, res.binary!.byteLength) };
      return {
        json: res.json,
        ...(res.id === undefined ? {} : { id: res.id }),
        ...(res.shared === undefined ? {} : { shared: res.shared }),
        ...(res.binary === undefined ? {} : { binary: res.binary }),
      };
    }) as Landfall['run'],
    async ruleset(idOrAlias) {
      const id = store.resolve(idOrAlias);
      const entry = id === undefined ? undefined : await store.get(id);
      if (!entry) throw new ApiError('ruleset-not-found', `no ruleset ${idOrAlias}; upload it with POST /v1/rulesets`);
      return withCompiled(landfall, entry);
    },
  };
  app.decorate('landfall', landfall);

  for (const schema of namedSchemas) app.addSchema(schema);

  app.setErrorHandler((err, req, reply) => {
    const { problem: p, retryAfter, expected } = toProblem(err);
    if (expected) req.log.info({ code: p.code, detail: p.detail }, 'request failed');
    else req.log.error({ err }, 'request failed unexpectedly');
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.status(p.status).type('application/problem+json').send(JSON.stringify(p));
  });
  app.setNotFoundHandler((req, reply) => {
    const p = problem('route-not-found', `no route ${req.method} ${req.url.split('?')[0]}`);
    return reply.status(404).type('application/problem+json').send(JSON.stringify(p));
  });

  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    retryAfter: 1,
    pressureHandler: (_req, reply, type, value) => {
      const p = problem('under-pressure', `server overloaded (${type}${value !== undefined ? ` = ${Math.round(value)}` : ''}); retry shortly`);
      void reply.status(503).header('retry-after', '1').type('application/problem+json').send(JSON.stringify(p));
    },
  });

  // CORS for one configured origin: the headers and preflight answers a dashboard needs. Registered
  // before the token check, so a preflight (which carries no token) is answered first.
  if (config.corsOrigin) {
    await app.register(cors, {
      origin: config.corsOrigin,
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type'],
      maxAge: 600,
    });
  }

  // LANDFALL_TOKEN guards /v1 (constant-time comparison in @fastify/bearer-auth); probes, docs and
  // the dashboard stay open. A refusal is our 401 problem, not the plugin's own body.
  const token = config.token;
  if (token) {
    await app.register(bearerAuth, { keys: [token], addHook: false, verifyErrorLogLevel: 'info' });
    app.addHook('onRequest', (req, reply, done) => {
      if (!req.url.startsWith('/v1/')) return done();
      app.verifyBearerAuth!(req, reply, (err) => done(err ? new ApiError('unauthorized', 'send Authorization: Bearer <LANDFALL_TOKEN>') : undefined));
    });
    // Only a token check answers 401. (Hooks run on every request: callback style, no promise.)
    app.addHook('onSend', (_req, reply, payload, done) => {
      if (reply.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="landfall"');
      done(null, payload);
    });
  }
  app.addHook('onResponse', (req, reply, done) => {
    metrics.requests.observe(
      { route: req.routeOptions.url ?? 'unmatched', method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  await app.register(swagger, openapiOptions());
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(opsRoutes);
  await app.register(rulesetRoutes);
  await app.register(explainRoutes);
  await app.register(scaleRoutes);
  await app.register(import('./web.js')); // the dashboard at `/` (build/web)

  app.addHook('onReady', async () => {
    // Not awaited: the server listens (/healthz 200, /readyz 503) while the example loads.
    landfall.boot.done = boot(app, opts.exampleDir ?? null).then(
      () => {
        landfall.boot.ready = true;
      },
      (err: unknown) => app.log.error({ err }, 'startup failed; staying not-ready'),
    );
  });
  app.addHook('onClose', async () => {
    await landfall.boot.done;
    await pool.close();
  });
  return app as unknown as App;
}
