// The one seeded PRNG (mulberry32): trace's sampling in both engines (assembly/ has the wasm twin)
// and the generators' synthetic clusters, identical for the same seed on every platform.

/**
 * mulberry32: each call returns the next uint32. Trace draws u = next() / 2^32 and takes the first
 * branch whose cumulative probability exceeds u (skipping zero-probability branches); statistic
 * --mode random instead compares like the kernel: (next() & 0x7fffffff) < threshold.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** mulberry32 as the generators use it: uniform floats, integers, coin flips, picks. */
export class Rng {
  private readonly u32: () => number;

  constructor(seed: number) {
    this.u32 = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}
