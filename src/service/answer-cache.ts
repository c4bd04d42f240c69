// Explain answers, remembered. explain is a pure function of (ruleset, query) and ruleset ids
// are content hashes, so an answer can never go stale: the same id always means the same rules.
// A dashboard that polls the same questions gets them from here without a worker round trip
// (a 10k-service explain costs ~0.5 ms of worker time and ~10 KB of JSON).

import { LRUCache } from 'lru-cache';

/** A byte-budgeted LRU of answers (lru-cache), with hit/miss counts for /metrics. */
export class AnswerCache {
  // null when the budget is 0: caching is off.
  private readonly lru: LRUCache<string, string> | null;
  hits = 0;
  misses = 0;

  constructor(maxBytes: number) {
    // Strings are UTF-16 in memory: two bytes a character for key and value. An answer bigger
    // than the whole budget is not stored (lru-cache refuses it).
    this.lru = maxBytes > 0 ? new LRUCache({ maxSize: maxBytes, sizeCalculation: (v, k) => 2 * (k.length + v.length) }) : null;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
  get memoryBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get(key: string): string | undefined {
    const v = this.lru?.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, value: string): void {
    this.lru?.set(key, value);
  }
}
