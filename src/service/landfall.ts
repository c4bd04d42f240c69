// What routes and startup share through `app.landfall` (the pool, the store, the caches, the boot
// state), declared apart from app.ts so the modules that take it need not import the app itself.

import type { ServiceConfig } from './config.js';
import type { Metrics } from './metrics.js';
import type { AnswerCache } from './answer-cache.js';
import type { UploadIndex } from './uploads.js';
import type { WorkerPool } from './pool.js';
import type { Task } from './protocol.js';
import type { StoredRuleset, RulesetStore } from './store.js';

export interface BootState {
  ready: boolean;
  /** Settles when startup work is done (never rejects: failures are logged and leave ready false). */
  done: Promise<void>;
}

/** What routes share. */
export interface Landfall {
  config: ServiceConfig;
  pool: WorkerPool;
  store: RulesetStore;
  metrics: Metrics;
  /** Explain answers by ruleset id + canonical query. */
  answers: AnswerCache;
  /** Concurrent uploads of one id parse once. */
  uploads: UploadIndex;
  boot: BootState;
  /**
   * Runs a task, records its timings, and turns a library fault into an ApiError. An explain's
   * answer is its JSON as UTF-8 bytes, sent as they are (stored rulesets: batched, src/service/pool.ts).
   */
  run(task: Task & { op: 'explain' }, fieldPrefix?: string): Promise<{ json: Buffer }>;
  run(task: Task, fieldPrefix?: string): Promise<{ json: string; id?: string; shared?: SharedArrayBuffer; binary?: Uint8Array }>;
  /** The stored ruleset for a path id or alias with its compiled form, or 404. */
  ruleset(idOrAlias: string): Promise<StoredRuleset>;
}

declare module 'fastify' {
  interface FastifyInstance {
    landfall: Landfall;
  }
}
