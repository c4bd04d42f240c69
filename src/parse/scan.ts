// The fast path's word scanner: the same word boundaries as tokenize() (blanks separate, quotes
// group, a backslash escapes the next character inside quotes), recorded as offsets into the line
// in reused typed arrays, so a rule's words are never materialized as strings unless asked for.

/** Word offsets of one line; `quoted[k]` is 1 when word k holds a quote (its text is not the raw slice). */
export class WordSpans {
  start = new Int32Array(256);
  end = new Int32Array(256);
  quoted = new Uint8Array(256);
  n = 0;
  line = '';

  /**
   * Scans `line` from `from`. Returns false when the fast path must not take the line: more words
   * than the arrays hold, a backslash inside quotes, or an unterminated quote (tokenize() reports
   * that one with its column).
   */
  scan(line: string, from: number): boolean {
    this.line = line;
    const len = line.length;
    const cap = this.start.length;
    let n = 0;
    let i = from;
    while (i < len) {
      let c = line.charCodeAt(i);
      if (c === 32 || c === 9) {
        i++;
        continue;
      }
      if (n === cap) return false;
      const s = i;
      let q = 0;
      while (i < len) {
        c = line.charCodeAt(i);
        if (c === 32 || c === 9) break;
        if (c === 34 || c === 39) {
          q = 1;
          i++;
          let closed = false;
          while (i < len) {
            const d = line.charCodeAt(i);
            // An escape inside quotes: tokenize() handles it (rare in dumps).
            if (d === 92) return false;
            i++;
            if (d === c) {
              closed = true;
              break;
            }
          }
          if (!closed) return false;
          continue;
        }
        i++;
      }
      this.start[n] = s;
      this.end[n] = i;
      this.quoted[n] = q;
      n++;
    }
    this.n = n;
    return true;
  }

  /** Word k as tokenize() would give it. */
  text(k: number): string {
    const line = this.line;
    const s = this.start[k]!;
    const e = this.end[k]!;
    if (!this.quoted[k]) return line.slice(s, e);
    let w = '';
    let i = s;
    while (i < e) {
      const c = line.charCodeAt(i);
      if (c !== 34 && c !== 39) {
        let j = i + 1;
        while (j < e && line.charCodeAt(j) !== 34 && line.charCodeAt(j) !== 39) j++;
        w += line.slice(i, j);
        i = j;
        continue;
      }
      i++;
      const close = line.indexOf(c === 34 ? '"' : "'", i);
      w += line.slice(i, close);
      i = close + 1;
    }
    return w;
  }

  /** Word k is exactly `s` (unquoted). */
  is(k: number, s: string): boolean {
    const a = this.start[k]!;
    return !this.quoted[k] && this.end[k]! - a === s.length && this.line.startsWith(s, a);
  }

  /** Length of word k. */
  len(k: number): number {
    return this.end[k]! - this.start[k]!;
  }

  /** Char code at offset o of word k. */
  at(k: number, o: number): number {
    return this.line.charCodeAt(this.start[k]! + o);
  }
}

/**
 * Strings looked up by a span of a line, without slicing it: an open-addressing table of ids
 * hashed from the span's char codes, each checked against its key in place. Holds at most
 * `limit` keys (beyond that, lookups miss and callers take their ordinary path).
 */
export class SpanTable<T> {
  private slots: Int32Array;
  private hashes: Int32Array;
  readonly keys: string[] = [];
  readonly values: T[] = [];

  constructor(bits = 10, private readonly limit = 1 << 22) {
    this.slots = new Int32Array(1 << bits);
    this.hashes = new Int32Array(1 << bits);
  }

  get size(): number {
    return this.keys.length;
  }

  /** The id of line[s, e) (-1: absent). */
  find(line: string, s: number, e: number): number {
    const h = spanHash(line, s, e);
    const mask = this.slots.length - 1;
    const len = e - s;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = this.slots[i]! - 1;
      if (id < 0) return -1;
      if (this.hashes[i] === h) {
        const k = this.keys[id]!;
        if (k.length === len && line.startsWith(k, s)) return id;
      }
    }
  }

  /** Adds `key` (not present) with its value; returns its id, or -1 when the table is full. */
  add(key: string, value: T): number {
    const id = this.keys.length;
    if (id >= this.limit) return -1;
    if ((id + 1) * 2 > this.slots.length) this.grow();
    this.keys.push(key);
    this.values.push(value);
    this.place(spanHash(key, 0, key.length), id + 1);
    return id;
  }

  private place(h: number, slot: number): void {
    const mask = this.slots.length - 1;
    let i = h & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = slot;
    this.hashes[i] = h;
  }

  private grow(): void {
    const slots = this.slots;
    const hashes = this.hashes;
    this.slots = new Int32Array(slots.length * 2);
    this.hashes = new Int32Array(slots.length * 2);
    for (let i = 0; i < slots.length; i++) if (slots[i] !== 0) this.place(hashes[i]!, slots[i]!);
  }
}

/** FNV-1a over the char codes of line[s, e). */
function spanHash(line: string, s: number, e: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = s; i < e; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
  return h;
}
