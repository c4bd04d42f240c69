import { describe, expect, it } from 'vitest';
import { parseAddr, type Addr } from '../../src/model/addr.js';
import type { IpvsState, RealServer, VirtualService } from '../../src/model/ipvs.js';
import type { WalkPacket } from '../../src/engine/types.js';
import { findVirtualService, schedule, scheduleDetailed, scheduleNotes, shSelect } from '../../src/engine/ipvs-schedule.js';
import { dhTable, MH_TAB_SIZE, mhTable, shTable } from '../../src/model/ipvs-tables.js';
import { hash32, hsiphashU32, MH_HASH1, MH_HASH2, mhHashKey } from '../../src/model/ipvs-hash.js';

const A = (s: string): Addr => parseAddr(s)!;

function real(ip: string, port: number, weight: number, extra: Partial<RealServer> = {}): RealServer {
  return { addr: A(ip), port, forward: 'masq', weight, line: 0, text: '', ...extra };
}

function svc(scheduler: string, reals: RealServer[], extra: Partial<VirtualService> = {}): VirtualService {
  return { protocol: 'tcp', family: 4, addr: A('10.96.0.10'), port: 80, scheduler, schedFlags: [], reals, line: 1, text: '', ...extra };
}

function pkt(over: Partial<WalkPacket> = {}): WalkPacket {
  return {
    family: 4, proto: 6, src: A('10.0.0.1'), dst: A('10.96.0.10'), sport: 40000, dport: 80, icmpType: 0, icmpCode: 0,
    origin: 'external', inIface: null, outIface: null, mark: 0, connmark: 0, ctstate: 2, recent: new Map(),
    activeConnections: new Map(), ...over,
  };
}

function one(s: VirtualService, p: Partial<WalkPacket> = {}): { real: number; prob: number }[] {
  return schedule({ services: [s] }, 0, pkt(p));
}

/** hash_32 computed independently with BigInt: (val * 0x61C88647 mod 2^32) >> (32 - bits). */
function hash32Big(val: number, bits: number): number {
  return Number(((BigInt(val >>> 0) * 0x61c88647n) & 0xffffffffn) >> BigInt(32 - bits));
}

describe('kernel hashes', () => {
  it('hsiphash matches the kernel self-test vector (lib/test_siphash.c, 64-bit, len 4)', () => {
    expect(hsiphashU32(0x03020100, 0x0706050403020100n, 0x0f0e0d0c0b0a0908n)).toBe(0x88d38328);
  });
  it('hash_32 worked by hand: 10.0.0.1 → bucket 39', () => {
    // 0x0A000001 * 0x61C88647 = 0x61C88647 + (0x0A * 0x47 mod 256 = 0xC6) << 24 = 0x27C88647 (mod 2^32); top 8 bits = 0x27.
    expect(hash32(0x0a000001, 8)).toBe(0x27);
  });
  it('hash_32 agrees with an independent BigInt computation', () => {
    for (const v of [0, 1, 0xffffffff, 0xc0a8010a, 0x7f000001, 123456789]) expect(hash32(v, 8)).toBe(hash32Big(v, 8));
  });
});

describe('findVirtualService (ip_vs_service_find order)', () => {
  const state: IpvsState = {
    services: [
      svc('rr', [], { addr: A('10.96.0.10'), port: 80 }),
      svc('rr', [], { protocol: 'udp', addr: A('10.96.0.10'), port: 53 }),
      svc('rr', [], { protocol: 'fwmark', addr: undefined, port: undefined, fwmark: 7 }),
      svc('rr', [], { addr: A('10.96.0.20'), port: 0 }),
      svc('rr', [], { addr: A('10.96.0.30'), port: 21 }),
      svc('rr', [], { family: 6, addr: A('fd00::10'), port: 80 }),
    ],
  };
  const q = (dst: string, proto: number, dport: number, mark = 0) => findVirtualService(state, { family: A(dst).family, proto, dst: A(dst), dport, mark });
  it('exact protocol/address/port', () => {
    expect(q('10.96.0.10', 6, 80)).toBe(0);
    expect(q('10.96.0.10', 17, 53)).toBe(1);
    expect(q('10.96.0.10', 17, 80)).toBe(-1);
    expect(q('10.96.0.10', 6, 81)).toBe(-1);
    expect(q('fd00::10', 6, 80)).toBe(5);
  });
  it('a fwmark service wins over an address service when the mark is set', () => {
    expect(q('10.96.0.10', 6, 80, 7)).toBe(2);
    expect(q('10.96.0.10', 6, 80, 8)).toBe(0);
  });
  it('falls back to the port-0 catch-all service', () => {
    expect(q('10.96.0.20', 6, 1234)).toBe(3);
  });
  it('FTP data heuristic: TCP port 20 or >= 1024 reaches the VIP:21 service', () => {
    expect(q('10.96.0.30', 6, 20)).toBe(4);
    expect(q('10.96.0.30', 6, 40000)).toBe(4);
    expect(q('10.96.0.30', 6, 80)).toBe(-1);
    expect(q('10.96.0.30', 17, 40000)).toBe(-1);
  });
});

describe('rr / wrr', () => {
  it('wrr distribution equals the weights', () => {
    const b = one(svc('wrr', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 3), real('10.1.0.3', 80, 0), real('10.1.0.4', 80, 4)]));
    expect(b).toEqual([
      { real: 0, prob: 1 / 8 },
      { real: 1, prob: 3 / 8 },
      { real: 3, prob: 4 / 8 },
    ]);
  });
  it('rr gives every server with weight > 0 an equal share (the kernel ignores the size of the weight)', () => {
    const b = one(svc('rr', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 5), real('10.1.0.3', 80, 0)]));
    expect(b).toEqual([
      { real: 0, prob: 0.5 },
      { real: 1, prob: 0.5 },
    ]);
  });
  it('no real servers, or all weight 0 → no branch (the walk rejects)', () => {
    expect(one(svc('rr', []))).toEqual([]);
    expect(one(svc('wrr', [real('10.1.0.1', 80, 0)]))).toEqual([]);
    const d = scheduleDetailed({ services: [svc('rr', [])] }, 0, pkt());
    expect(d.notes.join(' ')).toMatch(/no real server/);
  });
  it('an overloaded server (upper threshold reached) gets nothing', () => {
    const s = svc('wrr', [real('10.1.0.1', 80, 1, { upperThreshold: 2 }), real('10.1.0.2', 80, 1)]);
    expect(one(s, { activeConnections: new Map([['10.1.0.1:80', 2]]) })).toEqual([{ real: 1, prob: 1 }]);
  });
});

describe('connection-count schedulers', () => {
  const reals = () => [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 2), real('10.1.0.3', 80, 1)];
  it('without counts: weight-proportional with a note', () => {
    const d = scheduleDetailed({ services: [svc('wlc', reals())] }, 0, pkt());
    expect(d.branches.map((b) => b.prob)).toEqual([0.25, 0.5, 0.25]);
    expect(d.notes.join(' ')).toMatch(/no connection counts/);
  });
  it('lc picks the fewest active connections, first on ties', () => {
    const conns = new Map([['10.1.0.1:80', 3], ['10.1.0.2:80', 1], ['10.1.0.3:80', 1]]);
    expect(one(svc('lc', reals()), { activeConnections: conns })).toEqual([{ real: 1, prob: 1 }]);
  });
  it('wlc compares connections/weight: 4/2 beats 3/1', () => {
    const conns = new Map([['10.1.0.1:80', 3], ['10.1.0.2:80', 4], ['10.1.0.3:80', 3]]);
    expect(one(svc('wlc', reals()), { activeConnections: conns })).toEqual([{ real: 1, prob: 1 }]);
  });
  it('sed uses (active+1)/weight; nq takes the first idle server', () => {
    const conns = new Map([['10.1.0.1:80', 1], ['10.1.0.2:80', 2], ['10.1.0.3:80', 0]]);
    // sed: (1+1)/1 = 2, (2+1)/2 = 1.5, (0+1)/1 = 1 → third
    expect(one(svc('sed', reals()), { activeConnections: conns })).toEqual([{ real: 2, prob: 1 }]);
    expect(one(svc('nq', reals()), { activeConnections: conns })).toEqual([{ real: 2, prob: 1 }]);
    const busy = new Map([['10.1.0.1:80', 1], ['10.1.0.2:80', 1], ['10.1.0.3:80', 1]]);
    // nq without an idle server behaves like sed: 2/1, 2/2, 2/1 → second
    expect(one(svc('nq', reals()), { activeConnections: busy })).toEqual([{ real: 1, prob: 1 }]);
  });
  it('without query counts, an ipvsadm -Ln snapshot\'s ActiveConn/InActConn decide: overhead = active*256 + inactive', () => {
    const snap = [real('10.1.0.1', 80, 1, { activeConns: 1, inactiveConns: 300 }), real('10.1.0.2', 80, 1, { activeConns: 2, inactiveConns: 0 })];
    // 1*256 + 300 = 556 > 2*256 + 0 = 512 → the second server
    const d = scheduleDetailed({ services: [svc('wlc', snap)] }, 0, pkt());
    expect(d.branches).toEqual([{ real: 1, prob: 1 }]);
    expect(d.notes.join(' ')).toMatch(/ActiveConn\/InActConn/);
    // the query's map wins over the snapshot
    expect(one(svc('lc', snap), { activeConnections: new Map([['10.1.0.1:80', 0], ['10.1.0.2:80', 5]]) })).toEqual([{ real: 0, prob: 1 }]);
  });
  it('fo takes the highest weight; ovf overflows when active > weight', () => {
    expect(one(svc('fo', reals()))).toEqual([{ real: 1, prob: 1 }]);
    expect(one(svc('ovf', reals()), { activeConnections: new Map([['10.1.0.2:80', 3]]) })).toEqual([{ real: 0, prob: 1 }]);
  });
});

describe('sh (source hashing)', () => {
  // Weights 1,1,2 → buckets cycle A,B,C,C (ip_vs_sh_reassign fills `weight` consecutive buckets).
  const s = svc('sh', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 1), real('10.1.0.3', 80, 2)]);
  it('builds the bucket table like ip_vs_sh_reassign', () => {
    const t = shTable(s);
    expect(t.length).toBe(256);
    expect(Array.from(t.slice(0, 8))).toEqual([0, 1, 2, 2, 0, 1, 2, 2]);
  });
  it('10.0.0.1 → bucket 39 → 39 % 4 = 3 → the third server (worked by hand)', () => {
    expect(one(s, { src: A('10.0.0.1') })).toEqual([{ real: 2, prob: 1 }]);
  });
  it('matches the independent computation for many sources, and is stable per source', () => {
    for (let i = 0; i < 200; i++) {
      const src = { family: 4 as const, w: [(0x0a000000 + i * 7919) >>> 0, 0, 0, 0] as [number, number, number, number] };
      const bucket = hash32Big(src.w[0], 8);
      expect(shSelect(s, src, 1234, 6)).toBe([0, 1, 2, 2][bucket % 4]);
      expect(shSelect(s, src, 4321, 6)).toBe(shSelect(s, src, 1234, 6)); // no sh-port: the port is ignored
    }
  });
  it('sh-port adds the source port before hashing', () => {
    const sp = svc('sh', s.reals, { schedFlags: ['sh-port'] });
    const src = A('10.0.0.1');
    expect(shSelect(sp, src, 5, 6)).toBe([0, 1, 2, 2][hash32Big(0x0a000001 + 5, 8) % 4]);
  });
  it('a weight-0 server still owns a bucket: refused without sh-fallback, re-hashed with it', () => {
    const z = svc('sh', [real('10.1.0.1', 80, 0), real('10.1.0.2', 80, 1)]);
    // Table alternates 0,1,0,1…; pick a source whose bucket is even (server 0).
    let src: Addr | null = null;
    for (let i = 1; i < 1000 && !src; i++) if (hash32Big(i, 8) % 2 === 0) src = { family: 4, w: [i, 0, 0, 0] };
    expect(one(z, { src: src! })).toEqual([]);
    const f = svc('sh', z.reals, { schedFlags: ['sh-fallback'] });
    expect(one(f, { src: src! })).toEqual([{ real: 1, prob: 1 }]);
  });
  it('IPv6 sources fold the four words with XOR', () => {
    const s6 = svc('sh', [real('fd00::1', 80, 1), real('fd00::2', 80, 1)], { family: 6, addr: A('fd00::10') });
    const src = A('2001:db8::1:2');
    const fold = (src.w[0] ^ src.w[1] ^ src.w[2] ^ src.w[3]) >>> 0;
    expect(one(s6, { family: 6, src, dst: A('fd00::10') })).toEqual([{ real: hash32Big(fold, 8) % 2, prob: 1 }]);
  });
});

describe('hashing schedulers on a sorted ipvsadm listing', () => {
  it('the kernel order is unknown: shares over all clients, with a note, instead of a made-up per-client answer', () => {
    const s = svc('sh', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 3)]);
    const d = scheduleDetailed({ services: [s], realOrder: 'sorted' }, 0, pkt());
    expect(d.branches).toEqual([
      { real: 0, prob: 0.25 },
      { real: 1, prob: 0.75 },
    ]);
    expect(d.notes.join(' ')).toMatch(/--nosort/);
    const dh = scheduleDetailed({ services: [svc('dh', s.reals)], realOrder: 'sorted' }, 0, pkt());
    expect(dh.branches.map((b) => b.prob)).toEqual([0.5, 0.5]);
    // one real server: the order cannot matter
    expect(scheduleDetailed({ services: [svc('mh', [s.reals[0]])], realOrder: 'sorted' }, 0, pkt()).branches).toEqual([{ real: 0, prob: 1 }]);
  });
});

describe('dh (destination hashing)', () => {
  it('hashes the destination (the VIP) into a round-robin table, weights ignored', () => {
    const s = svc('dh', [real('10.1.0.1', 80, 5), real('10.1.0.2', 80, 1), real('10.1.0.3', 80, 1)]);
    expect(Array.from(dhTable(s).slice(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    const dst = A('10.96.0.10');
    expect(one(s, { dst })).toEqual([{ real: hash32Big(dst.w[0], 8) % 3, prob: 1 }]);
  });
});

/** The kernel's ip_vs_mh_populate written again, literally, with list/cursor variables. */
function naiveMaglev(reals: RealServer[]): number[] {
  const M = 251;
  const weights = reals.map((r) => r.weight);
  let g = 0;
  for (const w of weights) if (w > 0) g = g > 0 ? gcdN(w, g) : w;
  const table: number[] = new Array(M).fill(-1);
  if (g < 1) return table;
  const mw = Math.max(...weights) / g;
  const shift = Math.max(0, (mw === 0 ? 0 : Math.floor(Math.log2(Math.floor(mw))) + 1) - 6);
  const ds = reals.map((r) => ({
    perm: Number(hsiphashU32((r.port + r.addr.w[0]) >>> 0, MH_HASH1[0], MH_HASH1[1]) % M),
    skip: (hsiphashU32((r.port + r.addr.w[0]) >>> 0, MH_HASH2[0], MH_HASH2[1]) % (M - 1)) + 1,
    turns: (Math.floor(r.weight / g) >> shift) || (r.weight !== 0 ? 1 : 0),
  }));
  const used = new Set<number>();
  let n = 0;
  let p = 0; // index into the list; reals.length stands for the list head
  let dt = 0;
  while (n < M) {
    if (p === reals.length) p = 0;
    while (p !== reals.length) {
      const d = ds[p];
      if (d.turns < 1) {
        p++;
        continue;
      }
      let c = d.perm;
      while (used.has(c)) {
        d.perm = (d.perm + d.skip) % M;
        c = d.perm;
      }
      used.add(c);
      table[c] = p;
      if (++n === M) return table;
      if (++dt >= d.turns) {
        dt = 0;
        p++;
      }
    }
  }
  return table;
}
function gcdN(a: number, b: number): number {
  return b ? gcdN(b, a % b) : a;
}

describe('mh (Maglev hashing)', () => {
  it('equal weights: every slot filled, one slot per server per round (84/84/83, first servers first)', () => {
    const s = svc('mh', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 1), real('10.1.0.3', 80, 1)]);
    const t = mhTable(s);
    expect(t.length).toBe(MH_TAB_SIZE);
    const counts = [0, 0, 0];
    for (const x of t) counts[x]++;
    expect(counts).toEqual([84, 84, 83]);
  });
  it('weights 2:1 → turns 2 and 1 per round: 168 and 83 slots', () => {
    const s = svc('mh', [real('10.1.0.1', 80, 2), real('10.1.0.2', 80, 1)]);
    const counts = [0, 0];
    for (const x of mhTable(s)) counts[x]++;
    expect(counts).toEqual([168, 83]);
  });
  it('matches a literal re-implementation of ip_vs_mh_populate (weights, gcd, shift, zero weight)', () => {
    const cases: RealServer[][] = [
      [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 1), real('10.1.0.3', 80, 1)],
      [real('10.244.1.5', 8080, 100), real('10.244.2.5', 8080, 50), real('10.244.3.5', 8080, 0)],
      [real('10.1.0.1', 443, 200), real('10.1.0.2', 443, 1)],
    ];
    for (const reals of cases) expect(Array.from(mhTable(svc('mh', reals)))).toEqual(naiveMaglev(reals));
  });
  it('lookup: slot hsiphash(port + addr) % 251 of the source; stable per source', () => {
    const s = svc('mh', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 1), real('10.1.0.3', 80, 1)]);
    const t = mhTable(s);
    for (let i = 0; i < 50; i++) {
      const src: Addr = { family: 4, w: [(0xc0a80000 + i) >>> 0, 0, 0, 0] };
      const slot = mhHashKey(src, 0, MH_HASH1, 0) % MH_TAB_SIZE;
      expect(one(s, { src, sport: 1000 + i })).toEqual([{ real: t[slot], prob: 1 }]);
    }
  });
  it('no weight anywhere → empty table → no branch', () => {
    expect(one(svc('mh', [real('10.1.0.1', 80, 0)]))).toEqual([]);
  });
});

describe('notes', () => {
  it('persistence and forwarding are reported', () => {
    const s = svc('rr', [real('10.1.0.1', 80, 1, { forward: 'gate' })], { persistent: 10800 });
    const notes = scheduleNotes({ services: [s] }, 0, pkt());
    expect(notes.join('\n')).toMatch(/persistent 10800s/);
    expect(notes.join('\n')).toMatch(/direct routing/);
  });
  it('lblc/twos are approximated with a note', () => {
    const d = scheduleDetailed({ services: [svc('lblc', [real('10.1.0.1', 80, 1), real('10.1.0.2', 80, 3)])] }, 0, pkt());
    expect(d.branches.map((b) => b.prob)).toEqual([0.25, 0.75]);
    expect(d.notes[0]).toMatch(/lblc/);
  });
});
