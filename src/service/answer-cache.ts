// Explain answers, remembered. explain is a pure function of (ruleset, query) and ruleset ids
// are content hashes, so an answer can never go stale: the same id always means the same rules.
// A dashboard that polls the same questions gets them from here without a worker round trip
// (a 10k-service explain costs ~0.1 ms of worker time and ~10 KB of JSON). Answers are kept as
// the UTF-8 bytes that are sent.

import { LRUCache } from 'lru-cache';

/** A byte-budgeted LRU of answers (lru-cache), with hit/miss counts for /metrics. */
export class AnswerCache {
  // null when the budget is 0: caching is off.
  private readonly lru: LRUCache<string, Buffer> | null;
  hits = 0;
  misses = 0;

  constructor(maxBytes: number) {
    // Answers are UTF-8 bytes, as sent; keys are strings (UTF-16 in memory: two bytes a
    // character). An answer bigger than the whole budget is not stored (lru-cache refuses it).
    this.lru = maxBytes > 0 ? new LRUCache({ maxSize: maxBytes, sizeCalculation: (v, k) => 2 * k.length + v.byteLength }) : null;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
  get memoryBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get(key: string): Buffer | undefined {
    const v = this.lru?.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, value: Buffer): void {
    if (!this.lru) return;
    // Answers come from the workers in buffers of their own. A view into a larger buffer is
    // copied, so what is kept is what is counted.
    let own = value;
    if (value.byteLength !== value.buffer.byteLength) {
      own = Buffer.allocUnsafeSlow(value.byteLength);
      value.copy(own);
    }
    this.lru.set(key, own);
  }
}
