import { describe, expect, it } from 'vitest';
import {
  fixedHalfEven,
  probabilityThreshold,
  restoreProbability,
  saveProbability,
  thresholdForRemaining,
  thresholdProbability,
} from '../../src/kube/probability.js';

describe('statistic probabilities', () => {
  // Upstream TestComputeProbability.
  it.each([
    [1, '1.0000000000'],
    [2, '0.5000000000'],
    [3, '0.3333333333'],
    [10, '0.1000000000'],
    [100000, '0.0000100000'],
    [100001, '0.0000099999'],
  ])('kube-proxy writes 1/%i as %s', (n, text) => {
    expect(restoreProbability(n)).toBe(text);
  });

  it('rounds exact ties to even like Go and glibc (1/2048 has 11 decimals)', () => {
    expect(restoreProbability(2048)).toBe('0.0004882812');
    expect(fixedHalfEven(0.00048828125, 10)).toBe('0.0004882812');
    expect(fixedHalfEven(0.00146484375, 10)).toBe('0.0014648438');
    expect(fixedHalfEven(2 ** -12, 11)).toBe('0.00024414062');
    expect(fixedHalfEven(1 / 3, 4)).toBe('0.3333');
  });

  it('stores lround(p·2^31) and iptables-save prints it with 11 decimals', () => {
    expect(thresholdForRemaining(3)).toBe(715827883);
    expect(saveProbability(715827883)).toBe('0.33333333349');
    expect(saveProbability(thresholdForRemaining(2))).toBe('0.50000000000');
    expect(saveProbability(thresholdForRemaining(4))).toBe('0.25000000000');
    expect(saveProbability(thresholdForRemaining(10))).toBe('0.10000000009');
    expect(probabilityThreshold(1)).toBe(2 ** 31);
  });

  it('the saved text parses back to the same threshold', () => {
    for (let n = 2; n < 3000; n += 7) {
      const t = thresholdForRemaining(n);
      expect(probabilityThreshold(Number(saveProbability(t)))).toBe(t);
    }
  });

  it('a 1/n ladder is uniform to within 1e-9 with the stored thresholds', () => {
    for (const n of [2, 3, 7, 10, 100]) {
      let remaining = 1;
      const shares: number[] = [];
      for (let i = 0; i < n - 1; i++) {
        const share = remaining * thresholdProbability(thresholdForRemaining(n - i));
        shares.push(share);
        remaining -= share;
      }
      shares.push(remaining);
      for (const s of shares) expect(Math.abs(s - 1 / n)).toBeLessThan(1e-9);
    }
  });
});
