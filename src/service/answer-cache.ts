// Explain answers, remembered. explain is a pure function of (ruleset, query) and ruleset ids
// are content hashes, so an answer can never go stale: the same id always means the same rules.
// A dashboard that polls the same questions gets them from here without a worker round trip
// (a 10k-service explain costs ~0.1 ms of worker time and ~10 KB of JSON). Answers are kept as
// the UTF-8 bytes that are sent, as the worker made them.

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
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (v.byteLength === v.buffer.byteLength) return v;
    // First hit on a view into a batch's buffer: from now on it lives on, so it gets its own copy
    // and no longer holds the rest of its batch (see set).
    const own = Buffer.allocUnsafeSlow(v.byteLength);
    v.copy(own);
    this.lru!.set(key, own);
    return own;
  }

  /**
   * Keeps an answer as it is, a view into its batch's buffer included (src/service/worker.ts
   * explainBatch): most answers are never asked again, and copying each costs more than making it
   * did. An entry counts its own bytes; the batch buffer its views hold lives until the last of them
   * goes. The views of one batch enter together and, until hit, leave in that order (a hit one is
   * copied: get), so besides the entries counted the buffers hold at most the bytes of answers that
   * were copied out of them — which are cached themselves, or else their batch is gone — and one
   * batch being evicted: under twice the budget plus one batch.
   */
  set(key: string, value: Buffer): void {
    this.lru?.set(key, value);
  }
}
