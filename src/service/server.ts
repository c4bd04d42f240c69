// startServer: build the app from a configuration, listen, and stop cleanly on SIGTERM/SIGINT.
// `landfall serve` and `npm start` call this; tests start it as a real process via main.ts.

import { join } from 'node:path';
import { EXAMPLES_DIR } from '../examples.js';
import { buildApp, type App } from './app.js';
import { configFromEnv, type ServiceConfig } from './config.js';

/** SIGTERM/SIGINT: exit is called this long after, finished or not (leaving a second of the 2 s budget for exit itself: stopping workers, which waits for a running task's native call). */
const SHUTDOWN_DEADLINE_MS = 1000;

export interface StartOptions {
  config?: ServiceConfig;
  /** Overrides of the environment's configuration (e.g. `--port` from the CLI). */
  overrides?: Partial<ServiceConfig>;
  /** Install SIGTERM/SIGINT handlers that close the server (default true). */
  handleSignals?: boolean;
}

/** The bundled example, relative to this module in both src/ and dist/. */
export function bundledExampleDir(): string {
  return join(EXAMPLES_DIR, 'kube-node');
}

export async function startServer(opts: StartOptions = {}): Promise<{ app: App; url: string }> {
  const config = { ...(opts.config ?? configFromEnv()), ...opts.overrides };
  const app = await buildApp({
    config,
    logger: { level: config.logLevel },
    exampleDir: config.preloadExample ? bundledExampleDir() : null,
  });
  const url = await app.listen({ port: config.port, host: config.host });
  if (opts.handleSignals !== false) {
    let closing = false;
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'shutting down');
      // In-flight requests get a moment to finish; a long parse or walk does not hold the
      // process past the deadline (an orchestrator's grace period is often 2 s or more).
      setTimeout(() => {
        app.log.warn({ signal, afterMs: SHUTDOWN_DEADLINE_MS }, 'requests still running at the shutdown deadline; exiting');
        process.exit(0);
      }, SHUTDOWN_DEADLINE_MS).unref();
      // A connection whose request was in flight at close() stays open after its answer (keep-alive),
      // and server.close() closes only the connections idle at that moment: sweep the idle ones
      // until closed, so answered clients do not hold the process until the deadline.
      setInterval(() => app.server.closeIdleConnections(), 20).unref();
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }
  return { app, url };
}
