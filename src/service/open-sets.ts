// The rulesets a worker holds open (each a wasm instance holding its words), bounded by the bytes
// each holds, least recently used dropped first when a newly opened one is added. One rule on top
// of a plain LRU: the most recently used set, when it was answered while another was being opened,
// is not dropped to make room for that one. Without it, two sets larger than half the budget
// (20k-service nodes at the default 64 MiB) take turns: opening B drops A, which a busy A had used
// a moment before, so A's next request waits for A to be opened again, because of B. Only that one
// set is spared (it stays over the budget until an open it is not used during), so the bytes held
// never exceed the budget by more than two sets, however many are busy. The newest set is always
// kept (one larger than the whole budget is held alone, or every request on a big node would open
// it again).

interface Held<T> {
  value: T;
  bytes: number;
  /** The clock at its last use (an added set: the clock when its open began). */
  used: number;
}

export class OpenSets<T> {
  /** In order of use, least recent first (a use moves an entry to the end). */
  private readonly held = new Map<string, Held<T>>();
  /** Counts uses: a set with `used` above an open's mark was answered while that open ran. */
  private clock = 0;
  private total = 0;
  /** The set last returned by get(). */
  private mru: string | undefined;

  constructor(private readonly budget: number) {}

  get size(): number {
    return this.held.size;
  }

  /** Bytes held (may exceed the budget while sets in use keep it over: see the header). */
  get bytes(): number {
    return this.total;
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  /** The set for `id`, now the most recently used. */
  get(id: string): T | undefined {
    const e = this.held.get(id);
    if (!e) return undefined;
    this.held.delete(id);
    e.used = ++this.clock;
    this.held.set(id, e);
    this.mru = id;
    return e.value;
  }

  /** Taken when an open begins, passed to add(): a set used after it was in use during that open. */
  mark(): number {
    return this.clock;
  }

  /**
   * Adds a set whose open began at `since` (mark()), then drops the least recently used sets until
   * the budget holds: never the one added, nor the most recently used one if it was used since `since`.
   */
  add(id: string, value: T, bytes: number, since: number): void {
    const old = this.held.get(id);
    if (old) {
      this.held.delete(id);
      this.total -= old.bytes;
    }
    const last = this.mru === undefined ? undefined : this.held.get(this.mru);
    const spared = last && this.mru !== id && last.used > since ? this.mru : undefined;
    const size = Math.max(1, bytes);
    this.held.set(id, { value, bytes: size, used: since });
    this.total += size;
    for (const [k, e] of this.held) {
      if (this.total <= this.budget) break;
      if (k === id || k === spared) continue;
      this.held.delete(k);
      this.total -= e.bytes;
      if (this.mru === k) this.mru = undefined;
    }
  }
}
