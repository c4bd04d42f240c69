// Worker-thread entry for one scaling point (run.ts starts one worker per point): the heavy,
// synchronous measurement runs here so the CLI's progress bar and the HTTP server's event loop keep
// moving, and cancelling a point is terminating its worker.

import { parentPort, workerData } from 'node:worker_threads';
import { measurePoint, type PointSpec } from './point.js';
import type { PointPhase } from './types.js';

export type WorkerMessage =
  | { type: 'phase'; phase: PointPhase; fraction: number }
  | { type: 'done'; outcome: ReturnType<typeof measurePoint> }
  | { type: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('scale/worker.ts runs as a worker thread (see run.ts)');
const post = (m: WorkerMessage): void => port.postMessage(m);
try {
  let last = '';
  const outcome = measurePoint(workerData as PointSpec, (phase, fraction) => {
    // A new phase or another 1%: finer steps would only load the parent.
    const key = `${phase} ${Math.floor(fraction * 100)}`;
    if (key !== last) {
      last = key;
      post({ type: 'phase', phase, fraction });
    }
  });
  post({ type: 'done', outcome });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
