// Queries, node context and answers: the JSON shapes of DESIGN.md's contracts (library, HTTP, CLI).

export type Protocol = 'tcp' | 'udp' | 'sctp' | 'icmp';
export type Origin = 'external' | 'pod' | 'host';
export type Verdict = 'accept' | 'drop' | 'reject';

/** Node context as given by a user (strings; validated at the edge). */
export interface NodeInput {
  /** Node-local addresses: addrtype LOCAL and the INPUT/FORWARD decision (127.0.0.0/8 and ::1 always). */
  addresses?: string[];
  podCIDRs?: string[];
  interfaces?: { uplink?: string; pods?: string };
  /** `ip -j addr` output: the node's addresses per interface. */
  ipAddr?: string;
  /** `ip -j -4 route show table all` and `ip -j -6 route show table all` (one or more JSON arrays). */
  ipRoute?: string;
  /** `ip -j -4 rule` and `ip -j -6 rule` (one or more JSON arrays). */
  ipRule?: string;
}

/** An earlier connection, for `recent --rcheck/--update` (session affinity). */
export interface RecentEntry {
  /** recent list name, e.g. KUBE-SEP-XXXX. */
  name: string;
  /** The address recorded (the client for --rsource). */
  address: string;
  /** Seconds since it was last seen (default 0). */
  secondsAgo?: number;
  /** How many hits the entry has (default 1). */
  hits?: number;
}

export interface Query {
  protocol: Protocol;
  destination: string;
  port?: number;
  source?: string;
  sourcePort?: number;
  origin?: Origin;
  inInterface?: string;
  outInterface?: string;
  /** Packet mark on entry (default 0). */
  mark?: number;
  /** Connection mark on entry (default 0). */
  connmark?: number;
  /** Conntrack state of the packet (default "NEW"; nat tables are only walked for NEW). */
  state?: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
  /** ICMP type/code for protocol icmp (default echo-request 8/0, or 128/0 for IPv6). */
  icmpType?: number;
  icmpCode?: number;
  /** Earlier connections recorded by `recent` (session affinity). */
  recent?: RecentEntry[];
  /** Active connections per real server ("ip:port"), for the IPVS lc/wlc/sed/nq schedulers. */
  activeConnections?: Record<string, number>;
}

/** The query as landfall resolved it: every default filled in, echoed in the answer. */
export interface ResolvedQuery {
  protocol: Protocol;
  family: 4 | 6;
  destination: string;
  port?: number;
  source: string;
  sourcePort?: number;
  origin: Origin;
  inInterface: string | null;
  outInterface: string | null;
  mark: number;
  connmark: number;
  state: string;
  icmpType?: number;
  icmpCode?: number;
}

export interface PathStep {
  table: string;
  chain: string;
  /** 1-based rule position in its chain (absent for policy and IPVS steps). */
  index?: number;
  line: number;
  rule: string;
  /** Set on a built-in chain's policy step. */
  policy?: string;
  /** Set on the IPVS scheduling step. */
  ipvs?: string;
}

/** An unknown condition an outcome depends on, and the value it assumes. */
export interface Assumption {
  /** Line of the rule that tests it (0: the routing decision). */
  line: number;
  condition: string;
  holds: boolean;
}

export interface Outcome {
  probability: number;
  verdict: Verdict;
  /** Destination after DNAT ("ip:port", "[ip6]:port"); the original when nothing rewrote it. */
  endpoint: string;
  /** True when SNAT or MASQUERADE applied. */
  masquerade: boolean;
  /** Source address after SNAT/MASQUERADE (the original when none applied). */
  source: string;
  /** The rules the packet matched, in order. */
  path: PathStep[];
  /** The unknown conditions this outcome depends on; `probability` is given these. */
  assumes: Assumption[];
  /** Rules the kernel would walk (evaluate) for this packet along this outcome. */
  rulesEvaluated: number;
  /** REJECT's --reject-with, when the verdict is reject. */
  rejectWith?: string;
  /** Outgoing interface when the packet leaves the node. */
  outInterface?: string;
  /** Notes specific to this outcome (e.g. IPVS persistence, gatewaying). */
  notes?: string[];
}

export interface UncertainRule {
  line: number;
  table: string;
  chain: string;
  rule: string;
  reason: string;
}

export interface ExplainResult {
  query: ResolvedQuery;
  outcomes: Outcome[];
  uncertain: UncertainRule[];
  warnings: string[];
}

export interface TraceResult {
  verdict: Verdict;
  endpoint: string;
  masquerade: boolean;
  source: string;
  rulesEvaluated: number;
  /** Unknown conditions drawn for this packet (only when any). */
  assumes?: Assumption[];
}
