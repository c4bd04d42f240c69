// statistic --probability as kube-proxy writes it and as iptables-save prints it back.
//
// kube-proxy writes fmt.Sprintf("%0.10f", 1/n). iptables parses that with strtod and stores
// lround(p * 2^31) in a u32; the kernel matches when (random_u32 & 0x7fffffff) < that value, so
// the exact match probability is threshold / 2^31. iptables-save prints threshold / 2^31 with
// "%.11f". Both Go and glibc round exact decimal ties to even; JS toFixed rounds them up, which
// is why the formatting goes through fixedHalfEven.

const TWO31 = 0x80000000;

/** `x` with `digits` decimals, rounding an exact tie to even (Go's %f and glibc's printf). */
export function fixedHalfEven(x: number, digits: number): string {
  const rounded = x.toFixed(digits);
  const exact = x.toFixed(100); // every double we format here has < 100 fractional digits
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  if (tail[0] !== '5' || !/^50*$/.test(tail)) return rounded;
  const truncated = exact.slice(0, dot + 1 + digits);
  const last = truncated.charCodeAt(truncated.length - 1) - 48;
  return last % 2 === 0 ? truncated : rounded;
}

const restoreCache = new Map<number, string>();
const thresholdCache = new Map<number, number>();

/** kube-proxy's probability text for the first of `n` remaining endpoints (e.g. 3 → 0.3333333333). */
export function restoreProbability(n: number): string {
  let s = restoreCache.get(n);
  if (s === undefined) {
    s = fixedHalfEven(1 / n, 10);
    restoreCache.set(n, s);
  }
  return s;
}

/** The u32 the kernel stores for a probability string: lround(p * 2^31). */
export function probabilityThreshold(p: number): number {
  return Math.round(p * TWO31);
}

/** The threshold stored for kube-proxy's 1/n rule. */
export function thresholdForRemaining(n: number): number {
  let t = thresholdCache.get(n);
  if (t === undefined) {
    t = probabilityThreshold(Number(restoreProbability(n)));
    thresholdCache.set(n, t);
  }
  return t;
}

const saveCache = new Map<number, string>();

/** What iptables-save prints for a stored threshold (e.g. 715827883 → 0.33333333349). */
export function saveProbability(threshold: number): string {
  let s = saveCache.get(threshold);
  if (s === undefined) {
    s = fixedHalfEven(threshold / TWO31, 11);
    // Generated dumps use few distinct thresholds; bound the cache for arbitrary callers.
    if (saveCache.size < 100_000) saveCache.set(threshold, s);
  }
  return s;
}

/** The exact match probability of a stored threshold. */
export function thresholdProbability(threshold: number): number {
  return threshold / TWO31;
}
