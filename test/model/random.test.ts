// The one PRNG: the generators' Rng draws from the same mulberry32 stream as trace.
import { describe, expect, it } from 'vitest';
import { mulberry32, Rng } from '../../src/model/random.js';

describe('mulberry32', () => {
  it('Rng.next is the same stream scaled to [0, 1)', () => {
    const r = new Rng(42);
    const u = mulberry32(42);
    for (let i = 0; i < 100; i++) expect(r.next()).toBe(u() / 2 ** 32);
  });
});
