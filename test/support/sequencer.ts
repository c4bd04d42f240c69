// Longest files first, so the two workers do not end the run with one long file running alone.
// vitest's own order uses the durations of the previous run on this machine (node_modules/.vite)
// and, without them (a fresh clone, as in CI), file SIZE, which put the browser test first and the
// property tests anywhere. Here: the cached duration when there is one, else the seconds below
// (a full run on 2 cores shared with other jobs, 2026-12-07, after the differential generator and
// bundle fixes; only their order matters), else 0 (after the listed files).
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Record<string, number> = {
  'test/service/body-limit.test.ts': 98,
  'test/engine/explain.test.ts': 70,
  'test/kernel/nft-explain.test.ts': 54,
  'test/engine/differential-state.test.ts': 39,
  'test/engine/differential.test.ts': 35,
  'test/kernel/generated.test.ts': 30,
  'test/kube/generate.test.ts': 29,
  'test/service/docs-browser.test.ts': 27,
  'test/web/dashboard.test.ts': 27,
  'test/service/pool.test.ts': 26,
  'test/kernel/nft-kube-proxy-v6.test.ts': 24,
  'test/cli.test.ts': 21,
  'test/engine/differential-hooks.test.ts': 20,
  'test/service/upload-stream.test.ts': 19,
  'test/service/server-process.test.ts': 16,
  'test/kernel/kube-proxy.test.ts': 16,
  'test/kernel/example-node.test.ts': 15,
  'test/service/ops.test.ts': 15,
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
