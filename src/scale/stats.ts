// Summaries the scaling report prints. Percentiles are nearest-rank (an observed value, never an
// interpolation), so p50/p99/max of rule counts are counts some packet really walked.

import type { CountStats } from './types.js';

/** Nearest-rank percentile of ascending `sorted` (q in 0..1): the smallest value with ≥ q of the data at or below it. */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** mean / p50 / p99 / max of per-packet counts; null for no packets. */
export function countStats(values: ArrayLike<number>): CountStats | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return { mean: sum / n, p50: nearestRank(sorted, 0.5), p99: nearestRank(sorted, 0.99), max: sorted[n - 1] };
}
