// One walk of one packet (SEMANTICS.md): hooks per origin, chain traversal with jump/goto/return,
// targets, NAT, IPVS, and the decision points explain replays. A Walker is used once.

import type { Addr } from '../model/addr.js';
import { cidrContains, formatAddr, formatEndpoint } from '../model/addr.js';
import type { Match, NatRange, PortRange, Target } from '../model/rule.js';
import { CT } from '../model/rule.js';
import { WalkError } from '../model/errors.js';
import type { Iface } from '../model/ruleset.js';
import type { Verdict } from '../model/contracts.js';
import { findVirtualService, scheduleDetailed } from './ipvs-schedule.js';
import { evalMatch, type PacketView } from './matches.js';
import { addrKey, firstNodeAddress, formatIface, isLoopback, nodeLocality, podGatewayFor } from './packet.js';
import type { RuleIndex } from './reference-index.js';
import type { PlanEntry } from '../model/hooks.js';
import type { DecisionRecord, StepRef, WalkPacket, WalkRecord } from './types.js';
import { assumptionKey, conditionText, emptyKey, keyedReason, putAddr, UNKNOWN_WEIGHTS, type WalkAssumption } from './assume.js';
import * as L from '../compile/layout.js';
import { linkIndex, routeLookup, selectSource } from './routing.js';
import { ROUTE_FAIL, ROUTE_REJECT, routeFailNote } from '../compile/routing.js';


/** Batch state of a trace: one PRNG stream, nth counters per rule id, recent lists. */
export interface TraceState {
  rng: () => number;
  nth: Map<number, number>;
  recent: WalkPacket['recent'];
}

type Mode = { forced: ArrayLike<number> } | { trace: TraceState };

/** Jump stack frames before the walk gives up (the kernel's own limit is of this order). */
const MAX_DEPTH = 1024;
/** Rules evaluated in one walk before it gives up: a goto loop the parser missed must not hang. */
const MAX_STEPS = 10_000_000;
/** Largest NAT address range enumerated branch by branch. */
const MAX_NAT_BRANCHES = 256;
const TWO31 = 0x80000000;
const TWO32 = 0x100000000;
const LO: Iface = { name: 'lo', prefix: false };
/** Hooks by their HOOK_NAMES index. */
const PRE = 0;
const IN = 1;
const FWD = 2;
const OUT = 3;
const POST = 4;
/** hookPoint results. */
const GO = 0;
const END = 1;
const STOLEN = 2;
type HookResult = typeof GO | typeof END | typeof STOLEN;
const ONE: readonly number[] = [0];
const NONE: readonly number[] = [];

export class Walker implements PacketView {
  readonly rs;
  /** The packet as it stands (a copy of the entry packet that the walk changes). */
  readonly pkt: WalkPacket;
  ipvsService = -1;

  private readonly fi: 0 | 1;
  private readonly forced: ArrayLike<number> | null;
  private readonly traceState: TraceState | null;
  private readonly recentLists: WalkPacket['recent'];
  private verdict: Verdict = 'accept';
  private rejectWith: string | undefined;
  private masquerade = false;
  private leftOn: Iface | null = null;
  /** The last routing decision's nexthop (gateway or destination); null when the defaults decided. */
  private nexthop: Addr | null = null;
  /** gate/ipip IPVS forwarding: the packet keeps its destination, the real server is the endpoint. */
  private endpoint: { addr: Addr; port: number } | null = null;
  /** The hook being walked (HOOK_NAMES index). */
  private hook = -1;
  /** A NAT target ran in the base chain being walked. */
  private natSet = false;
  private steps = 0;
  private readonly path: StepRef[] = [];
  private readonly assumptions: WalkAssumption[] = [];
  /** This walk's unknown conditions: key → value. */
  private readonly vars = new Map<string, boolean>();
  /** The rule being evaluated (-1 outside rules: the routing decision). */
  private curRule = -1;
  private readonly decisions: DecisionRecord[] = [];
  private readonly notes: string[] = [];
  private rulesEvaluated = 0;

  constructor(
    private readonly ix: RuleIndex,
    /** The packet as it entered: the query's interfaces and conntrack's original tuple. */
    readonly orig: WalkPacket,
    mode: Mode,
  ) {
    this.rs = ix.rs;
    this.fi = orig.family === 4 ? 0 : 1;
    // The output interface is routing's to set (orig.outIface is the query's override).
    this.pkt = { ...orig, mark: orig.mark >>> 0, connmark: orig.connmark >>> 0, outIface: null };
    if ('trace' in mode) {
      this.forced = null;
      this.traceState = mode.trace;
      this.recentLists = mode.trace.recent;
    } else {
      this.forced = mode.forced;
      this.traceState = null;
      this.recentLists = orig.recent;
    }
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  run(): WalkRecord {
    if (this.pkt.origin === 'host') this.fromHost();
    else this.fromInterface();
    const ep = this.endpoint;
    const rec: WalkRecord = {
      verdict: this.verdict,
      dst: ep ? ep.addr : this.pkt.dst,
      dport: ep ? ep.port : this.pkt.dport,
      src: this.pkt.src,
      sport: this.pkt.sport,
      masquerade: this.masquerade,
      path: this.path,
      assumptions: this.assumptions,
      rulesEvaluated: this.rulesEvaluated,
      decisions: this.decisions,
      notes: this.notes,
    };
    if (this.rejectWith !== undefined) rec.rejectWith = this.rejectWith;
    if (this.leftOn) rec.outIface = formatIface(this.leftOn);
    return rec;
  }

  // ---- hooks per origin -------------------------------------------------------------------

  /** external / pod: arrives on an interface. */
  private fromInterface(): void {
    if (this.hookPoint(PRE, true, false) !== GO) return;
    if (this.local()) {
      const r = this.hookPoint(IN, true, true);
      if (r === STOLEN) {
        // IPVS sends the packet to the real server through LOCAL_OUT (not nat OUTPUT).
        this.pkt.inIface = null;
        if (!this.reroute()) return;
        if (this.hookPoint(OUT, false, false) !== GO) return;
        if (this.hookPoint(POST, true, false) !== GO) return;
        this.leave();
      }
      return; // delivered (or ended)
    }
    if (!this.reroute()) return;
    if (this.hookPoint(FWD, true, false) !== GO) return;
    if (this.hookPoint(POST, true, false) !== GO) return;
    this.leave();
  }

  /** host: generated on the node; comes back in on lo when it is addressed to the node. */
  private fromHost(): void {
    if (!this.reroute()) return;
    if (this.hookPoint(OUT, true, true) !== GO) return;
    if (this.hookPoint(POST, true, false) !== GO) return;
    if (!this.local()) {
      this.leave();
      return;
    }
    // Loops back: the connection's NAT is settled, so nat is not consulted on the way in.
    this.pkt.inIface = this.orig.inIface ?? LO;
    this.pkt.outIface = null;
    if (this.hookPoint(PRE, false, false) !== GO) return;
    this.hookPoint(IN, false, false);
  }

  private leave(): void {
    this.leftOn = this.pkt.outIface;
  }

  private isNew(): boolean {
    return (this.pkt.ctstate & CT.NEW) !== 0;
  }

  /** Routing is by the destination, or by the real server when IPVS gate/ipip kept the header's. */
  private local(): boolean {
    const rule = this.curRule;
    this.curRule = -1; // the routing decision, not a rule, asks
    const r = this.isLocal(this.endpoint ? this.endpoint.addr : this.pkt.dst);
    this.curRule = rule;
    return r;
  }

  /**
   * Node-local (SEMANTICS.md): what the input settles (packet.ts nodeLocality), else the packet's
   * own original source (a host packet's is the node's, a packet from outside carries a foreign
   * one: the kernel drops arrivals with a local source), else an unknown condition.
   */
  isLocal(a: Addr): boolean {
    const known = nodeLocality(this.rs.node, a);
    if (known !== null) return known;
    const o = this.orig.src;
    if (a.family === o.family && a.w[0] === o.w[0] && a.w[1] === o.w[1] && a.w[2] === o.w[2] && a.w[3] === o.w[3]) return this.pkt.origin === 'host';
    const key = emptyKey();
    putAddr(key, L.K_A, a);
    return this.unknown(L.A_LOCAL, '', null, key);
  }

  /** The value of an unknown condition in this walk (assume.ts): decided once, then reused. */
  unknown(kind: number, label: string, reason: string | null, key: number[]): boolean {
    const k = assumptionKey(kind, label, this.pkt.family, key);
    const condition = conditionText(kind, label, this.pkt.family, key, this.rs);
    const why = reason ?? keyedReason(kind, this.pkt.family, key, this.rs);
    const seen = this.vars.get(k);
    const order: [number, number] | undefined = kind === L.A_ORDER ? [key[L.K_PA], key[L.K_PB]] : undefined;
    if (seen !== undefined) {
      this.assumptions.push({ rule: this.curRule, kind, how: 'reused', holds: seen, key: k, condition, reason: why, ...(order ? { order } : {}) });
      return seen;
    }
    let holds: boolean;
    if (this.traceState) holds = this.traceState.rng() / TWO32 < 0.5;
    else holds = this.decide(UNKNOWN_WEIGHTS as number[]) === 0;
    this.vars.set(k, holds);
    this.assumptions.push({ rule: this.curRule, kind, how: 'decided', holds, key: k, condition, reason: why, ...(order ? { order } : {}) });
    return holds;
  }

  /** Something assumed without a decision (the walk goes on past it). */
  private assumeNote(rid: number, reason: string): void {
    const key = emptyKey();
    this.assumptions.push({ rule: rid, kind: L.A_NOTE, how: 'note', holds: true, key: assumptionKey(L.A_NOTE, reason, this.pkt.family, key), condition: reason, reason });
  }

  /**
   * The outgoing interface for the current destination (SEMANTICS.md "Output interface",
   * "Routing"): the node's own tables when given (null when they give no usable route: the walk
   * ended, verdict set), else the documented defaults.
   */
  private route(): Iface | null {
    this.nexthop = null;
    if (this.orig.outIface) return this.orig.outIface;
    const node = this.rs.node;
    if (this.local()) return LO;
    const dst = this.endpoint ? this.endpoint.addr : this.pkt.dst;
    const rt = node.routing;
    if (rt && rt.has.routes) {
      const res = routeLookup(rt, { family: this.pkt.family, dst, src: this.pkt.src, mark: this.pkt.mark, iif: this.pkt.inIface ? this.pkt.inIface.name : 'lo' });
      let fail: number = ROUTE_FAIL.none;
      if (res.kind === 'route') {
        const r = res.route;
        if (r.type === 'local' || r.type === 'broadcast' || r.type === 'anycast') return LO;
        if (r.type === 'blackhole') fail = ROUTE_FAIL.blackhole;
        else if (r.type === 'unreachable') fail = ROUTE_FAIL.unreachable;
        else if (r.type === 'prohibit') fail = ROUTE_FAIL.prohibit;
        else if (r.dev < 0) fail = ROUTE_FAIL.noDevice;
        else {
          this.nexthop = r.gateway ?? dst;
          return { name: rt.links[r.dev].name, prefix: false };
        }
      } else if (res.kind === 'action') {
        fail = res.action === 'blackhole' ? ROUTE_FAIL.blackhole : res.action === 'prohibit' ? ROUTE_FAIL.prohibit : ROUTE_FAIL.unreachable;
      }
      this.note(routeFailNote(fail, dst));
      if (fail === ROUTE_FAIL.blackhole) this.end('drop');
      else this.end('reject', (fail === ROUTE_FAIL.prohibit ? ROUTE_REJECT.prohibit : ROUTE_REJECT.unreachable)[this.pkt.family]);
      return null;
    }
    for (const c of node.podCIDRs) if (cidrContains(c, dst)) return node.pods;
    return node.uplink;
  }

  /** outIface := route(); false when routing ended the walk. */
  private reroute(): boolean {
    const o = this.route();
    if (!o) return false;
    this.pkt.outIface = o;
    return true;
  }

  private end(verdict: Verdict, rejectWith?: string): false {
    this.verdict = verdict;
    this.rejectWith = rejectWith;
    return false;
  }

  // ---- base chains on a hook -----------------------------------------------------------------

  /**
   * Walks every base chain of hook `h` for the packet's family in plan order (src/model/hooks.ts
   * hookPlan): nat chains only when `nat` and the packet is a connection's first, the IPVS stage
   * only when `ipvs`. Entries that run at one priority are ordered by decisions (orderTies).
   * GO: on to the next hook; END: a verdict ended the walk; STOLEN: IPVS sent the packet out.
   */
  private hookPoint(h: number, nat: boolean, ipvs: boolean): HookResult {
    const plan = this.ix.plans[this.fi][h];
    this.hook = h;
    const n = plan.length;
    let i = 0;
    while (i < n) {
      const at = plan[i].at;
      let j = i + 1;
      while (j < n && plan[j].at === at) j++;
      if (j === i + 1) {
        // one entry at this priority (the common case)
        const r = this.runEntry(h, plan, i, j, nat, ipvs);
        if (r !== GO) return r;
        i = j;
        continue;
      }
      // slots at this priority: each chain or IPVS entry, and the nat entries (last) as one group
      let k = i;
      while (k < j && plan[k].kind !== 'nat') k++;
      const slots: number[] = [];
      for (let e = i; e < k; e++) if (plan[e].kind === 'chain' || ipvs) slots.push(e);
      if (k < j && nat && this.isNew()) slots.push(k);
      const order = slots.length > 1 ? this.orderTies(slots.map((e) => plan[e].chain)) : slots.length === 1 ? ONE : NONE;
      for (const o of order) {
        const r = this.runEntry(h, plan, slots[o], j, nat, ipvs);
        if (r !== GO) return r;
      }
      i = j;
    }
    return GO;
  }

  /** Runs plan entry e (for a nat entry, its group up to `end`), when the hook walk includes it. */
  private runEntry(h: number, plan: readonly PlanEntry[], e: number, end: number, nat: boolean, ipvs: boolean): HookResult {
    const p = plan[e];
    if (p.kind === 'chain') return this.runChain(p.chain) ? GO : END;
    if (p.kind === 'ipvs') return ipvs ? this.ipvsStage(h) : GO;
    return nat ? this.natGroup(h, plan, e, end) : GO;
  }

  /** The nat chains plan[a..b) (one priority group): the first that sets up a mapping wins. */
  private natGroup(h: number, plan: readonly PlanEntry[], a: number, b: number): HookResult {
    if (!this.isNew()) return GO;
    let i = a;
    while (i < b) {
      let j = i + 1;
      while (j < b && plan[j].priority === plan[i].priority) j++;
      const order = j - i > 1 ? this.orderTies(plan.slice(i, j).map((p) => p.chain)) : ONE;
      for (const o of order) {
        this.natSet = false;
        if (!this.runChain(plan[i + o].chain)) return END;
        if (h === OUT && !this.reroute()) return END; // rerouted after a DNAT
        if (this.natSet) return GO;
      }
      i = j;
    }
    return GO;
  }

  /** IPVS where SEMANTICS.md puts it: LOCAL_IN steals a packet for a remote real server; LOCAL_OUT reroutes. */
  private ipvsStage(h: number): HookResult {
    const r = this.ipvs();
    if (r === 'stop') return END;
    if (r === 'scheduled') {
      if (h === IN && !this.local()) return STOLEN;
      if (!this.reroute()) return END;
    }
    return GO;
  }

  /**
   * Orders base chains (ids, -1 = IPVS) that run at one priority: their registration order is
   * unknown, so insertion in listing order asks "does the placed one run before this one?" once
   * per pair it needs (branch 0: yes). Every order comes out of exactly one set of answers.
   * Returns indices into `members` in run order.
   */
  private orderTies(members: number[]): readonly number[] {
    const placed = [0];
    for (let x = 1; x < members.length; x++) {
      let pos = placed.length;
      while (pos > 0) {
        const y = placed[pos - 1];
        const key = emptyKey();
        key[L.K_PA] = members[y];
        key[L.K_PB] = members[x];
        const rule = this.curRule;
        this.curRule = -1;
        const before = this.unknown(L.A_ORDER, '', null, key);
        this.curRule = rule;
        if (before) break;
        pos--;
      }
      placed.splice(pos, 0, x);
    }
    return placed;
  }

  // ---- chain traversal --------------------------------------------------------------------

  /** Walks one base chain; false when the walk ended (drop/reject). */
  private runChain(start: number): boolean {
    const { chainFirst, chainLen, target } = this.ix;
    const rules = this.rs.rules;
    const stack: number[] = []; // pairs: chain id, position to resume at
    let cid = start;
    let pos = 0;
    for (;;) {
      if (pos >= chainLen[cid]) {
        if (stack.length === 0) return this.policy(start);
        pos = stack.pop()!;
        cid = stack.pop()!;
        continue;
      }
      const rid = chainFirst[cid] + pos;
      this.rulesEvaluated += rules[rid].evalCost ?? 1;
      if (++this.steps > MAX_STEPS) throw new WalkError(`walk exceeded ${MAX_STEPS} rule evaluations (a chain loop?)`);
      if (!this.matchRule(rid)) {
        pos++;
        continue;
      }
      this.path.push({ kind: 'rule', rule: rid });
      const t = rules[rid].target;
      if (t === null) {
        pos++;
        continue;
      }
      switch (t.kind) {
        case 'ACCEPT':
          return true;
        case 'DROP':
          return this.end('drop');
        case 'REJECT':
          return this.end('reject', t.with);
        case 'RETURN':
          if (stack.length === 0) return this.policy(start);
          pos = stack.pop()!;
          cid = stack.pop()!;
          continue;
        case 'jump':
        case 'goto': {
          const next = target[rid];
          if (next < 0) {
            this.assumeNote(rid, `target chain ${t.chain} does not exist`);
            pos++;
            continue;
          }
          if (t.kind === 'jump') {
            if (stack.length >= 2 * MAX_DEPTH) throw new WalkError(`chain nesting deeper than ${MAX_DEPTH} (a chain loop?)`);
            stack.push(cid, pos + 1);
          }
          cid = next;
          pos = 0;
          continue;
        }
        case 'DNAT':
        case 'SNAT':
        case 'MASQUERADE':
        case 'REDIRECT':
          this.nat(rid, t);
          this.natSet = true;
          return true;
        case 'MARK':
          this.pkt.mark = ((this.pkt.mark & ~t.op.mask) ^ t.op.value) >>> 0;
          break;
        case 'CONNMARK':
          if (t.mode === 'set') this.pkt.connmark = ((this.pkt.connmark & ~t.op.mask) ^ t.op.value) >>> 0;
          else if (t.mode === 'save') this.pkt.connmark = ((this.pkt.connmark & ~t.ctmask) ^ (this.pkt.mark & t.nfmask)) >>> 0;
          else this.pkt.mark = ((this.pkt.mark & ~t.nfmask) ^ (this.pkt.connmark & t.ctmask)) >>> 0;
          break;
        case 'CT':
          if (t.notrack) this.pkt.ctstate = CT.UNTRACKED;
          break;
        case 'noop':
          break;
        case 'unknownTarget':
          this.assumeNote(rid, `target ${t.name} not modelled; assumed to continue`);
          break;
      }
      pos++;
    }
  }

  /** A built-in chain's end: its policy (a path step when the chain had rules or drops). */
  private policy(cid: number): boolean {
    const c = this.rs.chains[cid].chain;
    const pol = c.policy ?? 'ACCEPT';
    if (c.rules.length > 0 || pol === 'DROP') this.path.push({ kind: 'policy', chain: cid });
    return pol === 'DROP' ? this.end('drop') : true;
  }

  // ---- matches and decisions ----------------------------------------------------------------

  private matchRule(rid: number): boolean {
    this.curRule = rid;
    const line = this.rs.rules[rid].line;
    for (const m of this.ix.matches[rid]) {
      let ok: boolean;
      switch (m.kind) {
        case 'random':
          ok = this.statistic(m);
          break;
        case 'nth':
          ok = this.nth(rid, m);
          break;
        case 'recent':
          ok = this.recent(m);
          break;
        default:
          ok = evalMatch(this, m, line);
      }
      if (!ok) return false;
    }
    return true;
  }

  /**
   * A decision point. It exists only when at least two branches can happen; trace draws one
   * u32 per decision point, explain replays `forced`.
   */
  private decide(probs: number[]): number {
    const ts = this.traceState;
    if (ts) {
      const u = ts.rng() / TWO32;
      let acc = 0;
      let last = 0;
      for (let b = 0; b < probs.length; b++) {
        if (probs[b] <= 0) continue;
        last = b;
        acc += probs[b];
        if (u < acc) return b;
      }
      return last;
    }
    const i = this.decisions.length;
    const forced = this.forced!;
    const b = i < forced.length ? forced[i] : 0;
    if (!(b >= 0 && b < probs.length)) throw new WalkError(`decision ${i}: branch ${b} out of range`);
    this.decisions.push({ probs, taken: b });
    return b;
  }

  private statistic(m: Extract<Match, { kind: 'random' }>): boolean {
    let hit: boolean;
    if (this.traceState) {
      hit = (this.traceState.rng() & 0x7fffffff) < m.threshold; // the kernel's comparison, drawn every time
    } else if (m.threshold <= 0) hit = false;
    else if (m.threshold >= TWO31) hit = true;
    else {
      const p = m.threshold / TWO31;
      hit = this.decide([p, 1 - p]) === 0;
    }
    return hit !== m.invert;
  }

  private nth(rid: number, m: Extract<Match, { kind: 'nth' }>): boolean {
    let hit: boolean;
    const ts = this.traceState;
    if (ts) {
      const c = ts.nth.get(rid) ?? 0;
      hit = c === m.packet;
      ts.nth.set(rid, (c + 1) % m.every);
    } else if (m.every <= 1) hit = true;
    else hit = this.decide([1 / m.every, 1 - 1 / m.every]) === 0;
    return hit !== m.invert;
  }

  private recent(m: Extract<Match, { kind: 'recent' }>): boolean {
    let a = m.side === 'src' ? this.pkt.src : this.pkt.dst;
    if (m.mask) {
      const k = m.mask.w;
      a = { family: a.family, w: [(a.w[0] & k[0]) >>> 0, (a.w[1] & k[1]) >>> 0, (a.w[2] & k[2]) >>> 0, (a.w[3] & k[3]) >>> 0] };
    }
    const key = addrKey(a);
    const list = this.recentLists.get(m.name);
    const e = list?.get(key);
    let hit: boolean;
    if (m.op === 'set') hit = true;
    else if (m.op === 'remove') hit = e !== undefined;
    else hit = e !== undefined && (m.seconds === undefined || e.secondsAgo <= m.seconds) && (m.hitcount === undefined || e.hits >= m.hitcount);
    if (this.traceState) {
      // Later packets of the batch see what this one recorded.
      if (m.op === 'set' || (m.op === 'update' && hit)) {
        let l = list;
        if (!l) this.recentLists.set(m.name, (l = new Map()));
        l.set(key, { secondsAgo: 0, hits: (e?.hits ?? 0) + 1 });
      } else if (m.op === 'remove' && hit) list!.delete(key);
    }
    return hit !== m.invert;
  }

  // ---- NAT and IPVS ---------------------------------------------------------------------------

  private nat(rid: number, t: Extract<Target, { kind: 'DNAT' | 'SNAT' | 'MASQUERADE' | 'REDIRECT' }>): void {
    switch (t.kind) {
      case 'DNAT': {
        const r = this.firstRange(t.ranges);
        if (r.lo) this.pkt.dst = this.pickAddress(rid, r.lo, r.hi ?? r.lo);
        if (r.ports) this.pkt.dport = this.pickPort(this.pkt.dport, r.ports, 'DNAT');
        this.pkt.ctstate |= CT.DNAT;
        return;
      }
      case 'SNAT': {
        const r = this.firstRange(t.ranges);
        if (r.lo) this.pkt.src = this.pickAddress(rid, r.lo, r.hi ?? r.lo);
        if (r.ports) this.pkt.sport = this.pickPort(this.pkt.sport, r.ports, 'SNAT');
        this.masquerade = true;
        this.pkt.ctstate |= CT.SNAT;
        return;
      }
      case 'MASQUERADE': {
        const a = this.masqueradeSource();
        if (a) this.pkt.src = a;
        else this.note(`MASQUERADE: no IPv${this.pkt.family} node address given, so the source is left as ${formatAddr(this.pkt.src)}`);
        if (t.ports) this.pkt.sport = this.pickPort(this.pkt.sport, t.ports, 'MASQUERADE');
        this.masquerade = true;
        this.pkt.ctstate |= CT.SNAT;
        return;
      }
      case 'REDIRECT': {
        const a = this.hook === OUT ? this.loopback() : firstNodeAddress(this.rs.node, this.pkt.family);
        if (a) this.pkt.dst = a;
        else this.note(`REDIRECT: no IPv${this.pkt.family} node address given, so the destination is left as ${formatAddr(this.pkt.dst)}`);
        if (t.ports) this.pkt.dport = this.pickPort(this.pkt.dport, t.ports, 'REDIRECT');
        this.pkt.ctstate |= CT.DNAT;
        return;
      }
    }
  }

  /** MASQUERADE's source address; none when the input gives no node address of the family. */
  private masqueradeSource(): Addr | null | undefined {
    // With the node's interfaces known: the kernel's inet_select_addr on the outgoing one.
    const rt = this.rs.node.routing;
    const routeDst = this.endpoint ? this.endpoint.addr : this.pkt.dst;
    const out = this.pkt.outIface;
    const dev = rt && rt.has.addrs && out && !out.prefix && !isLoopback(this.pkt.dst) ? linkIndex(rt, out.name) : -1;
    if (rt && dev >= 0) return selectSource(rt, dev, this.nexthop ?? routeDst);
    // Otherwise (SEMANTICS.md): the pod gateway on an exact-name pods interface.
    const pods = this.rs.node.pods;
    const onPods = !!out && !out.prefix && !pods.prefix && out.name === pods.name;
    const gw = onPods ? podGatewayFor(this.rs.node, routeDst) : undefined;
    return gw ?? (isLoopback(this.pkt.dst) ? this.loopback() : firstNodeAddress(this.rs.node, this.pkt.family));
  }

  private loopback(): Addr {
    return this.pkt.family === 4 ? { family: 4, w: [0x7f000001, 0, 0, 0] } : { family: 6, w: [0, 0, 0, 1] };
  }

  private firstRange(ranges: NatRange[]): NatRange {
    if (ranges.length > 1) this.note('NAT with several --to ranges: only the first is used (as kernels since 2.6.11 do)');
    return ranges[0] ?? {};
  }

  /** An address from an inclusive range: one equal branch per address (lowest first). */
  private pickAddress(rid: number, lo: Addr, hi: Addr): Addr {
    const n = addrToBig(hi) - addrToBig(lo) + 1n;
    if (n <= 1n) return lo;
    if (n > BigInt(MAX_NAT_BRANCHES)) {
      this.assumeNote(rid, `NAT range of ${n} addresses: only the first is followed`);
      return lo;
    }
    const k = Number(n);
    const b = this.decide(new Array<number>(k).fill(1 / k));
    return bigToAddr(lo.family, addrToBig(lo) + BigInt(b));
  }

  private pickPort(port: number, r: PortRange, what: string): number {
    if (r.lo === r.hi || (port >= r.lo && port <= r.hi)) return r.lo === r.hi ? r.lo : port;
    this.note(`${what} port range ${r.lo}-${r.hi}: port ${port} is outside it, ${r.lo} assumed`);
    return r.lo;
  }

  /** IPVS scheduling where SEMANTICS.md puts it: 'none' (no virtual service), 'scheduled' or 'stop' (rejected). */
  private ipvs(): 'none' | 'scheduled' | 'stop' {
    const st = this.rs.ipvs;
    if (!st || st.services.length === 0) return 'none';
    const svc = findVirtualService(st, this.pkt);
    if (svc < 0) return 'none';
    this.ipvsService = svc;
    const vs = st.services[svc];
    const sched = scheduleDetailed(st, svc, this.pkt);
    for (const n of sched.notes) this.note(`IPVS ${vs.text}: ${n}`);
    const branches = sched.branches.filter((b) => b.prob > 0);
    if (branches.length === 0) {
      this.path.push({ kind: 'ipvs', service: svc, real: -1 });
      this.end('reject', 'icmp-port-unreachable');
      return 'stop';
    }
    let pick = branches[0];
    if (branches.length > 1) {
      const total = branches.reduce((s, b) => s + b.prob, 0);
      pick = branches[this.decide(branches.map((b) => b.prob / total))];
    }
    const real = vs.reals[pick.real];
    this.path.push({ kind: 'ipvs', service: svc, real: pick.real });
    if (real.forward === 'masq') {
      this.pkt.dst = real.addr;
      if (real.port !== 0) this.pkt.dport = real.port;
      this.pkt.ctstate |= CT.DNAT;
    } else {
      this.endpoint = { addr: real.addr, port: real.port !== 0 ? real.port : this.pkt.dport };
      this.note(`IPVS ${real.forward} forwarding: the packet keeps destination ${formatAddr(this.pkt.dst)} and is sent to real server ${formatEndpoint(real.addr, this.endpoint.port)}`);
    }
    return 'scheduled';
  }

}

function addrToBig(a: Addr): bigint {
  if (a.family === 4) return BigInt(a.w[0]);
  return (BigInt(a.w[0]) << 96n) | (BigInt(a.w[1]) << 64n) | (BigInt(a.w[2]) << 32n) | BigInt(a.w[3]);
}

function bigToAddr(family: 4 | 6, v: bigint): Addr {
  if (family === 4) return { family, w: [Number(v & 0xffffffffn), 0, 0, 0] };
  const w = (s: bigint): number => Number((v >> s) & 0xffffffffn);
  return { family, w: [w(96n), w(64n), w(32n), w(0n)] };
}
