// A growable Int32 word buffer: the compiler appends sections to it and patches offsets in place.
// Plain doubling keeps compile linear in the ruleset size (20k services ≈ 640k rules).

export class Words {
  private buf: Int32Array;
  length = 0;
  /** Every word at or past max(length, clean) is zero (written words lie below length, or below clean after a truncate). */
  private clean = 0;

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

  /** Copies n words of `src` from `from` to `at` (inside what was allocated). */
  copyFrom(at: number, src: Words, from: number, n: number): void {
    const a = this.buf;
    const b = src.buf;
    for (let i = 0; i < n; i++) a[at + i] = b[from + i]!;
  }

  /** Copies the words into a fresh Int32Array over an ArrayBuffer or SharedArrayBuffer. */
  finish(shared: boolean): Int32Array {
    const bytes = this.length * 4;
    const ab = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const out = new Int32Array(ab);
    out.set(this.buf.subarray(0, this.length));
    return out;
  }

  private grow(min: number): void {
    let n = this.buf.length * 2;
    while (n < min) n *= 2;
    const next = new Int32Array(n);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.clean = this.length;
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
