// A JSON upload (a RulesetBundle or a whole NodeSnapshot), parsed as its bytes arrive. A small
// state machine tokenizes the body chunk by chunk. The dump members (the bundle's and a snapshot's
// tool outputs, node's ip -j texts: the strings that can be megabytes) never become one JS string:
// each 64 KiB slice of one is decoded (UTF-8 as Buffer#toString does it, JSON escapes as JSON.parse
// does) and written at once in JSON.stringify's escaping into one growable SharedArrayBuffer; the
// parsed value holds a marker string in its place. Everything else (node, format, small fields) is
// parsed into values as JSON.parse would, so the route's schema validates that small value exactly
// as it validated the whole body, and encodeInput writes its canonical JSON, into which the dump
// bytes are spliced at their markers: byte for byte what encodeInput makes of the parsed body, so
// the same id. As JSON.parse: a duplicate key's last value wins (an earlier dump's bytes are left
// unused), a BOM first is skipped, invalid UTF-8 reads as U+FFFD, `__proto__` members are refused.
//
// Memory: while reading, the escaped dumps (about the body's size) plus one slice's strings. At the
// end, when the dumps already lie in canonical order (one dump, or several sent in sorted key
// order), the canonical bytes are made in place (the buffer grows by the small members and the dumps
// move right): peak ≈ 1× the body. When they must be reordered (e.g. a snapshot sent with iptables
// before ip6tables), they are assembled once into a new buffer: peak ≈ 2× the body, briefly.
// Before, the body was held as its bytes, one string, the parsed strings and the canonical bytes.

import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { RulesetBundle } from '../model/contracts.js';
import { ApiError } from './errors.js';
import { SabWriter, escapedJson } from './growable-sab.js';
import { encodeInput } from './store.js';

/** The tool outputs: a bundle's members and a whole-body snapshot's (at the top level), and `snapshot`'s. */
const DUMPS = new Set(['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets', 'addresses', 'routes', 'rules']);
/** NodeInput's raw iproute2 JSON texts. None of these strings has a length bound in the schemas. */
const NODE_TEXTS = new Set(['ipAddr', 'ipRoute', 'ipRule']);
/** At most this many bytes are decoded into one string (a bound on the strings a dump makes). */
const SLICE = 64 * 1024;

/** Counts for tests: JSON uploads read, the longest string one dump slice made, the longest small string. */
export const streamedJson = { uploads: 0, largestPiece: 0, largestSmall: 0 };

/** The reader's states: before the first value (a BOM may come first), a value, after '[' (a value or ']'), after '{' (a key or '}'), after ',' in an object, ':', after a value, in a string, literal or number. */
const S = { Start: 0, Value: 1, ArrayFirst: 2, ObjectFirst: 3, Key: 4, Colon: 5, After: 6, Str: 7, Literal: 8, Num: 9 } as const;
type S = (typeof S)[keyof typeof S];
const BOM = [0xef, 0xbb, 0xbf];

interface Frame {
  obj: Record<string, unknown> | unknown[];
  isArray: boolean;
  key: string;
  /** Which member keys of this object hold dump text. */
  dumps: Set<string> | undefined;
}

/** A dump string's bytes: offsets in the reader's buffer (written in arrival order). */
interface Segment {
  start: number;
  end: number;
}

const LITERALS: Record<number, [string, unknown]> = { 0x74: ['true', true], 0x66: ['false', false], 0x6e: ['null', null] };
const NUMBER_RX = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
/** The bytes that may follow a backslash: " \ / b f n r t (u is handled apart). */
const ESCAPABLE = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

/**
 * The JSON reader. `write` each chunk, then `end()`; both throw ApiError('invalid-json') naming
 * the byte offset, line and column (in bytes) of the first byte that is not JSON.
 */
export class JsonStreamReader {
  private state: S = S.Start;
  private bom = 0;
  private readonly stack: Frame[] = [];
  private root: unknown;
  private done = false;
  // Position: the absolute offset of the current slice, and of the current line's start.
  private base = 0;
  private line = 1;
  private lineStart = 0;
  // The string being read: decoded text with its JSON escapes still in it (small strings whole,
  // dump strings one slice at a time), the escape state (0 none, 1 after '\', 2–5 '\u' and hex digits).
  private readonly decoder = new StringDecoder('utf8');
  private raw = '';
  private esc = 0;
  private isKey = false;
  private dump: Segment | undefined;
  /** A high surrogate at a slice's end, held until the next slice shows whether a low one pairs it. */
  private high = '';
  private token = '';
  private literal: [string, unknown] = ['', null];
  private readonly out: SabWriter;
  private readonly segments: Segment[] = [];
  private readonly nonce = randomBytes(12).toString('hex');

  /** `limit`: the body limit; a decoded dump is at most 3 bytes per body byte (U+FFFD for a bad one). */
  constructor(limit: number) {
    this.out = new SabWriter(0, 3 * limit + 16);
  }

  write(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; at += SLICE) this.slice(chunk.subarray(at, Math.min(chunk.length, at + SLICE)));
  }

  /** The parsed body, dump strings replaced by markers (see encode). */
  end(): unknown {
    if (this.state === S.Num) this.number(this.base);
    if (!this.done || this.stack.length > 0 || this.state !== S.After) {
      if (this.state === S.Start && this.base === 0 && this.bom === 0) throw new ApiError('invalid-json', "Body cannot be empty when content-type is set to 'application/json'");
      this.fail('unexpected end of JSON input', this.base);
    }
    refuseProtoKeys(this.root);
    streamedJson.uploads++;
    return this.root;
  }

  /**
   * What encodeInput(bundle, opts) makes of the body with its dump strings in place: `bundle` is
   * the validated body (or the bundle holding it as `snapshot`), its markers still in it.
   */
  encode(bundle: RulesetBundle, opts: { lenient?: boolean }): SharedArrayBuffer {
    const small = encodeInput(bundle, opts);
    if (this.segments.length === 0) return small;
    // canonicalJson writes a marker `\0N:K\0` as `\u0000N:K\u0000`, between the quotes of its string.
    const text = Buffer.from(small).toString('utf8');
    const rx = new RegExp(`\\\\u0000${this.nonce}:(\\d+)\\\\u0000`, 'g');
    const pieces: string[] = [];
    const order: Segment[] = [];
    let last = 0;
    for (let m = rx.exec(text); m; m = rx.exec(text)) {
      pieces.push(text.slice(last, m.index));
      order.push(this.segments[Number(m[1])]!);
      last = m.index + m[0].length;
    }
    pieces.push(text.slice(last));
    const sizes = pieces.map((p) => Buffer.byteLength(p, 'utf8'));
    let total = 0;
    const finals = order.map((s, i) => {
      total += sizes[i]!;
      const at = total;
      total += s.end - s.start;
      return at;
    });
    total += sizes[sizes.length - 1]!;
    const sab = this.out.sab;
    // In place when each dump only moves right, in arrival order (a dump a duplicate key replaced leaves a hole that may not allow it).
    const inPlace = total >= sab.byteLength && total <= sab.maxByteLength && order.every((s, i) => finals[i]! >= s.start && (i === 0 || s.start >= order[i - 1]!.end));
    const target = inPlace ? sab : new SharedArrayBuffer(total);
    const bytes = new Uint8Array(target);
    if (inPlace) {
      sab.grow(total);
      for (let i = order.length - 1; i >= 0; i--) bytes.copyWithin(finals[i]!, order[i]!.start, order[i]!.end);
    } else {
      const from = new Uint8Array(sab);
      order.forEach((s, i) => bytes.set(from.subarray(s.start, s.end), finals[i]!));
    }
    const buf = Buffer.from(target);
    pieces.forEach((p, i) => buf.write(p, i === 0 ? 0 : finals[i - 1]! + order[i - 1]!.end - order[i - 1]!.start, 'utf8'));
    return target;
  }

  private fail(what: string, offset: number): never {
    const column = offset - this.lineStart + 1;
    throw new ApiError('invalid-json', `Body is not valid JSON: ${what} at byte ${offset} (line ${this.line}, column ${column})`, { line: this.line, column });
  }

  private slice(b: Uint8Array): void {
    const n = b.length;
    let i = 0;
    while (i < n) {
      const c = b[i]!;
      switch (this.state) {
        case S.Str: {
          i = this.string(b, i);
          continue;
        }
        case S.Literal: {
          const [word, value] = this.literal;
          if (c !== word.charCodeAt(this.token.length)) this.fail(`unexpected byte in ${word}`, this.base + i);
          this.token += word[this.token.length];
          i++;
          if (this.token.length === word.length) this.value(value);
          continue;
        }
        case S.Num: {
          if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
            this.token += String.fromCharCode(c);
            i++;
          } else this.number(this.base + i);
          continue;
        }
        case S.Start:
          // A UTF-8 byte order mark before the body is skipped, as the JSON parser skipped it; part of one is not JSON.
          if (this.bom < 3 && c === BOM[this.bom]) {
            this.bom++;
            i++;
            continue;
          }
          if (this.bom > 0 && this.bom < 3) this.fail('a broken byte order mark', 0);
          this.state = S.Value;
          continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
        continue;
      }
      if (c === 0x0a) {
        i++;
        this.line++;
        this.lineStart = this.base + i;
        continue;
      }
      this.structural(c, this.base + i);
      i++;
    }
    this.base += n;
    if (this.state === S.Str) this.flushSlice();
  }

  /** One byte outside strings, literals and numbers (whitespace already skipped). */
  private structural(c: number, offset: number): void {
    const top = this.stack[this.stack.length - 1];
    if (this.state === S.ArrayFirst && c === 0x5d) return this.close();
    switch (this.state) {
      case S.ObjectFirst:
      case S.Key:
        if (c === 0x22) return this.startString(true);
        if (c === 0x7d && this.state === S.ObjectFirst) return this.close();
        return this.fail('expected a member name in double quotes', offset);
      case S.Colon:
        if (c === 0x3a) {
          this.state = S.Value;
          return;
        }
        return this.fail("expected ':' after a member name", offset);
      case S.After:
        if (!top) return this.fail('unexpected data after the JSON value', offset);
        if (c === 0x2c) {
          this.state = top.isArray ? S.Value : S.Key;
          return;
        }
        if (c === (top.isArray ? 0x5d : 0x7d)) return this.close();
        return this.fail(`expected ',' or '${top.isArray ? ']' : '}'}'`, offset);
      default: // a value (S.Value, S.ArrayFirst)
        if (this.done && !top) return this.fail('unexpected data after the JSON value', offset);
        if (c === 0x22) return this.startString(false);
        if (c === 0x7b || c === 0x5b) {
          const isArray = c === 0x5b;
          const parent = this.stack[this.stack.length - 1];
          let dumps: Set<string> | undefined;
          if (!isArray && !parent) dumps = DUMPS;
          else if (!isArray && parent && this.stack.length === 1 && !parent.isArray) dumps = parent.key === 'snapshot' ? DUMPS : parent.key === 'node' ? NODE_TEXTS : undefined;
          this.stack.push({ obj: isArray ? [] : {}, isArray, key: '', dumps });
          this.state = isArray ? S.ArrayFirst : S.ObjectFirst;
          return;
        }
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          this.token = String.fromCharCode(c);
          this.state = S.Num;
          return;
        }
        if (LITERALS[c]) {
          this.literal = LITERALS[c]!;
          this.token = this.literal[0][0]!;
          this.state = S.Literal;
          return;
        }
        return this.fail('unexpected byte where a value should be', offset);
    }
  }

  private number(offset: number): void {
    if (!NUMBER_RX.test(this.token)) this.fail(`malformed number ${JSON.stringify(this.token.slice(0, 40))}`, offset - this.token.length);
    this.value(Number(this.token));
  }

  private close(): void {
    const frame = this.stack.pop()!;
    this.value(frame.obj);
  }

  private value(v: unknown): void {
    const top = this.stack[this.stack.length - 1];
    this.state = S.After;
    if (!top) {
      this.root = v;
      this.done = true;
    } else if (top.isArray) (top.obj as unknown[]).push(v);
    // Defined, not assigned: a "__proto__" member is an own property as JSON.parse makes it (refused at the end), never the prototype.
    else Object.defineProperty(top.obj, top.key, { value: v, writable: true, enumerable: true, configurable: true });
  }

  private startString(isKey: boolean): void {
    this.state = S.Str;
    this.isKey = isKey;
    this.raw = '';
    this.esc = 0;
    const top = this.stack[this.stack.length - 1];
    this.dump = !isKey && top && !top.isArray && top.dumps?.has(top.key) ? { start: this.out.length, end: 0 } : undefined;
  }

  /** Reads string bytes from `i`; returns where it stopped (the slice's end, or after the closing quote). */
  private string(b: Uint8Array, i: number): number {
    const n = b.length;
    const from = i;
    while (i < n) {
      let c = b[i]!;
      if (this.esc === 0) {
        while (c !== 0x22 && c !== 0x5c && c >= 0x20 && ++i < n) c = b[i]!;
        if (i === n) break;
        if (c === 0x22) {
          this.raw += this.decoder.write(b.subarray(from, i));
          this.endString();
          return i + 1;
        }
        if (c === 0x5c) this.esc = 1;
        else this.fail('a control character in a string must be escaped', this.base + i);
      } else if (this.esc === 1) {
        if (c === 0x75) this.esc = 2;
        else if (ESCAPABLE.has(c)) this.esc = 0;
        else this.fail('bad escape in a string', this.base + i);
      } else {
        if (!isHex(c)) this.fail('bad \\u escape in a string', this.base + i);
        this.esc = this.esc === 5 ? 0 : this.esc + 1;
      }
      i++;
    }
    this.raw += this.decoder.write(b.subarray(from, n));
    return n;
  }

  /** At a slice's end inside a dump string: its complete escapes are decoded and written now. */
  private flushSlice(): void {
    if (!this.dump) {
      if (this.raw.length > streamedJson.largestSmall) streamedJson.largestSmall = this.raw.length;
      return;
    }
    // An unfinished escape is the last `esc` chars of the decoded text (escapes are ASCII): kept for the next slice.
    const keep = this.esc;
    const text = keep ? this.raw.slice(0, -keep) : this.raw;
    this.raw = keep ? this.raw.slice(-keep) : '';
    this.writeDump(text);
  }

  private writeDump(text: string): void {
    if (text.length > streamedJson.largestPiece) streamedJson.largestPiece = text.length;
    // Text without \u or \/ escapes is already as JSON.stringify writes it (raw chars are ≥ U+0020,
    // no '"', no lone surrogate; the other escapes are its own): what a JSON.stringify client sends.
    if (!this.high && !text.includes('\\u') && !text.includes('\\/')) return this.out.append(text);
    let s = this.high + (JSON.parse(`"${text}"`) as string);
    this.high = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.high = s.slice(-1);
      s = s.slice(0, -1);
    }
    if (s) this.out.append(escapedJson(s));
  }

  private endString(): void {
    this.raw += this.decoder.end();
    if (this.dump) {
      this.writeDump(this.raw);
      if (this.high) this.out.append(escapedJson(this.high));
      this.high = '';
      this.raw = '';
      this.dump.end = this.out.length;
      this.segments.push(this.dump);
      const marker = `\u0000${this.nonce}:${this.segments.length - 1}\u0000`;
      this.dump = undefined;
      return this.value(marker);
    }
    if (this.raw.length > streamedJson.largestSmall) streamedJson.largestSmall = this.raw.length;
    const s = JSON.parse(`"${this.raw}"`) as string;
    this.raw = '';
    if (this.isKey) {
      this.stack[this.stack.length - 1]!.key = s;
      this.state = S.Colon;
    } else this.value(s);
  }
}

/**
 * What Fastify's JSON parser (secure-json-parse, protoAction and constructorAction 'error') refused:
 * an own `__proto__` member anywhere, or a `constructor` member that is an object with a `prototype`.
 */
function refuseProtoKeys(root: unknown): void {
  const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  const todo: unknown[] = [root];
  while (todo.length) {
    const node = todo.pop();
    if (node === null || typeof node !== 'object') continue;
    const ctor = has(node, 'constructor') ? (node as { constructor: unknown }).constructor : undefined;
    if (has(node, '__proto__') || (ctor !== null && typeof ctor === 'object' && has(ctor, 'prototype'))) {
      throw new ApiError('invalid-json', 'Body is not valid JSON: an object contains the forbidden prototype property');
    }
    for (const v of Object.values(node)) if (v !== null && typeof v === 'object') todo.push(v);
  }
}
