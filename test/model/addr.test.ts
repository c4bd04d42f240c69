// The hand-written address parser (the bulk parser's hot path) against ip-num, the thorough
// library the API edge uses: the same numbers for every address, and nothing ours accepts that
// ip-num rejects.
import fc from 'fast-check';
import ipnum from 'ip-num';
import { describe, expect, it } from 'vitest';
import { formatAddr, parseAddr, parseCidr, type Addr } from '../../src/model/addr.js';

const { IPv4, IPv6, Validator } = ipnum;

/** Our four big-endian u32 words as one bigint (IPv4: w[0]). */
function valueOf(a: Addr): bigint {
  if (a.family === 4) return BigInt(a.w[0] >>> 0);
  return a.w.reduce((v, w) => (v << 32n) | BigInt(w >>> 0), 0n);
}

function ipnumAccepts(s: string): boolean {
  return s.includes(':') ? Validator.isValidIPv6String(s)[0] : Validator.isValidIPv4String(s)[0];
}

// Mangled forms of valid addresses: near misses are where a hand parser goes wrong.
const mangled = fc
  .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(60), fc.constantFrom('', '.', ':', '::', '0', '00', 'f', 'g', '/', ' ', '1.2.3.4', '%eth0', '-'), fc.nat(3))
  .map(([s, at, ins, del]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i + del);
  });

describe('model/addr.ts against ip-num', () => {
  it('IPv4: every dotted quad parses to ip-num\'s value and prints back the same', () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        const a = parseAddr(s);
        expect(a, s).not.toBeNull();
        expect(a!.family).toBe(4);
        expect(valueOf(a!)).toBe(IPv4.fromDecimalDottedString(s).getValue());
        expect(formatAddr(a!)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('IPv6 (compressed, full, upper case, IPv4 tails): ip-num\'s value, and printing reparses to it', () => {
    const forms = fc.oneof(fc.ipV6(), fc.ipV6().map((s) => s.toUpperCase()));
    fc.assert(
      fc.property(forms, (s) => {
        const a = parseAddr(s);
        expect(a, s).not.toBeNull();
        expect(a!.family).toBe(6);
        const want = IPv6.fromString(s).getValue();
        expect(valueOf(a!)).toBe(want);
        expect(valueOf(parseAddr(formatAddr(a!))!)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts nothing ip-num rejects, and where both accept, agrees on the value', () => {
    fc.assert(
      fc.property(fc.oneof(mangled, fc.string({ maxLength: 50 })), (s) => {
        const a = parseAddr(s);
        if (a === null) return;
        expect(ipnumAccepts(s), `ours accepted ${JSON.stringify(s)}`).toBe(true);
        const want = s.includes(':') ? IPv6.fromString(s).getValue() : IPv4.fromDecimalDottedString(s).getValue();
        expect(valueOf(a)).toBe(want);
      }),
      { numRuns: 5000 },
    );
  });

  it('prefixes: parseCidr keeps the address and length ip-num reads', () => {
    const cidr = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })),
    );
    fc.assert(
      fc.property(cidr, ([addr, len]) => {
        const s = `${addr}/${len}`;
        const c = parseCidr(s);
        expect(c, s).not.toBeNull();
        expect(c!.prefix).toBe(len);
        const v6 = addr.includes(':');
        // (ip-num's own CIDR check is not the oracle here: it refuses IPv6 prefixes written with an
        // IPv4 tail, "::ffff:0.0.0.0/96", which the kernel tools print and ours reads.)
        // The stored address is the given one or its network (host bits cleared); either way the
        // network part matches ip-num's value of the given address.
        const given = v6 ? IPv6.fromString(addr).getValue() : IPv4.fromDecimalDottedString(addr).getValue();
        const bits = v6 ? 128n : 32n;
        const hostMask = (1n << (bits - BigInt(len))) - 1n;
        expect(valueOf(c!) & ~hostMask).toBe(given & ~hostMask);
      }),
      { numRuns: 2000 },
    );
  });
});
