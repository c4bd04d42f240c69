// The contract between the explain/trace drivers and the two engines (reference TS walk and WASM).
//
// An engine performs ONE deterministic walk of one packet through every hook, given the branch to
// take at each decision point it meets. explain.ts enumerates all walks by replay (depth-first,
// branch 0 first) and merges equal outcomes, so both engines get identical enumeration, merging
// and JSON for free; the engines only have to agree walk for walk (the differential tests check
// exactly this, record for record).
//
// Decision points, in walk order, each with its branch probabilities (branch 0 first):
//  - statistic --mode random:   [p, 1-p] with p = threshold / 2^31 (branch 0 = "matches")
//  - statistic --mode nth:      [1/every, 1-1/every] in explain (trace keeps a real counter per rule)
//  - an unknown condition, the first time a walk meets its key (assume.ts): weights [1, 1]
//    (branch 0 = "holds"); both values are enumerated and neither weighs on the probability.
//    Later meetings of the same key in the walk reuse the value: no decision.
//  - a NAT address range of n addresses: n equal branches (lowest address first)
//  - IPVS scheduling:           one branch per real server that can be chosen, in ipvsadm order
//  - two base chains at one hook and priority: [0.5, 0.5] (branch 0 = the earlier-listed runs first)
// Branches of probability 0 are never taken (explain skips them; trace cannot draw them).

import type { Addr } from '../model/addr.js';
import type { Origin, Verdict } from '../model/contracts.js';
import type { Iface } from '../model/ruleset.js';
import type { WalkAssumption } from './assume.js';

/**
 * The one packet shape. The query fully resolved (all defaults applied by src/engine/packet.ts);
 * the reference walk keeps a copy of it that NAT, MARK, CONNMARK, CT and routing change as the
 * packet goes (matches.ts PacketView.pkt). Narrower users take a Pick of it (ipset-match.ts
 * SetPacket, ipvs-schedule.ts).
 */
export interface WalkPacket {
  family: 4 | 6;
  /** IP protocol number (6 tcp, 17 udp, 132 sctp, 1 icmp, 58 icmpv6). */
  proto: number;
  src: Addr;
  dst: Addr;
  /** 0 for protocols without ports. */
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  origin: Origin;
  /** Input interface (null for host-originated packets). */
  inIface: Iface | null;
  /**
   * Output interface: in the query, an override (null: decided by routing); mid-walk, the one
   * routing chose (null where the hook has none: PREROUTING, INPUT).
   */
  outIface: Iface | null;
  mark: number;
  connmark: number;
  /** CT.* bits of the packet (NEW for a first packet on entry). */
  ctstate: number;
  /** recent lists: `${name}` → entries (address words joined by ',' → {secondsAgo, hits}). */
  recent: Map<string, Map<string, { secondsAgo: number; hits: number }>>;
  /** IPVS lc/wlc/sed/nq input: active connections per real server "ip:port". */
  activeConnections: Map<string, number>;
}

/** A step of a walk, by flat id (src/model/ruleset.ts numbering). */
export type StepRef =
  | { kind: 'rule'; rule: number }
  | { kind: 'policy'; chain: number }
  | { kind: 'ipvs'; service: number; real: number };

export interface DecisionRecord {
  /** Branch probabilities at this point (sum 1). */
  probs: number[];
  /** Branch this walk took. */
  taken: number;
}

export type { WalkAssumption } from './assume.js';

/** What one walk produced. */
export interface WalkRecord {
  verdict: Verdict;
  rejectWith?: string;
  /** Final destination (after DNAT / IPVS) and source (after SNAT/MASQUERADE). */
  dst: Addr;
  dport: number;
  src: Addr;
  sport: number;
  masquerade: boolean;
  /** Interface the packet leaves on (absent when it was dropped/rejected or delivered locally). */
  outIface?: string;
  path: StepRef[];
  /** Unknown conditions met, in walk order (decided, reused, and notes). */
  assumptions: WalkAssumption[];
  rulesEvaluated: number;
  decisions: DecisionRecord[];
  notes: string[];
}

export interface TraceRecord {
  verdict: Verdict;
  dst: Addr;
  dport: number;
  src: Addr;
  masquerade: boolean;
  rulesEvaluated: number;
  /** The unknown conditions drawn for this packet (first meetings only), in walk order. */
  assumptions: WalkAssumption[];
}

export interface Engine {
  readonly name: 'reference' | 'wasm';
  /**
   * One walk; forced[i] is the branch to take at the i-th decision point (branch 0 past the end).
   * Packets and records are values: a caller never changes a packet object it has walked (the
   * wasm engine writes a replayed packet once), nor a record (records may share parts).
   */
  walk(pkt: WalkPacket, forced: ArrayLike<number>): WalkRecord;
  /**
   * Sampled walks of many packets with one PRNG stream (mulberry32 seeded with `seed`), and
   * nth counters / recent lists that persist across the batch, in order.
   */
  trace(pkts: WalkPacket[], seed: number): TraceRecord[];
}

/** The PRNG both engines use in trace (model/random.ts). */
export { mulberry32 } from '../model/random.js';
