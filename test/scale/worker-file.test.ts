// Which module a scaling point's worker thread runs: LANDFALL_SCALE_WORKER_FILE when set (the test
// suite's globalSetup sets it to its bundle of src/scale/worker.ts), else worker.ts beside run.ts
// through a tsx bootstrap (from src/, as `npm run bench:scale` runs) or worker.js (from dist/).
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runScale } from '../../src/scale/run.js';

const saved = process.env.LANDFALL_SCALE_WORKER_FILE;
afterEach(() => {
  if (saved === undefined) delete process.env.LANDFALL_SCALE_WORKER_FILE;
  else process.env.LANDFALL_SCALE_WORKER_FILE = saved;
});

const point = { services: [3], endpoints: 1, modes: ['iptables' as const], packets: 20 };

describe('the scaling point worker', () => {
  it('is the bundle test/support/worker-bundle.ts made, in this run', () => {
    expect(saved).toBe(inject('scaleWorkerFile'));
  });

  it('is LANDFALL_SCALE_WORKER_FILE when set', async () => {
    process.env.LANDFALL_SCALE_WORKER_FILE = '/nonexistent/landfall-scale-worker.mjs';
    const { points } = await runScale(point);
    expect(points).toHaveLength(1);
    expect(points[0].error).toContain('landfall-scale-worker.mjs');
  });

  it('is worker.ts through tsx from src/ when unset (the suite sets it, so this is the one run of that path)', async () => {
    delete process.env.LANDFALL_SCALE_WORKER_FILE;
    const { points } = await runScale(point);
    expect(points[0].error).toBeNull();
    expect(points[0].rules).toBeGreaterThan(0);
  }, 120_000);
});
