// The kernel's hashes used by the IPVS hashing schedulers, reproduced bit for bit so that a
// given client maps to the same real server as on a real node.
//
//  - hash_32(val, bits) (include/linux/hash.h, kernel >= 4.7): (val * GOLDEN_RATIO_32) >> (32 - bits),
//    GOLDEN_RATIO_32 = 0x61C88647. Used by sh (ip_vs_sh_hashkey) and dh (ip_vs_dh_hashkey).
//  - hsiphash (lib/siphash.c) as built on 64-bit kernels: SipHash-1-3 with a 128-bit key, output
//    truncated to u32. Used by mh (ip_vs_mh_hashkey) with the FIXED keys of generate_hash_secret(),
//    so the Maglev table is the same on every boot. 32-bit kernels use HalfSipHash-1-3 instead; we
//    model the 64-bit (x86_64/arm64, little-endian) build, which is what Kubernetes nodes run.

import type { Addr } from './addr.js';

const GOLDEN_RATIO_32 = 0x61c88647;

/** include/linux/hash.h hash_32(): multiplicative hash, top `bits` bits of the u32 product. */
export function hash32(val: number, bits: number): number {
  return Math.imul(val >>> 0, GOLDEN_RATIO_32) >>> 0 >>> (32 - bits);
}

/**
 * The address fold the IPVS hashing schedulers apply: the IPv4 address as a host-order u32, or
 * the XOR of the four IPv6 words (the kernel XORs the big-endian words, then ntohl()s the result,
 * which equals XOR-ing the host-order words).
 */
export function addrFold(a: Addr): number {
  if (a.family === 4) return a.w[0] >>> 0;
  return (a.w[0] ^ a.w[1] ^ a.w[2] ^ a.w[3]) >>> 0;
}

const M64 = (1n << 64n) - 1n;

function rol64(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & M64;
}

/**
 * hsiphash() of one u32 stored in memory (4 bytes, little-endian) on a 64-bit kernel:
 * SipHash-1-3 with key (k0, k1), returning the low 32 bits of (v0^v1)^(v2^v3).
 */
export function hsiphashU32(value: number, k0: bigint, k1: bigint): number {
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const b = (4n << 56n) | BigInt(value >>> 0);
  const round = (): void => {
    v0 = (v0 + v1) & M64;
    v1 = rol64(v1, 13n);
    v1 ^= v0;
    v0 = rol64(v0, 32n);
    v2 = (v2 + v3) & M64;
    v3 = rol64(v3, 16n);
    v3 ^= v2;
    v0 = (v0 + v3) & M64;
    v3 = rol64(v3, 21n);
    v3 ^= v0;
    v2 = (v2 + v1) & M64;
    v1 = rol64(v1, 17n);
    v1 ^= v2;
    v2 = rol64(v2, 32n);
  };
  // No full 8-byte blocks for a 4-byte input: straight to the finalisation (HPOSTAMBLE).
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xffn;
  round();
  round();
  round();
  return Number((v0 ^ v1 ^ v2 ^ v3) & 0xffffffffn);
}

/** ip_vs_mh.c generate_hash_secret(): constant keys, identical on every boot. */
export const MH_HASH1: readonly [bigint, bigint] = [2654435761n, 2654435761n];
export const MH_HASH2: readonly [bigint, bigint] = [2654446892n, 2654446892n];

/** ip_vs_mh_hashkey(): hsiphash of (offset + port + fold(addr)) as a u32. */
export function mhHashKey(addr: Addr, port: number, key: readonly [bigint, bigint], offset: number): number {
  const v = (offset + port + addrFold(addr)) >>> 0;
  return hsiphashU32(v, key[0], key[1]);
}
