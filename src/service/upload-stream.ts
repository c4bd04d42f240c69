// Uploads, streamed. A text/plain upload: the body's bytes go from the socket straight into one growable
// SharedArrayBuffer as the canonical bundle `{"iptables":"…"}` (or `{"nftables":"…"}`, with
// `"lenient":true` first when asked), JSON-escaped chunk by chunk. Those are byte for byte what
// encodeInput makes of the whole text (store.ts), so the same dump gets the same id whichever way
// it arrives, and the loader thread gets the buffer without a copy. The main thread never holds the
// dump as one string (one chunk at a time is decoded), and the body limit is enforced as the bytes
// arrive: a declared Content-Length over it is refused before anything is read, and a body that
// grows past it is refused at that point. A JSON upload is parsed as it arrives (json-stream.ts),
// each chunk handed on and released (no list of chunks, whose freed memory the allocator keeps),
// under the same limit.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { looksLikeNft } from '../parse/paste.js';
import { SabWriter, escapedJson } from './growable-sab.js';
import { JsonStreamReader } from './json-stream.js';

/** An error Fastify answers with its status (errors.ts maps 413 to problem `payload-too-large`). */
function httpError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode });
}

/** Escaped JSON of one input byte is at most 6 bytes (`\u00XX`); the buffer reserves that, commits as it grows. */
const MAX_ESCAPE = 6;
/** The key is decided by the text's first meaningful line (looksLikeNft); both keys are 8 bytes. */
const KEYS = { iptables: '"iptables":"', nftables: '"nftables":"' } as const;

/** Counts for tests and /metrics: how many text uploads were streamed, and their largest chunk decoded at once. */
export const streamedText = { uploads: 0, largestDecodedChunk: 0, largestSniff: 0 };

/**
 * Feeds `body`'s chunks to `onChunk` as they arrive, each released after the call (so memory never
 * holds the chunks of a whole body); rejects with a 413 error past `limit` bytes, at once when the
 * declared Content-Length is over it, and with a 400 when the body ends short of that length.
 */
export function readChunks(body: Readable, opts: { limit: number; contentLength?: string | undefined }, onChunk: (bytes: Buffer) => void): Promise<number> {
  const declared = opts.contentLength === undefined ? NaN : Number(opts.contentLength);
  const tooLarge = () => httpError(413, `the body is over the limit of ${opts.limit} bytes (LANDFALL_BODY_LIMIT)`);
  if (declared > opts.limit) return Promise.reject(tooLarge());
  let received = 0;
  return new Promise((resolve, reject) => {
    const detach = () => {
      body.removeListener('data', onData);
      body.removeListener('end', onEnd);
      body.removeListener('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > opts.limit) {
        detach();
        return reject(tooLarge());
      }
      try {
        onChunk(bytes);
      } catch (err) {
        // A body that cannot be read on (malformed JSON): refused now, the rest is not read.
        detach();
        reject(err);
      }
    };
    const onEnd = () => {
      detach();
      if (!Number.isNaN(declared) && received !== declared) return reject(httpError(400, `the body ended after ${received} of its ${declared} declared bytes`));
      resolve(received);
    };
    const onError = (err: Error) => {
      detach();
      reject(Object.assign(err, { statusCode: (err as { statusCode?: number }).statusCode ?? 400 }));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.resume();
  });
}

/** How much of a line the sniffer keeps: nft's listing headers are far shorter (a table name is at most 256 bytes). */
const SNIFF_PREFIX = 64 * 1024;

/**
 * looksLikeNft's decision, made as the text arrives: the first line that is neither blank nor a
 * comment decides, else false after 10,000 lines or at the end. Only the current line is kept (its
 * leading whitespace dropped, at most SNIFF_PREFIX chars, which is all the prefix tests read) and
 * each char is looked at once, so a body without newlines costs linear time, not a rescan per chunk.
 */
export class FirstLineSniffer {
  private pending = '';
  private comment = false;
  private lines = 0;
  private decided: boolean | undefined;

  feed(s: string): void {
    for (let i = 0; this.decided === undefined && i < s.length; ) {
      const nl = s.indexOf('\n', i);
      const end = nl < 0 ? s.length : nl;
      if (!this.comment) {
        this.pending = (this.pending + s.slice(i, Math.min(end, i + SNIFF_PREFIX))).trimStart();
        if (this.pending.length > streamedText.largestSniff) streamedText.largestSniff = this.pending.length;
        if (this.pending.startsWith('#')) {
          this.comment = true;
          this.pending = '';
        } else if (this.pending.length >= SNIFF_PREFIX) {
          this.decided = looksLikeNft(this.pending);
          this.pending = '';
        }
      }
      if (nl < 0) return;
      if (this.decided === undefined && this.pending !== '') this.decided = looksLikeNft(this.pending);
      this.pending = '';
      this.comment = false;
      if (++this.lines >= 10_000 && this.decided === undefined) this.decided = false;
      i = nl + 1;
    }
  }

  /** The decision once the text has ended. */
  end(): boolean {
    if (this.decided === undefined) this.decided = this.pending !== '' && looksLikeNft(this.pending);
    return this.decided;
  }
}

/**
 * Reads a text/plain `body` into the canonical bundle bytes; rejects like readChunks (413 over
 * `limit` bytes of text, 400 short of its Content-Length).
 */
export async function streamTextInput(body: Readable, opts: { limit: number; lenient?: boolean; contentLength?: string | undefined }): Promise<SharedArrayBuffer> {
  const head = `{${opts.lenient ? '"lenient":true,' : ''}`;
  const keyAt = head.length;
  const out = new SabWriter(0, keyAt + KEYS.iptables.length + MAX_ESCAPE * opts.limit + 2);
  out.append(head + KEYS.iptables);
  const append = (s: string) => out.append(s);
  const escaped = escapedJson;

  const decoder = new StringDecoder('utf8');
  const sniff = new FirstLineSniffer();
  await readChunks(body, opts, (bytes) => {
    const s = decoder.write(bytes);
    if (s.length > streamedText.largestDecodedChunk) streamedText.largestDecodedChunk = s.length;
    sniff.feed(s);
    append(escaped(s));
  });
  const rest = decoder.end();
  sniff.feed(rest);
  const nft = sniff.end();
  append(escaped(rest));
  append('"}');
  out.patch(keyAt, nft ? KEYS.nftables : KEYS.iptables);
  streamedText.uploads++;
  return out.sab;
}

/**
 * Reads a JSON `body` as it arrives (json-stream.ts): the parsed body with its dumps left in shared
 * memory, for the route to validate and then encode. Rejects like readChunks, and with a 400
 * invalid-json problem at the first byte that is not JSON (the rest is not read).
 */
export async function streamJsonInput(body: Readable, opts: { limit: number; contentLength?: string | undefined }): Promise<{ value: unknown; reader: JsonStreamReader }> {
  const reader = new JsonStreamReader(opts.limit);
  await readChunks(body, opts, (bytes) => reader.write(bytes));
  return { value: reader.end(), reader };
}
