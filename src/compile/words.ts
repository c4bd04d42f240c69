// A growable Int32 word buffer: the compiler appends sections to it and patches offsets in place.
// Plain doubling keeps compile linear in the ruleset size (20k services ≈ 640k rules).

export class Words {
  protected buf: Int32Array;
  length = 0;
  /** Every word at or past max(length, clean) is zero (written words lie below length, or below clean after a truncate). */
  protected clean = 0;

  constructor(capacity = 1024) {
    this.buf = new Int32Array(Math.max(16, capacity));
  }

  push(v: number): number {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length] = v | 0;
    return this.length++;
  }

  /** Reserves n zeroed words; returns the offset of the first. */
  alloc(n: number): number {
    const at = this.length;
    const end = at + n;
    if (end > this.buf.length) this.grow(end);
    // Only words written once and given back (truncate) need zeroing: the rest are still fresh.
    const dirty = end < this.clean ? end : this.clean;
    if (dirty - at > 16) this.buf.fill(0, at, dirty);
    else for (let i = at; i < dirty; i++) this.buf[i] = 0;
    this.length = end;
    return at;
  }

  /** Gives back the words from `at` on (a block that turned out not encodable). */
  truncate(at: number): void {
    if (this.length > this.clean) this.clean = this.length;
    this.length = at;
  }

  set(at: number, v: number): void {
    this.buf[at] = v | 0;
  }

  get(at: number): number {
    return this.buf[at];
  }

  /** The words written so far (a view: valid until the next push or alloc). */
  view(): Int32Array {
    return this.buf.subarray(0, this.length);
  }

  protected grow(min: number): void {
    let n = this.buf.length * 2;
    while (n < min) n *= 2;
    const next = new Int32Array(n);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.clean = this.length;
  }
}

/**
 * The words from `base` on, written before the words below them exist (compile.ts writes the
 * sections after the chain regions first, so the whole ruleset is then allocated once at its final
 * size): offsets are absolute, header words (below HDR words) are kept aside, and any other word
 * below `base` is out of reach.
 */
export class TailWords extends Words {
  readonly head: Int32Array;

  constructor(
    readonly base: number,
    headWords: number,
    capacity = 1024,
  ) {
    super(capacity);
    this.head = new Int32Array(headWords);
    this.length = base;
    this.clean = base;
  }

  override push(v: number): number {
    const i = this.length - this.base;
    if (i === this.buf.length) this.grow(i + 1);
    this.buf[i] = v | 0;
    return this.length++;
  }

  override alloc(n: number): number {
    const at = this.length;
    const end = at + n;
    if (end - this.base > this.buf.length) this.grow(end - this.base);
    const dirty = end < this.clean ? end : this.clean;
    for (let i = at; i < dirty; i++) this.buf[i - this.base] = 0;
    this.length = end;
    return at;
  }

  override set(at: number, v: number): void {
    if (at >= this.base) this.buf[at - this.base] = v | 0;
    else this.head[this.headIndex(at)] = v | 0;
  }

  override get(at: number): number {
    return at >= this.base ? this.buf[at - this.base]! : this.head[this.headIndex(at)]!;
  }

  override view(): Int32Array {
    throw new Error('TailWords.view is not supported: copy it with writeTo');
  }

  /** Copies the header and the words from base on into `out` (the whole ruleset's words). */
  writeTo(out: Int32Array): void {
    out.set(this.head, 0);
    out.set(this.buf.subarray(0, this.length - this.base), this.base);
  }

  protected override grow(min: number): void {
    let n = this.buf.length * 2;
    while (n < min) n *= 2;
    const next = new Int32Array(n);
    next.set(this.buf.subarray(0, this.length - this.base));
    this.buf = next;
    this.clean = this.length;
  }

  private headIndex(at: number): number {
    if (at < 0 || at >= this.head.length) throw new RangeError(`word ${at} lies below the tail (${this.base}) outside the header`);
    return at;
  }
}

/** Interns strings (reasons, reject-with names, module names) to small integer ids. */
export class StringTable {
  readonly list: string[] = [];
  private readonly ids = new Map<string, number>();

  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}
