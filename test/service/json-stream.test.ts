// The streaming JSON reader (src/service/json-stream.ts) against the path it replaces: for any
// bundle or snapshot, written with any escaping, whitespace, key order and duplicate keys, cut into
// chunks anywhere (inside escapes, surrogate pairs, multi-byte UTF-8), the canonical bytes are
// byte for byte what encodeInput makes of JSON.parse(body); malformed bodies are refused as
// JSON.parse refuses them (a 400 invalid-json problem naming where), never a crash; and a dump is
// never decoded into one string.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonStreamReader, streamedJson } from '../../src/service/json-stream.js';
import { ApiError } from '../../src/service/errors.js';
import { encodeInput } from '../../src/service/store.js';
import { SNAPSHOT_FORMAT } from '../../src/model/snapshot.js';

/** What the route encodes a parsed body as: a snapshot as the whole body is the bundle's `snapshot`. */
const wrap = (body: Record<string, unknown>) => ('format' in body ? { snapshot: body } : body);
const expected = (text: string, lenient: boolean) => Buffer.from(encodeInput(wrap(JSON.parse(text) as Record<string, unknown>), { lenient }));

/** Feeds `bytes` cut at `cuts` (positions modulo the length) and returns the reader after end(). */
function read(bytes: Buffer, cuts: number[] = []): { reader: JsonStreamReader; value: unknown } {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const reader = new JsonStreamReader(1 << 24);
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    reader.write(bytes.subarray(prev, c));
    prev = c;
  }
  return { reader, value: reader.end() };
}
const streamed = (bytes: Buffer, cuts: number[], lenient: boolean) => {
  const { reader, value } = read(bytes, cuts);
  return Buffer.from(reader.encode(wrap(value as Record<string, unknown>) as never, { lenient }));
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Private-use U+E000 is written raw, so a test can swap its bytes for invalid UTF-8. */
const SENTINEL = '\ue000';
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '/': '\\/', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** JSON text of `v` as a client might write it: every escape JSON allows, chosen at random, random whitespace, shuffled keys, duplicates. */
function writeJson(v: unknown, rnd: () => number): string {
  const ws = () => ['', '', ' ', '\n', '\t', '\r\n  '][Math.floor(rnd() * 6)]!;
  const u = (c: number) => {
    const hex = c.toString(16).padStart(4, '0');
    return `\\u${rnd() < 0.5 ? hex : hex.toUpperCase()}`;
  };
  const str = (s: string) => {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const ch = s[i]!;
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pair) {
        out += rnd() < 0.5 ? s.slice(i, i + 2) : u(c) + u(s.charCodeAt(i + 1));
        i++;
      } else if (ch === SENTINEL) out += ch;
      else if (c >= 0xd800 && c <= 0xdfff) out += u(c);
      else if (ch in SHORT && (c < 0x20 || ch === '"' || ch === '\\' || rnd() < 0.5)) out += rnd() < 0.7 ? SHORT[ch] : u(c);
      else if (c < 0x20 || rnd() < 0.1) out += u(c);
      else out += ch;
    }
    return `${out}"`;
  };
  if (typeof v === 'string') return str(v);
  if (Array.isArray(v)) return `[${ws()}${v.map((x) => `${ws()}${writeJson(x, rnd)}${ws()}`).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    const members: string[] = [];
    for (const [k, x] of entries) {
      // Sometimes the key comes twice, the earlier value thrown away as JSON.parse does.
      if (rnd() < 0.15) members.push(`${ws()}${str(k)}${ws()}:${ws()}${writeJson(rnd() < 0.5 ? 'dropped \u00e9\n' : { n: 1 }, rnd)}`);
      members.push(`${ws()}${str(k)}${ws()}:${ws()}${writeJson(x, rnd)}${ws()}`);
    }
    return `{${ws()}${members.join(',')}}`;
  }
  return JSON.stringify(v);
}

const specials = fc.constantFrom('"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', '\u2028', '\u00e9', '\u{1F600}', '\ud800', '\udbff', '\udc00', '\udfff', 'a', ' ', '-A KUBE', SENTINEL);
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const dump = fc.array(fc.oneof(specials, fc.string({ unit: 'binary', maxLength: 8 }), anyUnit), { maxLength: 40 }).map((a) => a.join(''));
const small = fc.string({ maxLength: 12 });
const node = fc.record(
  {
    addresses: fc.array(small, { maxLength: 3 }),
    interfaces: fc.record({ uplink: small }, { requiredKeys: [] }),
    ipAddr: dump,
    ipRoute: dump,
    ipRule: dump,
    // Proto members are refused as Fastify refused them (tested apart), not parsed as JSON.parse does.
    extra: fc.jsonValue({ maxDepth: 3 }).filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v))),
  },
  { requiredKeys: [] },
);
const dumps = { iptables: dump, ip6tables: dump, nftables: dump, ipvs: dump, ipsets: dump };
const snapshot = fc.record(
  { format: fc.constant(SNAPSHOT_FORMAT), hostname: small, takenAt: small, ...dumps, addresses: dump, routes: dump, rules: dump, notes: fc.array(small, { maxLength: 3 }) },
  { requiredKeys: ['format'] },
);
const bundle = fc.record({ ...dumps, node, snapshot }, { requiredKeys: [] });
const body = fc.oneof(bundle, snapshot);

describe('JsonStreamReader', () => {
  it('makes the bytes encodeInput makes of JSON.parse(body), for any body cut anywhere', () => {
    fc.assert(
      fc.property(body, fc.integer(), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), (v, seed, cuts, lenient) => {
        const text = writeJson(v, mulberry32(seed));
        const got = streamed(Buffer.from(text, 'utf8'), cuts, lenient);
        expect(got.toString('utf8')).toBe(expected(text, lenient).toString('utf8'));
        expect(got.equals(expected(text, lenient))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a body cut at every byte (inside every escape and UTF-8 sequence) as JSON.parse does', () => {
    const text = String.raw`{"node":{"ipRoute":"[]"}, "iptables":"a` + '\u00e9\u{1F600}' + String.raw`\ud83d\uDE00\ud800\"\\\n\u0001\/` + '\u2028' + String.raw`z", "ipvs": "\udc00\ud83d"}`;
    const bytes = Buffer.from(text, 'utf8');
    for (let a = 0; a <= bytes.length; a++) {
      expect(streamed(bytes, [a, a + 1, a + 3], false).equals(expected(text, false))).toBe(true);
    }
  });

  it('invalid UTF-8 inside dumps, split across chunks, reads as the whole body decoded at once', () => {
    const bad = fc.constantFrom([0x80], [0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]);
    const sentinel = Buffer.from(SENTINEL, 'utf8');
    fc.assert(
      fc.property(bundle, fc.integer(), fc.array(fc.nat(), { maxLength: 20 }), fc.array(bad, { minLength: 1, maxLength: 30 }), (v, seed, cuts, bads) => {
        const utf8 = Buffer.from(writeJson(v, mulberry32(seed)), 'utf8');
        const parts: Buffer[] = [];
        let prev = 0;
        let k = 0;
        for (let at = utf8.indexOf(sentinel); at >= 0; at = utf8.indexOf(sentinel, prev)) {
          parts.push(utf8.subarray(prev, at), Buffer.from(bads[k++ % bads.length]!));
          prev = at + sentinel.length;
        }
        parts.push(utf8.subarray(prev));
        const bytes = Buffer.concat(parts);
        const want = Buffer.from(encodeInput(wrap(JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)));
        expect(streamed(bytes, cuts, false).equals(want)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a malformed body at any position is a 400 invalid-json problem exactly when JSON.parse refuses it', () => {
    const junk = fc.constantFrom(...'{}[],:"\\ 0-1.eE+tfnaxu\u0000\n'.split('').map((c) => c.charCodeAt(0)), 0x80, 0xff);
    fc.assert(
      fc.property(body, fc.integer(), fc.nat(), fc.constantFrom('cut', 'replace', 'insert', 'delete'), junk, fc.array(fc.nat(), { maxLength: 6 }), (v, seed, pos, how, byte, cuts) => {
        const good = Buffer.from(writeJson(v, mulberry32(seed)), 'utf8');
        const p = pos % (good.length + 1);
        const b = Buffer.from([byte]);
        const bytes =
          how === 'cut' ? good.subarray(0, p)
          : how === 'replace' ? Buffer.concat([good.subarray(0, p), b, good.subarray(p + 1)])
          : how === 'insert' ? Buffer.concat([good.subarray(0, p), b, good.subarray(p)])
          : Buffer.concat([good.subarray(0, p), good.subarray(p + 1)]);
        let parsed: unknown;
        let refused = false;
        try {
          parsed = JSON.parse(bytes.toString('utf8'));
        } catch {
          refused = true;
        }
        if (refused) {
          let err: unknown;
          try {
            read(bytes, cuts);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ApiError);
          expect((err as ApiError).code).toBe('invalid-json');
          expect((err as ApiError).status).toBe(400);
          return;
        }
        const { reader, value } = read(bytes, cuts);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
          const got = Buffer.from(reader.encode(wrap(value as Record<string, unknown>) as never, {}));
          expect(got.equals(Buffer.from(encodeInput(wrap(parsed as Record<string, unknown>))))).toBe(true);
        } else expect(value).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });

  it('names the byte offset, line and column of the first byte that is not JSON', () => {
    const at = (text: string) => {
      try {
        read(Buffer.from(text));
      } catch (e) {
        return { detail: (e as ApiError).message, ...(e as ApiError).extras };
      }
      throw new Error('accepted');
    };
    expect(at('{\n  "iptables": "x",\n  oops: 1}')).toMatchObject({ line: 3, column: 3, detail: expect.stringContaining('at byte 23 (line 3, column 3)') });
    expect(at('{"iptables": "a\tb"}')).toMatchObject({ line: 1, column: 16, detail: expect.stringContaining('control character') });
    expect(at('{"iptables": "\\x"}')).toMatchObject({ column: 16 });
    expect(at('{"a": 01}')).toMatchObject({ column: 7 });
    expect(at('{"a": 1} x')).toMatchObject({ column: 10 });
    expect(at('{"iptables": "never closed')).toMatchObject({ detail: expect.stringContaining('end of JSON input') });
    expect(at('').detail).toContain('cannot be empty');
    expect(at(' \n ').detail).toContain('end of JSON input');
  });

  it('a BOM first is skipped as Fastify skipped it; anywhere else it is not JSON', () => {
    const text = '{"iptables":"*filter\\nCOMMIT\\n"}';
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    for (let cut = 0; cut <= 4; cut++) expect(streamed(withBom, [cut], false).equals(expected(text, false))).toBe(true);
    expect(() => read(Buffer.concat([Buffer.from(' '), withBom]))).toThrow(ApiError);
    expect(() => read(Buffer.from([0xef, 0xbb, 0x7b, 0x7d]))).toThrow(ApiError);
  });

  it('refuses __proto__ and constructor.prototype members anywhere, as Fastify did, and pollutes nothing', () => {
    const refused = [
      '{"__proto__": {"polluted": 1}}',
      '{"node": {"__proto__": {"polluted": 1}}}',
      '{"snapshot": {"format": "x", "notes": [{"\\u005f_proto__": {"polluted": 1}}]}}',
      '{"constructor": {"prototype": {"polluted": 1}}}',
      '{"iptables": "x", "__proto__": "x"}',
    ];
    for (const text of refused) {
      expect(() => read(Buffer.from(text)), text).toThrow('forbidden prototype property');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
    // Allowed by Fastify too: a constructor that is no object with a prototype, or one a later duplicate replaced.
    for (const text of ['{"constructor": 1, "iptables": "x"}', '{"constructor": {"prototype": 1}, "constructor": 2}', '{"iptables": "\\"__proto__\\": 1"}']) {
      expect(() => read(Buffer.from(text)), text).not.toThrow();
    }
  });

  it('a duplicate key keeps its last value (as JSON.parse), dumps included', () => {
    const text = '{"iptables": "first\\n", "node": {"ipAddr": "a"}, "iptables": "second\\n", "node": {"ipRoute": "r"}}';
    expect(streamed(Buffer.from(text), [], false).equals(Buffer.from(encodeInput({ iptables: 'second\n', node: { ipRoute: 'r' } })))).toBe(true);
  });

  it('never decodes a dump into one string: 64 KiB at a time, however large the chunk', () => {
    const text = `${'-A KUBE-SERVICES -m comment --comment "ns/svc:p \u00e9" -j KUBE-SVC-X\n'.repeat(40_000)}\u{1F600}`;
    const bytes = Buffer.from(JSON.stringify({ iptables: text, ip6tables: text.slice(0, 1000) }));
    const before = streamedJson.largestPiece;
    streamedJson.largestPiece = 0;
    expect(streamed(bytes, [], false).equals(Buffer.from(encodeInput({ iptables: text, ip6tables: text.slice(0, 1000) })))).toBe(true);
    expect(streamedJson.largestPiece).toBeGreaterThan(0);
    expect(streamedJson.largestPiece).toBeLessThanOrEqual(64 * 1024);
    expect(text.length).toBeGreaterThan(40 * streamedJson.largestPiece);
    streamedJson.largestPiece = Math.max(before, streamedJson.largestPiece);
  });
});
