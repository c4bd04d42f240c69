// The wire form of columnar batch trace (POST /v1/rulesets/{id}/trace with a binary body): the
// columns of src/engine/columns.ts laid end to end, little-endian, each section 4-byte aligned,
// so both ends read them as typed-array views without parsing.
//
// application/vnd.landfall.packets (request), n packets:
//   0   "LFP1"   4 bytes magic
//   4   u32      n
//   8   u32      seed (mulberry32, as trace's `seed`)
//   12  u32      0 (reserved)
//   16  u8[n]    family (4 | 6)      then u8[n] protocol (6, 17, 132, 1 / 58)    then u8[n] origin (0 external, 1 pod, 2 host)
//       pad to 4; u16[n] source port, u16[n] destination port; pad to 4
//       u32[4n] source address, u32[4n] destination address (IPv4: the address in word 0, words 1–3 zero)
// application/vnd.landfall.results (answer), same n, same order:
//   0   "LFR1", u32 n, u32 0, u32 0
//   16  u8[n] verdict (0 accept, 1 drop, 2 reject), u8[n] masquerade (0/1); pad to 4
//       u16[n] destination port after DNAT; pad to 4
//       u32[n] rules evaluated; u32[4n] destination after DNAT; u32[4n] source after SNAT

import type { PacketColumns, ResultColumns } from './columns.js';

export const PACKETS_TYPE = 'application/vnd.landfall.packets';
export const RESULTS_TYPE = 'application/vnd.landfall.results';
const PACKETS_MAGIC = 0x3150464c; // "LFP1"
const RESULTS_MAGIC = 0x3152464c; // "LFR1"
const HEADER = 16;
/** Bytes per packet in a request (plus padding of at most 6 bytes in all). */
export const PACKET_BYTES = 3 + 4 + 32;

const a4 = (n: number) => (n + 3) & ~3;

function packetLayout(n: number) {
  const ports = a4(HEADER + 3 * n);
  const addrs = a4(ports + 4 * n);
  return { ports, addrs, total: addrs + 32 * n };
}

function resultLayout(n: number) {
  const ports = a4(HEADER + 2 * n);
  const rules = a4(ports + 2 * n);
  return { ports, rules, addrs: rules + 4 * n, total: rules + 4 * n + 32 * n };
}

/** Why a body is not a packets document (null when it is one). */
export function packetsProblem(buf: ArrayBufferLike, byteOffset = 0, byteLength = buf.byteLength - byteOffset): string | null {
  if (byteLength < HEADER) return `the body is ${byteLength} bytes, shorter than the ${HEADER}-byte header`;
  const dv = new DataView(buf as ArrayBuffer, byteOffset, byteLength);
  if (dv.getUint32(0, true) !== PACKETS_MAGIC) return 'the body does not start with "LFP1"';
  const n = dv.getUint32(4, true);
  const want = packetLayout(n).total;
  if (byteLength !== want) return `${n} packets take ${want} bytes, the body has ${byteLength}`;
  return null;
}

/** Columns + seed → request bytes. */
export function encodePackets(cols: PacketColumns, seed = 0): Uint8Array {
  const n = cols.family.length;
  const L = packetLayout(n);
  const out = new Uint8Array(L.total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, PACKETS_MAGIC, true);
  dv.setUint32(4, n, true);
  dv.setUint32(8, seed >>> 0, true);
  out.set(cols.family, HEADER);
  out.set(cols.protocol, HEADER + n);
  out.set(cols.origin, HEADER + 2 * n);
  new Uint16Array(out.buffer, L.ports, n).set(cols.sport);
  new Uint16Array(out.buffer, L.ports + 2 * n, n).set(cols.dport);
  new Uint32Array(out.buffer, L.addrs, 4 * n).set(cols.src);
  new Uint32Array(out.buffer, L.addrs + 16 * n, 4 * n).set(cols.dst);
  return out;
}

/** Request bytes (4-aligned, checked with packetsProblem) → column views over them and the seed. */
export function decodePackets(buf: ArrayBufferLike, byteOffset = 0): { cols: PacketColumns; seed: number } {
  const dv = new DataView(buf as ArrayBuffer, byteOffset);
  const n = dv.getUint32(4, true);
  const L = packetLayout(n);
  const u8 = (at: number) => new Uint8Array(buf, byteOffset + at, n);
  return {
    seed: dv.getUint32(8, true),
    cols: {
      family: u8(HEADER),
      protocol: u8(HEADER + n),
      origin: u8(HEADER + 2 * n),
      sport: new Uint16Array(buf, byteOffset + L.ports, n),
      dport: new Uint16Array(buf, byteOffset + L.ports + 2 * n, n),
      src: new Uint32Array(buf, byteOffset + L.addrs, 4 * n),
      dst: new Uint32Array(buf, byteOffset + L.addrs + 16 * n, 4 * n),
    },
  };
}

/** Result columns → answer bytes. */
export function encodeResults(res: ResultColumns): Uint8Array {
  const n = res.verdict.length;
  const L = resultLayout(n);
  const out = new Uint8Array(L.total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, RESULTS_MAGIC, true);
  dv.setUint32(4, n, true);
  out.set(res.verdict, HEADER);
  out.set(res.masquerade, HEADER + n);
  new Uint16Array(out.buffer, L.ports, n).set(res.dport);
  new Uint32Array(out.buffer, L.rules, n).set(res.rulesEvaluated);
  new Uint32Array(out.buffer, L.addrs, 4 * n).set(res.dst);
  new Uint32Array(out.buffer, L.addrs + 16 * n, 4 * n).set(res.src);
  return out;
}

/** Answer bytes → result columns (copies, so any alignment works). */
export function decodeResults(bytes: Uint8Array): ResultColumns {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < HEADER || dv.getUint32(0, true) !== RESULTS_MAGIC) throw new Error('not a landfall results document');
  const n = dv.getUint32(4, true);
  const L = resultLayout(n);
  if (bytes.byteLength !== L.total) throw new Error(`results for ${n} packets take ${L.total} bytes, got ${bytes.byteLength}`);
  const copy = new Uint8Array(bytes).buffer; // aligned
  return {
    verdict: new Uint8Array(copy, HEADER, n),
    masquerade: new Uint8Array(copy, HEADER + n, n),
    dport: new Uint16Array(copy, L.ports, n),
    rulesEvaluated: new Uint32Array(copy, L.rules, n),
    dst: new Uint32Array(copy, L.addrs, 4 * n),
    src: new Uint32Array(copy, L.addrs + 16 * n, 4 * n),
  };
}
