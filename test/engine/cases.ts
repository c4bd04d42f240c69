// Test support: the contract of unknown conditions (DESIGN.md): for every assignment of values to
// the unknown conditions an answer names, the outcomes that agree with it sum to 1.

import { expect } from 'vitest';
import type { ExplainResult } from '../../src/model/contracts.js';

export function expectCasesSumToOne(r: ExplainResult): number {
  const conds = [...new Set(r.outcomes.flatMap((o) => o.assumes.map((a) => `${a.line}|${a.condition}`)))];
  expect(conds.length).toBeLessThanOrEqual(12);
  for (let bits = 0; bits < 1 << conds.length; bits++) {
    const value = new Map(conds.map((c, i) => [c, ((bits >> i) & 1) === 1]));
    const sum = r.outcomes.filter((o) => o.assumes.every((a) => value.get(`${a.line}|${a.condition}`) === a.holds)).reduce((s, o) => s + o.probability, 0);
    expect(Math.abs(sum - 1), `case ${[...value].map(([c, v]) => `${c}=${v}`).join(', ')}`).toBeLessThan(1e-9);
  }
  return 1 << conds.length;
}
