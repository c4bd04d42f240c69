import { describe, expect, it } from 'vitest';
import { chiSquare, gammaQ } from '../../src/lab/stats.js';

describe('chi-square', () => {
  it('matches table critical values at p = 0.001 and 0.05', () => {
    // Critical values from the standard chi-square table.
    expect(gammaQ(1 / 2, 10.828 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(2 / 2, 13.816 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(3 / 2, 16.266 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(9 / 2, 27.877 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(2 / 2, 5.991 / 2)).toBeCloseTo(0.05, 4);
    expect(gammaQ(30 / 2, 43.773 / 2)).toBeCloseTo(0.05, 4);
  });

  it('accepts a fair sample and rejects a skewed one', () => {
    expect(chiSquare([100, 100, 100], [1 / 3, 1 / 3, 1 / 3]).pValue).toBeCloseTo(1, 6);
    const fair = chiSquare([95, 108, 97], [1 / 3, 1 / 3, 1 / 3]);
    expect(fair.df).toBe(2);
    expect(fair.pValue).toBeGreaterThan(0.5);
    expect(chiSquare([150, 75, 75], [1 / 3, 1 / 3, 1 / 3]).pValue).toBeLessThan(0.001);
  });

  it('has no degrees of freedom for a single category', () => {
    expect(chiSquare([10], [1])).toEqual({ statistic: 0, df: 0, pValue: 1 });
  });
});
