import { defineConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // vitest's default on 2 cores is one worker; most suites wait on servers, chromium and network
    // namespaces rather than the CPU, so two files at a time halve the wall time.
    maxWorkers: 2,
    // Longest files first (see the file), so no long file starts last and runs alone.
    sequence: { sequencer: LongestFirst },
    // Bundles the pool worker once so service-test app boots skip the tsx loader (see the file).
    globalSetup: ['./test/support/worker-bundle.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
