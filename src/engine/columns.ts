// Batch trace in columns: packets in typed arrays in, results in typed arrays out — for load
// testers sampling millions of connections, where one object per packet (query, resolved packet,
// result, JSON) costs more than the walk. The answers are exactly trace()'s for the same packets
// as queries (same PRNG stream, same order); a packet's other fields take trace()'s defaults
// (no interface overrides, mark 0, ctstate NEW, ICMP echo request, no recent history).

import { formatAddr, formatEndpoint, parseAddr, type Addr } from '../model/addr.js';
import type { NodeContext } from '../model/ruleset.js';
import type { Origin, Query, Verdict } from '../model/contracts.js';
import { PROTO } from '../model/rule.js';
import * as L from '../compile/layout.js';
import { QueryError, resolveQuery } from './packet.js';
import type { Engine, TraceRecord, WalkPacket } from './types.js';

/** Origins by column code. */
export const COLUMN_ORIGINS: readonly Origin[] = ['external', 'pod', 'host'];
/** Verdicts by column code. */
export const COLUMN_VERDICTS: readonly Verdict[] = ['accept', 'drop', 'reject'];

/**
 * n packets. Addresses are 4 words per packet (IPv4: the address as a 32-bit number in word 0,
 * words 1–3 zero; IPv6: the address's four 32-bit words, most significant first).
 */
export interface PacketColumns {
  /** 4 or 6. */
  family: Uint8Array;
  /** IP protocol number: 6 tcp, 17 udp, 132 sctp, 1 icmp (58 for IPv6). */
  protocol: Uint8Array;
  /** 0 external, 1 pod, 2 host (COLUMN_ORIGINS). */
  origin: Uint8Array;
  src: Uint32Array;
  dst: Uint32Array;
  /** Ignored for icmp. */
  sport: Uint16Array;
  dport: Uint16Array;
}

export interface ResultColumns {
  /** 0 accept, 1 drop, 2 reject (COLUMN_VERDICTS). */
  verdict: Uint8Array;
  /** 1 when SNAT or MASQUERADE applied. */
  masquerade: Uint8Array;
  /** Destination after DNAT (4 words per packet, as in PacketColumns) and its port (0 for icmp). */
  dst: Uint32Array;
  dport: Uint16Array;
  /** Source after SNAT/MASQUERADE. */
  src: Uint32Array;
  rulesEvaluated: Uint32Array;
}

/** An engine that walks columns itself (the wasm engine, src/engine/wasm.ts); false: walk the batch with trace(). */
export interface ColumnarEngine {
  traceColumns(cols: PacketColumns, templates: ReadonlyMap<number, WalkPacket>, seed: number, out: ResultColumns): boolean;
}

export function allocResults(n: number): ResultColumns {
  return {
    verdict: new Uint8Array(n),
    masquerade: new Uint8Array(n),
    dst: new Uint32Array(4 * n),
    dport: new Uint16Array(n),
    src: new Uint32Array(4 * n),
    rulesEvaluated: new Uint32Array(n),
  };
}

const PROTO_NAME: Record<number, Query['protocol']> = { [PROTO.tcp]: 'tcp', [PROTO.udp]: 'udp', [PROTO.sctp]: 'sctp', [PROTO.icmp]: 'icmp', [PROTO.icmpv6]: 'icmp' };

function count(cols: PacketColumns): number {
  const n = cols.family.length;
  const fits =
    cols.protocol.length === n && cols.origin.length === n && cols.sport.length === n && cols.dport.length === n && cols.src.length === 4 * n && cols.dst.length === 4 * n;
  if (!fits) throw new QueryError('packets', 'every column needs one entry per packet (src and dst four words each)');
  return n;
}

/**
 * Validates every packet and makes one resolved packet per (origin, family, protocol) met, by
 * resolveQuery so every default is trace()'s; keyed as layout CT_INDEX (origin * 512 +
 * (family 6 ? 256 : 0) + protocol). Addresses and ports are the columns'.
 */
function templatesOf(node: NodeContext, cols: PacketColumns, n: number): Map<number, WalkPacket> {
  const seen = new Uint8Array(L.CT_KEYS);
  const made = new Map<number, WalkPacket>();
  for (let i = 0; i < n; i++) {
    const family = cols.family[i]!;
    const proto = cols.protocol[i]!;
    const oc = cols.origin[i]!;
    const key = oc * 512 + (family === 6 ? 256 : 0) + proto;
    if (oc <= 2 && (family === 4 || family === 6) && seen[key]) continue;
    const name = PROTO_NAME[proto];
    const origin = COLUMN_ORIGINS[oc];
    if (family !== 4 && family !== 6) throw new QueryError(`packets[${i}].family`, 'must be 4 or 6');
    if (!name || (name === 'icmp' && proto !== (family === 4 ? PROTO.icmp : PROTO.icmpv6))) {
      throw new QueryError(`packets[${i}].protocol`, 'must be 6 (tcp), 17 (udp), 132 (sctp), or 1 / 58 (icmp for IPv4 / IPv6)');
    }
    if (!origin) throw new QueryError(`packets[${i}].origin`, 'must be 0 (external), 1 (pod) or 2 (host)');
    const a = family === 4 ? '192.0.2.1' : '2001:db8::1';
    const q: Query = { protocol: name, destination: a, source: a, origin, ...(name === 'icmp' ? {} : { port: 1 }) };
    made.set(key, resolveQuery(q, node).pkt);
    seen[key] = 1;
  }
  return made;
}

/** Packet i of the columns as a packet object (for engines without a columnar walk). */
function packetAt(cols: PacketColumns, templates: Map<number, WalkPacket>, i: number): WalkPacket {
  const family = cols.family[i] as 4 | 6;
  const proto = cols.protocol[i]!;
  const t = templates.get(cols.origin[i]! * 512 + (family === 6 ? 256 : 0) + proto)!;
  const addr = (a: Uint32Array): Addr => ({ family, w: family === 4 ? [a[4 * i]!, 0, 0, 0] : [a[4 * i]!, a[4 * i + 1]!, a[4 * i + 2]!, a[4 * i + 3]!] });
  const ported = PROTO_NAME[proto] !== 'icmp';
  return { ...t, src: addr(cols.src), dst: addr(cols.dst), sport: ported ? cols.sport[i]! : 0, dport: ported ? cols.dport[i]! : 0 };
}

/** trace() for packets in columns; results in `out` (allocated when not given). */
export function traceColumns(node: NodeContext, engine: Engine, cols: PacketColumns, seed: number, out?: ResultColumns): ResultColumns {
  const n = count(cols);
  const res = out ?? allocResults(n);
  const fits = res.verdict.length >= n && res.masquerade.length >= n && res.dport.length >= n && res.rulesEvaluated.length >= n && res.dst.length >= 4 * n && res.src.length >= 4 * n;
  if (!fits) throw new RangeError(`traceColumns: the result columns hold fewer than ${n} packets`);
  const templates = templatesOf(node, cols, n); // validates every packet before any walking
  const columnar = engine as Engine & Partial<ColumnarEngine>;
  if (columnar.traceColumns && columnar.traceColumns(cols, templates, seed, res)) return res;
  // The reference engine, or a batch the wasm hands back: one packet object each.
  const pkts: WalkPacket[] = [];
  for (let i = 0; i < n; i++) pkts.push(packetAt(cols, templates, i));
  const recs: TraceRecord[] = engine.trace(pkts, seed >>> 0);
  recs.forEach((r, k) => {
    res.verdict[k] = COLUMN_VERDICTS.indexOf(r.verdict);
    res.masquerade[k] = r.masquerade ? 1 : 0;
    res.dport[k] = pkts[k]!.proto === PROTO.icmp || pkts[k]!.proto === PROTO.icmpv6 ? 0 : r.dport;
    res.rulesEvaluated[k] = r.rulesEvaluated;
    for (let w = 0; w < 4; w++) {
      res.dst[4 * k + w] = r.dst.w[w]! >>> 0;
      res.src[4 * k + w] = r.src.w[w]! >>> 0;
    }
  });
  return res;
}

/** Queries (each with its source; ports for tcp/udp/sctp) → columns. Throws QueryError. */
export function columnsOf(queries: readonly Query[]): PacketColumns {
  const n = queries.length;
  const cols: PacketColumns = {
    family: new Uint8Array(n),
    protocol: new Uint8Array(n),
    origin: new Uint8Array(n),
    src: new Uint32Array(4 * n),
    dst: new Uint32Array(4 * n),
    sport: new Uint16Array(n),
    dport: new Uint16Array(n),
  };
  queries.forEach((q, i) => {
    const dst = parseAddr(q.destination);
    const src = q.source === undefined ? null : parseAddr(q.source);
    if (!dst) throw new QueryError(`packets[${i}].destination`, 'must be an IPv4 or IPv6 address');
    if (!src || src.family !== dst.family) throw new QueryError(`packets[${i}].source`, 'columns need a source of the destination\'s family');
    cols.family[i] = dst.family;
    cols.protocol[i] = q.protocol === 'tcp' ? PROTO.tcp : q.protocol === 'udp' ? PROTO.udp : q.protocol === 'sctp' ? PROTO.sctp : dst.family === 4 ? PROTO.icmp : PROTO.icmpv6;
    cols.origin[i] = COLUMN_ORIGINS.indexOf(q.origin ?? 'external');
    cols.sport[i] = q.sourcePort ?? 40000;
    cols.dport[i] = q.port ?? 0;
    for (let k = 0; k < 4; k++) {
      cols.src[4 * i + k] = src.w[k]!;
      cols.dst[4 * i + k] = dst.w[k]!;
    }
  });
  return cols;
}

/** Result k as trace()'s TraceResult fields (endpoint and source formatted as trace() does). */
export function resultAt(res: ResultColumns, cols: PacketColumns, k: number): { verdict: Verdict; endpoint: string; masquerade: boolean; source: string; rulesEvaluated: number } {
  const family = cols.family[k] as 4 | 6;
  const addr = (a: Uint32Array): Addr => ({ family, w: [a[4 * k]!, a[4 * k + 1]!, a[4 * k + 2]!, a[4 * k + 3]!] });
  const icmp = cols.protocol[k] === PROTO.icmp || cols.protocol[k] === PROTO.icmpv6;
  return {
    verdict: COLUMN_VERDICTS[res.verdict[k]!]!,
    endpoint: formatEndpoint(addr(res.dst), icmp ? undefined : res.dport[k]),
    masquerade: res.masquerade[k] === 1,
    source: formatAddr(addr(res.src)),
    rulesEvaluated: res.rulesEvaluated[k]!,
  };
}
