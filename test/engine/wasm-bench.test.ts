// The engine bench runs end to end on a small size (no timing assertions: only that it produces
// every figure and that the two engines it compares agree, which benchSize itself checks).

import { expect, test } from 'vitest';
import { benchSize, renderMarkdown } from '../../bench/engine-suite.js';

test('bench/engine-suite runs on 60 services and reports every figure', async () => {
  const r = await benchSize(60, { sizes: [60], endpoints: 3, taskMs: 20, batch: 50, columnsBatch: 5000, seed: 5, restore: false });
  expect(r.rules).toBeGreaterThan(60);
  for (const k of ['dumpMB', 'parseMs', 'compileMs', 'explainP50Us', 'explainP99Us', 'traceWasmPps', 'traceReferencePps', 'traceColumnsPps', 'traceColumnsCpuUsPerPacket', 'meanRulesEvaluated', 'compiledBytesPerRule', 'rssMB'] as const) {
    expect(Number.isFinite(r[k]), k).toBe(true);
  }
  expect(r.iptablesRestoreTestMs).toBeNull();
  expect(r.hostFallbacks).toBe(0);
  expect(renderMarkdown([r], { run: 'smoke' })).toContain('| 60 |');
});
