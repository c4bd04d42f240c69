// The lookup tables of the kernel's hashing IPVS schedulers (sh, dh, mh), built from a virtual
// service exactly as ip_vs_sh_reassign(), ip_vs_dh_reassign() and ip_vs_mh_reassign() do. Kernel
// facts below parse and compile: the reference scheduler (engine/ipvs-schedule.ts) looks clients
// up in them, and the compiler (compile/ipvs.ts) copies them into the wasm engine's ruleset.

import type { VirtualService } from './ipvs.js';
import { MH_HASH1, MH_HASH2, mhHashKey } from './ipvs-hash.js';


export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;
export const DH_TAB_BITS = 8;
export const DH_TAB_SIZE = 1 << DH_TAB_BITS;
/** primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] with the default CONFIG_IP_VS_MH_TAB_INDEX = 12. */
export const MH_TAB_SIZE = 251;
/** IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2. */
const MH_TAB_BITS = 6;

const shCache = new WeakMap<VirtualService, Int32Array>();
const dhCache = new WeakMap<VirtualService, Int32Array>();
const mhCache = new WeakMap<VirtualService, Int32Array>();

/**
 * ip_vs_sh_reassign(): walk the destinations cyclically, giving each `weight` consecutive buckets
 * (a weight-0 server still takes one bucket: `++d_count >= weight` is true at once; it is then
 * refused at lookup time). Entry = index into reals, -1 when the service has no real server.
 */
export function shTable(svc: VirtualService): Int32Array {
  let t = shCache.get(svc);
  if (t) return t;
  t = new Int32Array(SH_TAB_SIZE).fill(-1);
  const n = svc.reals.length;
  if (n > 0) {
    let p = 0;
    let count = 0;
    for (let i = 0; i < SH_TAB_SIZE; i++) {
      t[i] = p;
      if (++count >= svc.reals[p].weight) {
        p = (p + 1) % n;
        count = 0;
      }
    }
  }
  shCache.set(svc, t);
  return t;
}

/** ip_vs_dh_reassign(): plain round-robin over the destinations, weights ignored. */
export function dhTable(svc: VirtualService): Int32Array {
  let t = dhCache.get(svc);
  if (t) return t;
  t = new Int32Array(DH_TAB_SIZE).fill(-1);
  const n = svc.reals.length;
  if (n > 0) for (let i = 0; i < DH_TAB_SIZE; i++) t[i] = i % n;
  dhCache.set(svc, t);
  return t;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** fls(): position of the most significant set bit, 1-based; 0 for 0. */
function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/**
 * The Maglev lookup table exactly as ip_vs_mh_reassign() builds it: per destination an offset
 * (hsiphash key1 % M) and skip (hsiphash key2 % (M-1) + 1) of its address and port, "turns" =
 * (weight / gcd) >> rshift (at least 1 for a non-zero weight) so that heavier servers claim that
 * many slots per round; rounds continue until all M slots are taken. -1 = empty slot (no server
 * with weight > 0). The kernel uses last_weight, which equals weight on a stable node.
 */
export function mhTable(svc: VirtualService): Int32Array {
  let t = mhCache.get(svc);
  if (t) return t;
  t = new Int32Array(MH_TAB_SIZE).fill(-1);
  const reals = svc.reals;
  let g = 0;
  let maxW = 0;
  for (const r of reals) {
    if (r.weight > 0) g = g > 0 ? gcd(r.weight, g) : r.weight;
    if (r.weight > maxW) maxW = r.weight;
  }
  if (g >= 1 && reals.length <= MH_TAB_SIZE) {
    const shift = Math.max(0, fls(Math.floor(maxW / g)) - MH_TAB_BITS);
    const skip = reals.map((r) => (mhHashKey(r.addr, r.port, MH_HASH2, 0) % (MH_TAB_SIZE - 1)) + 1);
    const perm = reals.map((r) => mhHashKey(r.addr, r.port, MH_HASH1, 0) % MH_TAB_SIZE);
    const turns = reals.map((r) => (Math.floor(r.weight / g) >> shift) || (r.weight !== 0 ? 1 : 0));
    const taken = new Uint8Array(MH_TAB_SIZE);
    let n = 0;
    // One pass of the kernel's inner loop per round; a destination with `turns` k fills k slots
    // in a row before the next destination gets its turn.
    outer: while (n < MH_TAB_SIZE) {
      for (let d = 0; d < reals.length; d++) {
        if (turns[d] < 1) continue;
        for (let k = 0; k < turns[d]; k++) {
          let c = perm[d];
          while (taken[c]) {
            perm[d] += skip[d];
            if (perm[d] >= MH_TAB_SIZE) perm[d] -= MH_TAB_SIZE;
            c = perm[d];
          }
          taken[c] = 1;
          t[c] = d;
          if (++n === MH_TAB_SIZE) break outer;
        }
      }
    }
  }
  mhCache.set(svc, t);
  return t;
}
