// Upload de-duplication. The ruleset id is the SHA-256 of the upload's canonical bytes (one hash,
// taken before any parsing): identical uploads get the same id at once, a stored one is answered
// without parsing, and identical uploads arriving at the same time share one parse.

export class UploadIndex {
  private readonly inflight = new Map<string, Promise<unknown>>();

  /** Runs `load` once per id at a time; concurrent callers with the same id share its result. */
  async once<T>(id: string, load: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(id) as Promise<T> | undefined;
    if (!p) {
      p = load().finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }
}
