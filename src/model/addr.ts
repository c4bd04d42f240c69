// Addresses as plain numbers: an IPv4 address is one u32 in w[0] (w[1..3] = 0), an IPv6 address is
// four big-endian u32 words. The same 4×u32 shape is what the compiled ruleset stores, so the
// reference walk and the WASM engine compare exactly the same bits.

export type Family = 4 | 6;

export interface Addr {
  readonly family: Family;
  /** Four u32 words, big-endian order; IPv4 uses w[0] only. */
  readonly w: readonly [number, number, number, number];
}

export interface Cidr {
  readonly family: Family;
  readonly w: readonly [number, number, number, number];
  /** Prefix length: 0..32 (v4) or 0..128 (v6). */
  readonly prefix: number;
}

/** Parses dotted-quad IPv4 by hand (the bulk parser's hot path); returns null when malformed. */
export function parseIPv4(s: string): number | null {
  let value = 0;
  let part = -1;
  let parts = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (part < 0 || parts === 3) return null;
      value = (value * 256 + part) >>> 0;
      parts++;
      part = -1;
    } else if (c >= 48 && c <= 57) {
      if (part === 0) return null; // no leading zeros ("010" is octal to some tools)
      part = part < 0 ? c - 48 : part * 10 + (c - 48);
      if (part > 255) return null;
    } else return null;
  }
  if (part < 0 || parts !== 3) return null;
  return (value * 256 + part) >>> 0;
}

/** Parses IPv6 (with :: compression and an embedded IPv4 tail); returns null when malformed. */
export function parseIPv6(s: string): [number, number, number, number] | null {
  if (s.length < 2 || s.length > 45) return null;
  const groups: number[] = [];
  let dbl = -1;
  let i = 0;
  if (s.startsWith('::')) {
    dbl = 0;
    i = 2;
    if (s.length === 2) return [0, 0, 0, 0];
  } else if (s[0] === ':') return null;
  while (i < s.length) {
    let j = i;
    while (j < s.length && s[j] !== ':') j++;
    const tok = s.slice(i, j);
    if (tok.includes('.')) {
      if (j !== s.length) return null;
      const v4 = parseIPv4(tok);
      if (v4 === null) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (tok.length === 0 || tok.length > 4) return null;
      let v = 0;
      for (let k = 0; k < tok.length; k++) {
        const c = tok.charCodeAt(k);
        const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (d < 0) return null;
        v = v * 16 + d;
      }
      groups.push(v);
    }
    if (j === s.length) break;
    if (s[j + 1] === ':') {
      if (dbl >= 0) return null;
      dbl = groups.length;
      i = j + 2;
      if (i === s.length) break;
    } else {
      i = j + 1;
      if (i === s.length) return null;
    }
  }
  if (dbl >= 0) {
    if (groups.length > 7) return null;
    const fill = new Array<number>(8 - groups.length).fill(0);
    groups.splice(dbl, 0, ...fill);
  }
  if (groups.length !== 8) return null;
  return [
    ((groups[0] << 16) | groups[1]) >>> 0,
    ((groups[2] << 16) | groups[3]) >>> 0,
    ((groups[4] << 16) | groups[5]) >>> 0,
    ((groups[6] << 16) | groups[7]) >>> 0,
  ];
}

/** Parses an address of either family. */
export function parseAddr(s: string): Addr | null {
  if (s.includes(':')) {
    const w = parseIPv6(s);
    return w ? { family: 6, w } : null;
  }
  const v = parseIPv4(s);
  return v === null ? null : { family: 4, w: [v, 0, 0, 0] };
}

/** Mask word k of a prefix (for the family's word count). */
export function maskWord(prefix: number, k: number): number {
  const bits = prefix - 32 * k;
  if (bits >= 32) return 0xffffffff;
  if (bits <= 0) return 0;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/m.a.s.k` and the IPv6 forms; host bits are cleared. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const a = parseAddr(slash < 0 ? s : s.slice(0, slash));
  if (!a) return null;
  const max = a.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const m = s.slice(slash + 1);
    if (/^\d{1,3}$/.test(m)) {
      prefix = Number(m);
      if (prefix > max) return null;
    } else {
      // Dotted (or v6) mask: must be contiguous.
      const ma = parseAddr(m);
      if (!ma || ma.family !== a.family) return null;
      prefix = 0;
      let seenZero = false;
      for (let k = 0; k < (a.family === 4 ? 1 : 4); k++) {
        for (let b = 31; b >= 0; b--) {
          const bit = (ma.w[k] >>> b) & 1;
          if (bit && seenZero) return null;
          if (bit) prefix++;
          else seenZero = true;
        }
      }
    }
  }
  const n = a.family === 4 ? 1 : 4;
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = 0; k < n; k++) w[k] = (a.w[k] & maskWord(prefix, k)) >>> 0;
  return { family: a.family, w, prefix };
}

export function cidrContains(c: Cidr, a: Addr): boolean {
  if (c.family !== a.family) return false;
  const n = c.family === 4 ? 1 : 4;
  for (let k = 0; k < n; k++) {
    if (((a.w[k] & maskWord(c.prefix, k)) >>> 0) !== c.w[k]) return false;
  }
  return true;
}

export function addrEquals(a: Addr, b: Addr): boolean {
  return a.family === b.family && a.w[0] === b.w[0] && a.w[1] === b.w[1] && a.w[2] === b.w[2] && a.w[3] === b.w[3];
}

/** Numeric comparison (same family assumed), for iprange. */
export function addrCompare(a: Addr, b: Addr): number {
  for (let k = 0; k < 4; k++) {
    if (a.w[k] !== b.w[k]) return a.w[k] < b.w[k] ? -1 : 1;
  }
  return 0;
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) {
    const v = a.w[0];
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: number[] = [];
  for (const x of a.w) g.push(x >>> 16, x & 0xffff);
  // RFC 5952: compress the longest run (≥2) of zero groups, leftmost on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatAddr(c)}/${c.prefix}`;
}

/** "ip:port", or "[ip6]:port" for IPv6 (DESIGN.md endpoint form). */
export function formatEndpoint(a: Addr, port: number | undefined): string {
  const ip = formatAddr(a);
  if (port === undefined) return a.family === 6 ? `[${ip}]` : ip;
  return a.family === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function v4(value: number): Addr {
  return { family: 4, w: [value >>> 0, 0, 0, 0] };
}
