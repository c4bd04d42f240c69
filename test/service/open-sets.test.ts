// The worker's open rulesets (src/service/open-sets.ts): a byte-bounded LRU that does not drop a set
// answered while another set was opening to make room for that one.
import { describe, expect, it } from 'vitest';
import { OpenSets } from '../../src/service/open-sets.js';

const ids = (s: OpenSets<string>, all: string[]) => all.filter((id) => s.has(id));

describe('OpenSets', () => {
  it('drops the least recently used sets until the budget holds', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A', 40, s.mark());
    s.add('b', 'B', 40, s.mark());
    expect(s.get('a')).toBe('A'); // a is now more recent than b
    s.add('c', 'C', 40, s.mark());
    expect(ids(s, ['a', 'b', 'c'])).toEqual(['a', 'c']);
    expect(s.bytes).toBe(80);
  });

  it('keeps a set used while another opened, over the budget, until an open it is not used during', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A', 60, s.mark());
    const openingB = s.mark();
    s.get('a'); // answered while B opens
    s.add('b', 'B', 60, openingB);
    expect(ids(s, ['a', 'b'])).toEqual(['a', 'b']);
    expect(s.bytes).toBe(120);
    // C opens and nothing is answered meanwhile: the least recent (a) goes, then the budget holds.
    s.add('c', 'C', 30, s.mark());
    expect(ids(s, ['a', 'b', 'c'])).toEqual(['b', 'c']);
    expect(s.bytes).toBe(90);
  });

  it('spares only the most recently used set: two busy sets and an open stay within budget + two sets', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A', 60, s.mark());
    const openingB = s.mark();
    s.get('a');
    s.add('b', 'B', 60, openingB); // a spared: 120 held
    const openingC = s.mark();
    s.get('a');
    s.get('b'); // both answered while C opens; b is the most recent
    s.add('c', 'C', 60, openingC);
    expect(ids(s, ['a', 'b', 'c'])).toEqual(['b', 'c']);
    expect(s.bytes).toBe(120);
  });

  it('without a use during the open, the same two sets take turns (a plain LRU)', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A', 60, s.mark());
    s.get('a');
    s.add('b', 'B', 60, s.mark());
    expect(ids(s, ['a', 'b'])).toEqual(['b']);
  });

  it('keeps the newest set even when it alone exceeds the budget, and drops it for the next', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A', 30, s.mark());
    s.add('big', 'BIG', 500, s.mark());
    expect(ids(s, ['a', 'big'])).toEqual(['big']);
    expect(s.get('big')).toBe('BIG');
    s.add('c', 'C', 30, s.mark());
    expect(ids(s, ['big', 'c'])).toEqual(['c']);
  });

  it('re-adding an id replaces it and counts its bytes once', () => {
    const s = new OpenSets<string>(100);
    s.add('a', 'A1', 40, s.mark());
    s.add('a', 'A2', 50, s.mark());
    expect(s.size).toBe(1);
    expect(s.bytes).toBe(50);
    expect(s.get('a')).toBe('A2');
  });
});
