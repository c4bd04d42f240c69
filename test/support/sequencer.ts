// Longest files first, so the two workers do not end the run with one long file running alone.
// vitest's own order uses the durations of the previous run on this machine (node_modules/.vite)
// and, without them (a fresh clone, as in CI), file SIZE, which put the browser test first and the
// property tests anywhere. Here: the cached duration when there is one, else the seconds below
// (a full run on 2 cores, 2026-12, with the bundles of test/support/worker-bundle.ts; only their
// order matters), else 0 (after the listed files).
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Record<string, number> = {
  'test/engine/differential.test.ts': 80,
  'test/engine/differential-state.test.ts': 67,
  'test/service/body-limit.test.ts': 58,
  'test/service/server-process.test.ts': 39,
  'test/kernel/nft-explain.test.ts': 37,
  'test/engine/explain.test.ts': 35,
  'test/cli.test.ts': 31,
  'test/engine/differential-hooks-ipvs.test.ts': 23,
  'test/service/pool.test.ts': 22,
  'test/kernel/generated.test.ts': 21,
  'test/engine/differential-hooks.test.ts': 17,
  'test/service/docs-browser.test.ts': 16,
  'test/web/dashboard.test.ts': 16,
  'test/scale/cli.test.ts': 13,
  'test/kernel/nft-kube-proxy-v6.test.ts': 12,
  'test/service/restart-lazy.test.ts': 11,
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const cost = (f: TestSpecification): number => {
      const path = relative(root, f.moduleId);
      return this.ctx.cache.getFileTestResults(`${f.project.name}:${path}`)?.duration ?? (SECONDS[path] ?? 0) * 1000;
    };
    const costs = new Map(files.map((f) => [f, cost(f)]));
    // Stable: files of equal cost keep vitest's order.
    return (await super.sort(files)).sort((a, b) => costs.get(b)! - costs.get(a)!);
  }
}
