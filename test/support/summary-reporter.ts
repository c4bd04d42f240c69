// Prints `N passed, N failed, N skipped` alone as the very last line, the form CI reads.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else skipped++;
      }
      // A module that failed to load (syntax error, failing hook) has no test results of its own.
      if (m.state() === 'failed' && [...m.children.allTests()].every((t) => t.result().state !== 'failed')) failed++;
    }
    failed += errors.length;
    // Let vitest's own summary flush first.
    process.on('beforeExit', () => process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`));
  }
}
