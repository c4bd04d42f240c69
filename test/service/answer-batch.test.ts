// The worker's batch encoder (src/service/answer-batch.ts): each answer comes back as exactly the
// bytes written for it, a fault in the middle of a batch leaves the others whole (what it wrote
// before failing is dropped), and the answers travel in one buffer of their own (transferred).

import { describe, expect, it } from 'vitest';
import { encodeAnswer, encodeAnswers } from '../../src/service/answer-batch.js';

/** An answer of `n` bytes with a recognisable content (and some non-ASCII). */
function text(i: number, n: number): string {
  const head = `{"i":${i},"é":"`;
  return head + 'x'.repeat(Math.max(0, n - Buffer.byteLength(head) - 2)) + '"}';
}

describe('encodeAnswers', () => {
  it('gives each answer its bytes and each fault its own slot, in one buffer made for the batch', () => {
    const sizes = [11_000, 11_500, 2, 30_000, 40_000, 70_000, 11_000, 11_000, 11_000, 11_000, 11_000, 11_000, 500];
    const queries = sizes.map((n, i) => ({ i, n, fail: i === 2 || i === 9 }));
    const { answers, faults } = encodeAnswers(queries, (out, q) => {
      out.utf8(text(q.i, 100)); // written, then the query fails: its bytes must not stay
      if (q.fail) throw new RangeError(`query ${q.i} cannot be answered`);
      out.at -= Buffer.byteLength(text(q.i, 100));
      out.utf8(text(q.i, q.n));
    });
    expect(answers).toHaveLength(sizes.length);
    const buffers = new Set<ArrayBufferLike>();
    queries.forEach((q, i) => {
      if (q.fail) {
        expect(answers[i]).toBeNull();
        expect(faults[i]).toMatchObject({ detail: expect.stringContaining(`query ${i}`) });
        return;
      }
      expect(faults[i]).toBeNull();
      expect(Buffer.from(answers[i]!).toString('utf8')).toBe(text(i, q.n));
      buffers.add(answers[i]!.buffer);
    });
    // One buffer holding exactly the answers (the staging the worker reuses is not handed out).
    expect(buffers.size).toBe(1);
    const [b] = [...buffers];
    expect(b).toBeInstanceOf(ArrayBuffer);
    expect(b!.byteLength).toBe(answers.reduce((n, a) => n + (a?.byteLength ?? 0), 0));
  });

  it('a batch whose every query fails gives no answer', () => {
    const { answers, faults } = encodeAnswers([1, 2], () => {
      throw new Error('no');
    });
    expect(answers).toEqual([null, null]);
    expect(faults.every((f) => f !== null)).toBe(true);
  });

  it('the next batch reuses nothing the last one handed out', () => {
    const first = encodeAnswers(['a'], (out, q) => out.utf8(JSON.stringify(q)));
    const second = encodeAnswers(['b'], (out, q) => out.utf8(JSON.stringify(q)));
    expect(Buffer.from(first.answers[0]!).toString()).toBe('"a"');
    expect(Buffer.from(second.answers[0]!).toString()).toBe('"b"');
    expect(first.answers[0]!.buffer).not.toBe(second.answers[0]!.buffer);
  });
});

describe('encodeAnswer', () => {
  it('gives one answer in a buffer of exactly its bytes, and throws what the writer throws', () => {
    const a = encodeAnswer((out) => out.utf8('{"é":1}'));
    expect(Buffer.from(a).toString('utf8')).toBe('{"é":1}');
    expect(a.buffer.byteLength).toBe(a.byteLength);
    expect(() => encodeAnswer(() => {
      throw new RangeError('no answer');
    })).toThrow(RangeError);
    // The staging it shares with batches is not handed out: the next answer does not overwrite it.
    encodeAnswer((out) => out.utf8('{"x":2}'));
    expect(Buffer.from(a).toString('utf8')).toBe('{"é":1}');
  });
});
