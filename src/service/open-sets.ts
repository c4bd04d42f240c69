// The rulesets a worker holds open (each a wasm instance holding its words), bounded by the bytes
// each holds, least recently used dropped first when a newly opened one is added. One rule on top
// of a plain LRU: a set answered while another was being opened is not dropped to make room for
// that one. Without it, two sets larger than half the budget (20k-service nodes at the default
// 64 MiB) take turns: opening B drops A, which a busy A had used a moment before, so A's next
// request waits for A to be opened again, because of B. Such sets stay over the budget until an
// open that they are not used during; the newest set is always kept (one larger than the whole
// budget is held alone, or every request on a big node would open it again).

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
    return e.value;
  }

  /** Taken when an open begins, passed to add(): the sets used after it are in use during that open. */
  mark(): number {
    return this.clock;
  }

  /**
   * Adds a set whose open began at `since` (mark()), then drops the least recently used sets until
   * the budget holds: never the one added, never one used since `since`.
   */
  add(id: string, value: T, bytes: number, since: number): void {
    const old = this.held.get(id);
    if (old) {
      this.held.delete(id);
      this.total -= old.bytes;
    }
    const size = Math.max(1, bytes);
    this.held.set(id, { value, bytes: size, used: since });
    this.total += size;
    for (const [k, e] of this.held) {
      if (this.total <= this.budget) break;
      if (k === id || e.used > since) continue;
      this.held.delete(k);
      this.total -= e.bytes;
    }
  }
}
