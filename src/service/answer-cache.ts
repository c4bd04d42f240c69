// Explain answers, remembered. explain is a pure function of (ruleset, query) and ruleset ids
// are content hashes, so an answer can never go stale: the same id always means the same rules.
// A dashboard that polls the same questions gets them from here without a worker round trip
// (a 10k-service explain costs ~0.5 ms of worker time and ~10 KB of JSON).

export class AnswerCache {
  private readonly map = new Map<string, string>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.map.size;
  }
  get memoryBytes(): number {
    return this.bytes;
  }

  get(key: string): string | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: string): void {
    if (this.maxBytes <= 0) return;
    // Strings are UTF-16 in memory: count two bytes a character for key and value.
    const size = 2 * (key.length + value.length);
    if (size > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytes -= 2 * (key.length + old.length);
    }
    this.map.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= 2 * (k.length + v.length);
    }
  }
}
