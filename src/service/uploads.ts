// Upload de-duplication. The ruleset id is the library's hash of the *normalized* input, so it
// is only known after a parse (~10 s for a 10k-service dump). The raw bytes' SHA-256 is known in
// ~15 ms: identical bytes uploaded again skip the parse, and identical bytes uploaded at the
// same time share one parse.

import { createHash } from 'node:crypto';

export interface Loaded {
  id: string;
  stats: Record<string, unknown>;
  warnings: string[];
}

export class UploadIndex {
  /** raw-bytes hash → ruleset id, for uploads already parsed (bounded, oldest dropped). */
  private readonly known = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<Loaded>>();

  constructor(private readonly maxEntries = 10_000) {}

  static key(input: SharedArrayBuffer): string {
    return createHash('sha256').update(new Uint8Array(input)).digest('hex');
  }

  idFor(key: string): string | undefined {
    return this.known.get(key);
  }

  /** Runs `parse` once per key at a time; concurrent callers with the same key share its result. */
  async once(key: string, parse: () => Promise<Loaded>): Promise<Loaded> {
    let p = this.inflight.get(key);
    if (!p) {
      p = parse().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const loaded = await p;
    this.known.delete(key);
    this.known.set(key, loaded.id);
    if (this.known.size > this.maxEntries) this.known.delete(this.known.keys().next().value!);
    return loaded;
  }
}
