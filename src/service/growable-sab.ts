// The canonical upload bytes are written into one growable SharedArrayBuffer (ES2024, in Node 20):
// memory is reserved up to a bound and committed as it grows, so the buffer ends exactly as long as
// its content with no copy, and the loader thread gets it as is. Shared by the text/plain upload
// (upload-stream.ts) and the JSON upload (json-stream.ts).

/** A growable SharedArrayBuffer (the TypeScript lib here predates ES2024's types). */
export type Growable = SharedArrayBuffer & { grow(length: number): void; readonly maxByteLength: number };
const GrowableSAB = SharedArrayBuffer as unknown as new (length: number, opts: { maxByteLength: number }) => Growable;

/** A string's JSON.stringify form without its quotes: what canonicalJson writes for it. */
export const escapedJson = (s: string): string => JSON.stringify(s).slice(1, -1);

/** Appends UTF-8 text to a growable SharedArrayBuffer, growing it to exactly what is written. */
export class SabWriter {
  readonly sab: Growable;

  constructor(initial: number, maxByteLength: number) {
    this.sab = new GrowableSAB(initial, { maxByteLength });
  }

  get length(): number {
    return this.sab.byteLength;
  }

  append(s: string): void {
    const at = this.sab.byteLength;
    const n = Buffer.byteLength(s, 'utf8');
    // A commit of reserved memory, no copy.
    this.sab.grow(at + n);
    Buffer.from(this.sab, at, n).write(s, 0, 'utf8');
  }

  /** Writes latin1 text over bytes already written (a placeholder of the same length). */
  patch(at: number, s: string): void {
    Buffer.from(this.sab).write(s, at, 'latin1');
  }
}
