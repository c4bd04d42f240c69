// Liveness, readiness, Prometheus metrics and the OpenAPI document.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError } from '../errors.js';
import { gauge } from '../metrics.js';
import { errors } from './common.js';

const Health = Type.Object({
  status: Type.Literal('ok'),
  rulesets: Type.Integer({ description: 'rulesets held in memory' }),
  workers: Type.Integer(),
});

export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const lf = app.landfall;

  // Liveness: the process listens and its event loop turns (DESIGN.md) — never gated on startup
  // work, so an orchestrator does not restart a replica that is only loading.
  app.get(
    '/healthz',
    {
      // Exempt from the event-loop-lag 503 (app.ts): a lagging process is still alive.
      config: { pressureHandler: () => undefined },
      schema: {
        summary: 'Liveness',
        description: '200 as soon as the server listens.',
        tags: ['ops'],
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' as const, rulesets: lf.store.size, workers: lf.pool.threadCount }),
  );
  // Readiness: the workers are up and the bundled example is loaded. Persisted rulesets are read
  // on first use and never gate it.
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness',
        description: '200 once the workers are up and the bundled example is loaded; persisted rulesets load on first use.',
        tags: ['ops'],
        response: { 200: Health, ...errors(503) },
      },
    },
    async () => {
      if (!lf.boot.ready) throw new ApiError('not-ready', 'still starting: workers and the bundled example', {}, 1);
      return { status: 'ok' as const, rulesets: lf.store.size, workers: lf.pool.threadCount };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format 0.0.4' }) },
      },
    },
    async (_req, reply) => {
      const s = lf.pool.stats();
      const text = [
        lf.metrics.requests.render(),
        lf.metrics.loads.render(),
        gauge('landfall_pool_threads', 'Worker threads alive.', s.threads),
        gauge('landfall_pool_busy', 'Tasks running in workers.', s.busy),
        gauge('landfall_pool_queue_size', 'Tasks waiting for a worker.', s.queued),
        gauge('landfall_pool_queue_max', 'Queue bound; beyond it requests get 503.', s.queueMax),
        gauge('landfall_pool_utilization', 'Pool utilisation since start (0..1).', s.utilization),
        gauge('landfall_pool_tasks_completed_total', 'Tasks completed by workers.', s.completed, 'counter'),
        gauge('landfall_pool_worker_crashes_total', 'Tasks failed because their worker died.', s.crashes, 'counter'),
        gauge('landfall_pool_task_timeouts_total', 'Tasks stopped at the time limit.', s.timeouts, 'counter'),
        gauge('landfall_pool_rejected_total', 'Requests refused because the queue was full.', s.rejected, 'counter'),
        gauge('landfall_rulesets_cached', 'Rulesets held in memory.', lf.store.size),
        gauge('landfall_explain_cache_hits_total', 'Explain answers served from the answer cache.', lf.answers.hits, 'counter'),
        gauge('landfall_explain_cache_misses_total', 'Explain answers computed by a worker.', lf.answers.misses, 'counter'),
        gauge('landfall_explain_cache_bytes', 'Memory held by cached explain answers.', lf.answers.memoryBytes),
        gauge('landfall_rulesets_memory_bytes', 'Bytes of rulesets held in memory (inputs not yet on disk, compiled forms or their resident parts).', lf.store.memoryBytes),
        gauge('process_resident_memory_bytes', 'Resident set size.', process.memoryUsage.rss()),
      ].join('\n');
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${text}\n`);
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
