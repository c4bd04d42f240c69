// Service configuration: every knob has an environment variable (DESIGN.md "Configuration") and a
// default, so `npm start` needs nothing set. buildApp takes the parsed object, never process.env,
// so tests can build as many differently-configured apps as they like in one process.

import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

export interface ServiceConfig {
  port: number;
  host: string;
  /** Where uploaded rulesets persist; null keeps them in memory only. */
  dataDir: string | null;
  /** Bearer token required on /v1 routes, when set. */
  token: string | null;
  /** Largest request body in bytes (→ 413). */
  bodyLimit: number;
  /** Worker threads. Default: cores - 1 (at least 1), leaving one core for the event loop. */
  poolSize: number;
  /** Tasks waiting for a worker before new requests get 503 + Retry-After. */
  queueMax: number;
  /** Time limit of an explain/trace/services task; over it the worker is terminated and the request gets 503. */
  taskTimeoutMs: number;
  /**
   * Time limit of a task that parses a dump (upload, one-shot explain, startup): parsing scales
   * with the dump (a 21 MB, 10k-service dump takes ~10 s), so it gets its own, larger limit.
   */
  loadTimeoutMs: number;
  /**
   * How long the loader thread stays after its last task. It starts on demand (an upload starts it
   * as its body begins to arrive) and gives its memory back when it exits; kept longer, a burst of
   * uploads spaced further apart does not pay its start (importing the library) each time.
   */
  loaderIdleMs: number;
  /** Budget of the in-memory ruleset LRU (bytes of input held); persisted ones reload on demand. */
  storeBytes: number;
  /** Budget of the explain-answer cache (bytes); 0 turns it off. */
  answerCacheBytes: number;
  /**
   * Bytes of compiled words each worker keeps open in its wasm memory (src/service/open-sets.ts);
   * a dropped ruleset is reopened from its shared compiled form, never parsed, when asked for again.
   */
  workerCacheBytes: number;
  /** Access-Control-Allow-Origin value; CORS stays off when null. */
  corsOrigin: string | null;
  /** Event-loop delay (ms) above which @fastify/under-pressure answers 503; 0 disables. */
  maxEventLoopDelayMs: number;
  /** Walk engine for the library; undefined = the library's default (wasm). */
  engine: 'wasm' | 'reference' | undefined;
  /** Upper bound on explain paths (passed to the library as maxPaths). */
  maxPaths: number | undefined;
  /** Preload the bundled example under the alias `example`. */
  preloadExample: boolean;
  logLevel: string;
  /** Log every request (pino at info costs ~10% throughput on the hot path, so off by default). */
  logRequests: boolean;
  /**
   * The pool worker's module; null = worker.ts/worker.js beside pool.ts. Set to a bundle of
   * src/service/worker.ts (as the test suite's globalSetup builds) to start workers without the
   * tsx loader when the server itself runs from a bundle.
   */
  workerFile: string | null;
}

const MiB = 1024 * 1024;

export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism() - 1);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

function str(env: NodeJS.ProcessEnv, name: string): string | null {
  const v = env[name];
  return v === undefined || v === '' ? null : v;
}

function engineFrom(v: string | undefined): ServiceConfig['engine'] {
  if (v === undefined || v === '') return undefined;
  if (v === 'wasm' || v === 'reference') return v;
  throw new Error(`LANDFALL_ENGINE must be wasm or reference, got ${JSON.stringify(v)}`);
}

/** Reads the configuration from the environment (defaults per DESIGN.md), failing loudly on nonsense. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ServiceConfig {
  const dataDir = env.LANDFALL_DATA_DIR === 'none' ? null : resolve(cwd, env.LANDFALL_DATA_DIR || 'data');
  const maxPaths = int(env, 'LANDFALL_MAX_PATHS', 0);
  return {
    port: int(env, 'PORT', 8080),
    host: str(env, 'HOST') ?? '127.0.0.1',
    dataDir,
    token: str(env, 'LANDFALL_TOKEN'),
    bodyLimit: int(env, 'LANDFALL_BODY_LIMIT', DEFAULT_BODY_LIMIT, 1),
    poolSize: int(env, 'LANDFALL_POOL_SIZE', defaultPoolSize(), 1),
    queueMax: int(env, 'LANDFALL_QUEUE_MAX', 256, 0),
    taskTimeoutMs: int(env, 'LANDFALL_TASK_TIMEOUT_MS', 30_000, 1),
    loadTimeoutMs: int(env, 'LANDFALL_LOAD_TIMEOUT_MS', 180_000, 1),
    loaderIdleMs: int(env, 'LANDFALL_LOADER_IDLE_MS', 10_000, 1),
    storeBytes: int(env, 'LANDFALL_STORE_BYTES', 512 * MiB, 1),
    workerCacheBytes: int(env, 'LANDFALL_WORKER_CACHE_BYTES', 64 * MiB, 1),
    answerCacheBytes: int(env, 'LANDFALL_ANSWER_CACHE_BYTES', 64 * MiB, 0),
    corsOrigin: str(env, 'LANDFALL_CORS_ORIGIN'),
    maxEventLoopDelayMs: int(env, 'LANDFALL_MAX_EVENT_LOOP_DELAY_MS', 1000, 0),
    maxPaths: maxPaths > 0 ? maxPaths : undefined,
    engine: engineFrom(env.LANDFALL_ENGINE),
    preloadExample: env.LANDFALL_PRELOAD_EXAMPLE !== '0',
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    logRequests: env.LANDFALL_LOG_REQUESTS === '1',
    workerFile: env.LANDFALL_WORKER_FILE ? resolve(cwd, env.LANDFALL_WORKER_FILE) : null,
  };
}

/** A configuration for tests and embedding: defaults without reading the environment. */
/**
 * 256 MiB: a 20,000-service kube-proxy node's iptables-save is ~70 MB (README), so this admits a
 * dual-stack node of that size (iptables + ip6tables) with room to spare.
 */
export const DEFAULT_BODY_LIMIT = 256 * MiB;

export function defaultConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return { ...configFromEnv({}, process.cwd()), dataDir: null, ...overrides };
}
