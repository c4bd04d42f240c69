// The JSON of an explain answer as UTF-8, byte for byte what JSON.stringify(result) encodes, made
// faster by what explain answers repeat: most of a 10k-service answer (~11 KB) is path steps, and a
// path step shared across answers (explain.ts keeps one frozen step per rule) is the same bytes
// every time. Such a step's bytes are made once (rememberJson) and copied; the rest is written
// straight into the output: plain objects and arrays are walked, their ASCII strings without
// escapes, numbers and booleans written as bytes (a step shown for the first time, an outcome's
// assumptions, the query: no JSON string is made and encoded again); anything else (escapes,
// toJSON, class instances) goes through JSON.stringify itself.

import type { ExplainResult } from '../model/contracts.js';

/** UTF-8 JSON of frozen objects whose members are all primitives (their JSON can never change). */
const fragments = new WeakMap<object, Uint8Array>();

/**
 * Remembers the JSON of `obj` for writeExplainJson, when that JSON is fixed for good: `obj` is
 * frozen, a plain object, each of its own members a primitive data property, and nothing
 * customises its JSON (no toJSON). Returns `obj`.
 */
export function rememberJson<T extends object>(obj: T): T {
  if (!Object.isFrozen(obj) || Object.getPrototypeOf(obj) !== Object.prototype || 'toJSON' in obj) return obj;
  for (const d of Object.values(Object.getOwnPropertyDescriptors(obj))) {
    // A getter could answer differently next time.
    if (!('value' in d)) return obj;
    const v: unknown = d.value;
    if (v !== null && (typeof v === 'object' || typeof v === 'function')) return obj;
  }
  fragments.set(obj, Buffer.from(JSON.stringify(obj), 'utf8'));
  return obj;
}

/**
 * rememberJson without its checks, for an object its caller made and froze itself, every member a
 * primitive data property (explain.ts's path steps: a step enters the shared cache once per rule,
 * ~160k times in a long run on a 10k-service node, and the checks cost more than the JSON).
 */
export function rememberOwnJson<T extends object>(obj: Readonly<T>): Readonly<T> {
  fragments.set(obj, Buffer.from(JSON.stringify(obj), 'utf8'));
  return obj;
}

/** A growable UTF-8 output, reused from answer to answer (the worker's batches). */
export class JsonBytes {
  buf: Buffer;
  at = 0;
  constructor(size = 64 << 10) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.buf.length - this.at >= n) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** Any string, as UTF-8. */
  utf8(s: string): void {
    // A UTF-16 unit is at most 3 bytes of UTF-8.
    this.room(3 * s.length);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** A string of ASCII characters (no check: the callers know). */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) b[at++] = s.charCodeAt(i);
    this.at = at;
  }

  bytes(u8: Uint8Array): void {
    this.room(u8.length);
    this.buf.set(u8, this.at);
    this.at += u8.length;
  }

  /** A JSON string literal, as JSON.stringify(s) writes it. */
  string(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const b = this.buf;
    const start = this.at;
    let at = start;
    b[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Controls, `"`, `\` and DEL onwards (escapes, multi-byte UTF-8, surrogates): JSON.stringify's own.
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.at = start;
        this.utf8(JSON.stringify(s));
        return;
      }
      b[at++] = c;
    }
    b[at++] = 0x22;
    this.at = at;
  }

  /** The bytes written since `from`, as a string (tests, and callers that want text). */
  text(from = 0): string {
    return this.buf.toString('utf8', from, this.at);
  }
}

/**
 * Plain objects and arrays nested deeper than this go through JSON.stringify itself, which also
 * reports a cycle as it does (an explain answer is 5 levels deep).
 */
const MAX_DEPTH = 32;

/**
 * A value as JSON.stringify writes it as an object member or array element; false when it leaves
 * the member out (undefined, a function, a symbol), nothing written then. Plain objects and arrays
 * are walked here (their strings and numbers written straight into the output, no JSON string
 * made and encoded again); anything else (toJSON, a class instance, a boxed primitive) goes
 * through JSON.stringify.
 */
function value(out: JsonBytes, v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      out.string(v);
      return true;
    case 'number':
      // Number#toString is JSON's number form; NaN and ±Infinity are null.
      out.ascii(Number.isFinite(v) ? String(v) : 'null');
      return true;
    case 'boolean':
      out.ascii(v ? 'true' : 'false');
      return true;
    case 'object': {
      if (v === null) {
        out.ascii('null');
        return true;
      }
      const frag = fragments.get(v);
      if (frag !== undefined) out.bytes(frag);
      else if (depth >= MAX_DEPTH) out.utf8(JSON.stringify(v));
      else if (Array.isArray(v)) {
        if (isPlainArray(v)) array(out, v, depth + 1);
        else out.utf8(JSON.stringify(v));
      } else if (isPlain(v)) object(out, v, depth + 1);
      else out.utf8(JSON.stringify(v));
      return true;
    }
    default: {
      // undefined, functions and symbols are left out; a bigint throws as JSON.stringify does.
      const j = JSON.stringify(v) as string | undefined;
      if (j === undefined) return false;
      out.utf8(j);
      return true;
    }
  }
}

/** An object with Object.prototype: for-in over it sees nothing inherited when this sees nothing. */
const EMPTY = {};
function inheritsNothingEnumerable(): boolean {
  for (const _ in EMPTY) return false;
  return true;
}

/**
 * A plain object with no toJSON of its own or inherited: its members are its Object.keys, and
 * (writeExplainJson checks that Object.prototype has nothing enumerable) for-in lists exactly those.
 */
function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as object | null;
  return (proto === Object.prototype || proto === null) && !('toJSON' in v);
}

/** An array whose JSON is its elements' (no toJSON on it or its prototype). */
function isPlainArray(a: unknown[]): boolean {
  return Object.getPrototypeOf(a) === Array.prototype && !('toJSON' in a);
}

/** A plain object, each member's value written by value(). */
function object(out: JsonBytes, o: Record<string, unknown>, depth: number): void {
  out.ascii('{');
  let first = true;
  // for-in, not Object.keys: the same keys in the same order here (isPlain: nothing inherited is
  // enumerable), and V8 reads o[k] in a for-in from its enum cache instead of a keyed lookup.
  for (const k in o) {
    const mark = out.at;
    if (!first) out.ascii(',');
    out.string(k);
    out.ascii(':');
    if (value(out, o[k], depth)) first = false;
    else out.at = mark; // left out, key and all
  }
  out.ascii('}');
}

/** A plain array; elements JSON.stringify leaves out are null. */
function array(out: JsonBytes, a: unknown[], depth: number): void {
  out.ascii('[');
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out.ascii(',');
    if (!value(out, a[i], depth)) out.ascii('null');
  }
  out.ascii(']');
}

/** Writes the UTF-8 of JSON.stringify(result), exactly, at out.at. */
export function writeExplainJson(out: JsonBytes, result: ExplainResult): void {
  if (isPlain(result) && inheritsNothingEnumerable()) object(out, result as unknown as Record<string, unknown>, 1);
  else out.utf8(JSON.stringify(result));
}

/** JSON.stringify(result), exactly (through writeExplainJson). */
export function explainJson(result: ExplainResult): string {
  const out = new JsonBytes(16 << 10);
  writeExplainJson(out, result);
  return out.text();
}
