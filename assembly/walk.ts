// One walk of one packet through the node's hooks: the AssemblyScript twin of
// src/engine/reference-walk.ts (SEMANTICS.md). Chain traversal uses an explicit frame stack in
// STACK_BYTES; runs of destination-keyed rules are crossed by hash lookup (src/compile/runs.ts)
// while rulesEvaluated still counts every rule the kernel would have looked at.

import * as L from '../src/compile/layout';
import { ld, rw, rsAddr } from './mem';
import * as S from './state';
import { drawRandom, HOST, MATCH, matchRule } from './match';
import { IPVS_NONE, IPVS_STOP, ipvsStage, rejectReason } from './ipvs';
import { firstNodeAddress, isLoopback, onPodsExact, podGateway, isLocal, LO_IFACE, loopbackAddr, podsIface, route, routeFailCode } from './node';
import { hasAddrs, linkIface, linkOf, rejectId, selectSource } from './routing';
import { assumeNote, clearKey, keyPut, unknown } from './assume';

import { CT_DNAT, CT_NEW, CT_SNAT, CT_UNTRACKED } from '../src/model/kernel-bits';

// walk outcome
let verdict: i32 = L.VERDICT_ACCEPT;
let rejectWith: i32 = -1;
let leftOn: usize = 0;
/** Input-region address of the packet being walked. */
let pkt: usize = 0;
/** The hook being walked: REDIRECT needs to know it is in OUTPUT. */
let curHook: i32 = 0;
/** A NAT target ran in the base chain being walked (the first nat chain that maps wins). */
let natSet: bool = false;
/** Rules visited in this walk (the loop guard; rulesEval may grow by 0 per rule). */
let steps: i32 = 0;

// ruleset section offsets, read once per call by load()
let chains: i32 = 0;
let hooks: i32 = 0;
let flags: i32 = 0;
/** evalCost prefix sums (layout H_COSTS), 0 when every rule costs 1. */
let costs: i32 = 0;

/** Validates the ruleset header and caches section offsets; false when it is not a ruleset. */
export function loadRuleset(): bool {
  if (rw(L.H_MAGIC) != L.MAGIC || rw(L.H_VERSION) != L.LAYOUT_VERSION) return false;
  chains = rw(L.H_CHAINS);
  hooks = rw(L.H_HOOKS);
  flags = rw(L.H_FLAGS);
  costs = rw(L.H_COSTS);
  return true;
}

// ---- results of the walk ----

export function outVerdict(): i32 { return verdict; }
export function outRejectWith(): i32 { return rejectWith; }

/** The link index the packet left on (OIF_LINK). */
export function outLinkIndex(): i32 {
  return leftOn == 0 ? -1 : linkOf(leftOn);
}

/** OIF_* code of the interface the packet left on. */
export function outIfaceCode(): i32 {
  if (leftOn == 0) return L.OIF_NONE;
  if (leftOn == LO_IFACE) return L.OIF_LO;
  if (leftOn == pkt + (<usize>L.P_OUT_IFACE << 2)) return L.OIF_QUERY;
  const li = linkOf(leftOn);
  if (li >= 0 && leftOn == linkIface(li)) return L.OIF_LINK;
  if (leftOn == podsIface()) return L.OIF_PODS;
  return L.OIF_UPLINK;
}

// ---- chain traversal ----

@inline function end(v: i32, rw_: i32): bool {
  verdict = v;
  rejectWith = rw_;
  return false;
}

/** A built-in chain's end (its region at `region`): its policy (a path step when the chain has rules or drops). */
function policy(region: i32): bool {
  const pol = rw(region + L.C_POLICY);
  if (rw(region + L.C_COUNT) > 0 || pol == L.POLICY_DROP) S.pushStep(L.STEP_POLICY, rw(region + L.C_ID));
  return pol == L.POLICY_DROP ? end(L.VERDICT_DROP, -1) : true;
}

/** src/compile/runs.ts hashKey, the same bits. */
function hashKey(k0: u32, k1: u32, k2: u32, k3: u32): i32 {
  let h: u32 = (k0 ^ 0x9e3779b9) * 0x85ebca6b;
  h = (h ^ k1 ^ (h >>> 13)) * 0xc2b2ae35;
  h = (h ^ k2 ^ (h >>> 16)) * 0x85ebca6b;
  h = (h ^ k3 ^ (h >>> 13)) * 0xc2b2ae35;
  return <i32>(h ^ (h >>> 16));
}

const STACK: usize = L.STACK_BYTES;

/** Rules the kernel evaluates for rule ids [a, b) (evalCost sums). */
@inline function costOf(a: i32, b: i32): i32 {
  return costs == 0 ? b - a : rw(costs + b) - rw(costs + a);
}

// The walk's place in a chain: the record of rule `rid` at `rec`; the chain's rules end at `endRid`.
let rec: i32 = 0;
let rid: i32 = 0;
let endRid: i32 = 0;

/** Enters the chain whose region is at `region` (its first rule). */
@inline function enter(region: i32): void {
  rid = rw(region + L.C_FIRST);
  endRid = rid + rw(region + L.C_COUNT);
  rec = region + L.CHAIN_WORDS;
}

/**
 * Moves past rule `rid` (walked, not matched or returned to): to the next record, or in an
 * index run to the next rule with the packet's key (or the run's end), counting the rules the
 * kernel would evaluate (and reject on the destination) in between.
 */
@inline function advance(meta: i32): void {
  if ((meta & L.RF_RUN) != 0) {
    const next = rw(rec + L.R_NEXTID);
    S.countRules(costOf(rid + 1, next));
    rec = rw(rec + L.R_NEXT);
    rid = next;
  } else {
    rec += rw(rec + L.R_SIZE);
    rid++;
  }
}

/**
 * Hash lookup of the packet's destination (address or port) in the run starting at `rec`: moves
 * to the first candidate rule (true) or to the rule one past the run (false).
 */
function runLookup(): bool {
  const run = rw(rec + L.R_RUN);
  const hash = rw(run + L.RU_HASH);
  const mask = rw(run + L.RU_MASK);
  const byPort = rw(run + L.RU_KIND) == L.KEY_DPORT;
  const k0 = byPort ? S.dport : load<i32>(S.DST);
  const k1 = byPort ? 0 : load<i32>(S.DST, 4);
  const k2 = byPort ? 0 : load<i32>(S.DST, 8);
  const k3 = byPort ? 0 : load<i32>(S.DST, 12);
  let s = hashKey(<u32>k0, <u32>k1, <u32>k2, <u32>k3) & mask;
  let r = 0;
  if (rw(run + L.RU_SLOTW) == L.SLOT_COMPACT) {
    // every key's words 1..3 are 0: a packet whose aren't has no candidate
    if ((k1 | k2 | k3) == 0) {
      for (;;) {
        const slot = hash + s * L.SLOT_COMPACT;
        r = rw(slot + L.SC_REC);
        if (r == 0 || rw(slot) == k0) break;
        s = (s + 1) & mask;
      }
    }
  } else {
    for (;;) {
      const slot = hash + s * L.SLOT_WORDS;
      r = rw(slot + L.SL_REC);
      if (r == 0 || (rw(slot) == k0 && rw(slot + 1) == k1 && rw(slot + 2) == k2 && rw(slot + 3) == k3)) break;
      s = (s + 1) & mask;
    }
  }
  if (r != 0) {
    const first = rw(r + L.R_ID);
    S.countRules(costOf(rid, first));
    rid = first;
    rec = r;
    return true;
  }
  const e = rw(run + L.RU_END);
  S.countRules(costOf(rid, e));
  rid = e;
  rec = rw(run + L.RU_ENDREC);
  return false;
}

/**
 * Walks one base chain. true: go on to the next base chain; false: the walk ended (verdict set)
 * or failed (status set).
 */
function runChain(start: i32): bool {
  if (S.status != L.ST_OK) return false;
  let depth = 0;
  const region0 = rw(chains + start);
  enter(region0);
  for (;;) {
    if (rid >= endRid) {
      if (depth == 0) return policy(region0);
      // back in the calling chain: past the rule that jumped
      depth--;
      const f = STACK + (<usize>depth << 4);
      rec = load<i32>(f);
      rid = load<i32>(f, 4);
      endRid = load<i32>(f, 8);
      advance(rw(rec + L.R_META));
      continue;
    }
    let meta = rw(rec + L.R_META);
    if ((meta & L.RF_CASCADE) != 0 && !S.recording) {
      // Sampled walk through a random cascade: the same draws, counts and loop guard as
      // evaluating each rule, with the thresholds read at a fixed stride (runs.ts buildCascades).
      const stop = rid + rw(rec + L.RULE_WORDS + L.RANDOM_OP_WORDS);
      let hit = false;
      for (;;) {
        S.countRules(costOf(rid, rid + 1));
        if (++steps > L.MAX_STEPS) {
          S.setStatus(L.ST_LOOP);
          return false;
        }
        if (drawRandom(<u32>rw(rec + L.RULE_WORDS + 1))) {
          hit = true;
          break;
        }
        if (rid + 1 == stop) break;
        rid++;
        rec += L.CASCADE_WORDS;
      }
      if (!hit) {
        rec += rw(rec + L.R_SIZE);
        rid++;
        continue;
      }
      meta = rw(rec + L.R_META);
    } else {
      // The first rule of an index run: straight to the first rule with the packet's key. Every
      // rule of the run before it is one the kernel would evaluate (and reject on its destination) too.
      if ((meta & L.RF_START) != 0) {
        if (!runLookup()) continue;
        meta = rw(rec + L.R_META);
      }
      S.countRules(costOf(rid, rid + 1));
      if (++steps > L.MAX_STEPS) {
        S.setStatus(L.ST_LOOP);
        return false;
      }
      const ops = rec + ((meta & L.RF_RUN) != 0 ? L.RUN_RULE_WORDS : L.RULE_WORDS);
      const m = matchRule(rid, ops, meta & L.RN_NOPS_MASK, L.STATE_BYTES);
      if (S.status != L.ST_OK) return false;
      if (m != MATCH) {
        if (m == HOST) {
          S.setStatus(L.ST_HOST);
          return false;
        }
        advance(meta);
        continue;
      }
    }
    S.pushStep(L.STEP_RULE, rid);
    const tk = (meta >>> L.RN_TK_SHIFT) & 0xff;
    const targ = rw(rec + L.R_TARG);
    switch (tk) {
      case L.T_NONE:
      case L.T_NOOP:
        break;
      case L.T_ACCEPT:
        return true;
      case L.T_DROP:
        return end(L.VERDICT_DROP, -1);
      case L.T_REJECT:
        return end(L.VERDICT_REJECT, targ);
      case L.T_RETURN:
        endRid = rid; // as the chain's end: its policy at depth 0, else back to the caller
        continue;
      case L.T_JUMP:
      case L.T_GOTO:
        if (tk == L.T_JUMP) {
          if (depth >= L.MAX_DEPTH) {
            S.setStatus(L.ST_DEPTH);
            return false;
          }
          const f = STACK + (<usize>depth << 4);
          store<i32>(f, rec);
          store<i32>(f, rid, 4);
          store<i32>(f, endRid, 8);
          depth++;
        }
        enter(targ);
        continue;
      case L.T_MISSING_CHAIN:
        assumeNote(rid, targ);
        break;
      case L.T_DNAT:
      case L.T_SNAT:
      case L.T_MASQUERADE:
      case L.T_REDIRECT:
        nat(rid, tk, targ);
        natSet = true;
        return S.status == L.ST_OK;
      case L.T_MARK:
        S.setMark((S.mark & ~<u32>rw(targ + 1)) ^ <u32>rw(targ));
        break;
      case L.T_CONNMARK_SET:
        S.setConnmark((S.connmark & ~<u32>rw(targ + 1)) ^ <u32>rw(targ));
        break;
      case L.T_CONNMARK_SAVE: // targ: nfmask, ctmask
        S.setConnmark((S.connmark & ~<u32>rw(targ + 1)) ^ (S.mark & <u32>rw(targ)));
        break;
      case L.T_CONNMARK_RESTORE:
        S.setMark((S.mark & ~<u32>rw(targ)) ^ (S.connmark & <u32>rw(targ + 1)));
        break;
      case L.T_NOTRACK:
        S.setCtstate(CT_UNTRACKED);
        break;
      case L.T_UNKNOWN:
        assumeNote(rid, targ);
        break;
      default:
        S.setStatus(L.ST_BAD_RULESET);
        return false;
    }
    advance(meta);
  }
  return unreachable();
}

// ---- NAT ----

function copy4(dst: usize, src: usize): void {
  store<i32>(dst, load<i32>(src));
  store<i32>(dst, load<i32>(src, 4), 4);
  store<i32>(dst, load<i32>(src, 8), 8);
  store<i32>(dst, load<i32>(src, 12), 12);
}

/** An address from the block's range into `into`: equal branches per address, lowest first. */
function pickAddress(rid: i32, b: i32, into: usize): void {
  const n = rw(b + L.NR_COUNT);
  const lo = rsAddr(b + L.NR_LO);
  copy4(into, lo);
  if (n <= 1) return;
  if (n > L.NAT_MAX_BRANCHES) {
    assumeNote(rid, rw(b + L.NR_REASON));
    return;
  }
  S.beginDecision();
  const p = 1.0 / <f64>n;
  for (let i = 0; i < n; i++) S.stageProb(p);
  const k = S.decide();
  // lo + k with carry from the last used word upwards
  let carry: u64 = <u64>k;
  const last = S.family == 4 ? 0 : 3;
  for (let w = last; w >= 0 && carry != 0; w--) {
    const at = into + (<usize>w << 2);
    const sum = <u64>(<u32>load<i32>(at)) + carry;
    store<i32>(at, <i32>(<u32>sum));
    carry = sum >>> 32;
  }
}

function pickPort(port: i32, b: i32): i32 {
  const lo = rw(b + L.NR_PLO);
  const hi = rw(b + L.NR_PHI);
  if (lo == hi) return lo;
  if (port >= lo && port <= hi) return port;
  S.pushNotePorts(L.NOTE_NAT_PORT, rw(b + L.NR_WHAT), port, lo, hi);
  return lo;
}

function nat(rid: i32, tk: i32, b: i32): void {
  const f = rw(b + L.NR_FLAGS);
  switch (tk) {
    case L.T_DNAT:
      if (rw(b + L.NR_NRANGES) > 1) S.pushNote(L.NOTE_NAT_MULTI, 0, 0, 0);
      if (f & L.NRF_ADDR) pickAddress(rid, b, S.DST);
      if (f & L.NRF_PORTS) S.setPorts(S.sport, pickPort(S.dport, b));
      S.setCtstate(S.ctstate | CT_DNAT);
      return;
    case L.T_SNAT:
      if (rw(b + L.NR_NRANGES) > 1) S.pushNote(L.NOTE_NAT_MULTI, 0, 0, 0);
      if (f & L.NRF_ADDR) pickAddress(rid, b, S.SRC);
      if (f & L.NRF_PORTS) S.setPorts(pickPort(S.sport, b), S.dport);
      S.setMasq(1);
      S.setCtstate(S.ctstate | CT_SNAT);
      return;
    case L.T_MASQUERADE: {
      // with the node's interfaces known: the kernel's inet_select_addr on the outgoing one
      const dev = hasAddrs() && !isLoopback(S.DST) ? linkOf(S.outIf) : -1;
      if (dev >= 0) {
        const src = selectSource(dev, S.hasNh ? S.NH : S.routeDst());
        if (src != 0) copy4(S.SRC, src);
        else S.pushNote(L.NOTE_MASQ_NOADDR, S.family, 0, S.SRC);
        if (f & L.NRF_PORTS) S.setPorts(pickPort(S.sport, b), S.dport);
        S.setMasq(1);
        S.setCtstate(S.ctstate | CT_SNAT);
        return;
      }
      // otherwise: the pod gateway on an exact-name pods interface
      const gw = onPodsExact(S.outIf) ? podGateway(S.routeDst()) : 0;
      const a = gw != 0 ? gw : isLoopback(S.DST) ? loopbackAddr() : firstNodeAddress();
      if (a != 0) copy4(S.SRC, a);
      else S.pushNote(L.NOTE_MASQ_NOADDR, S.family, 0, S.SRC);
      if (f & L.NRF_PORTS) S.setPorts(pickPort(S.sport, b), S.dport);
      S.setMasq(1);
      S.setCtstate(S.ctstate | CT_SNAT);
      return;
    }
    case L.T_REDIRECT: {
      const a = curHook == L.HOOK_OUTPUT ? loopbackAddr() : firstNodeAddress();
      if (a != 0) copy4(S.DST, a);
      else S.pushNote(L.NOTE_REDIRECT_NOADDR, S.family, 0, S.DST);
      if (f & L.NRF_PORTS) S.setPorts(S.sport, pickPort(S.dport, b));
      S.setCtstate(S.ctstate | CT_DNAT);
      return;
    }
  }
}

// ---- packet state helpers ----

@inline function isNew(): bool {
  return (S.ctstate & CT_NEW) != 0;
}

/** The query's output interface override (0 when routing decides). */
@inline function outOverride(): usize {
  const b = pkt + (<usize>L.P_OUT_IFACE << 2);
  return (load<i32>(b) & L.IF_PRESENT_BIT) != 0 ? b : 0;
}

/** outIf := route(); false when the node's routes gave no way (verdict set, as the reference's reroute()). */
function reroute(): bool {
  const o = route(outOverride());
  if (o == 0) {
    const f = routeFailCode();
    if (f == 1) end(L.VERDICT_DROP, -1);
    else end(L.VERDICT_REJECT, rejectId(f == 3));
    return false;
  }
  S.setOutIf(o);
  return true;
}

/** The IPVS stage (SEMANTICS.md "IPVS"): IPVS_NONE, IPVS_SCHEDULED, or IPVS_STOP (rejected: verdict set). */
function ipvsStep(): i32 {
  if ((flags & L.HF_IPVS) == 0) return IPVS_NONE;
  const r = ipvsStage();
  if (r == IPVS_STOP && S.status == L.ST_OK) end(L.VERDICT_REJECT, rejectReason());
  return r;
}

// ---- base chains on a hook (reference-walk.ts hookPoint) ----

const GO: i32 = 0;
const END: i32 = 1;
const STOLEN: i32 = 2;
const PW = L.PLAN_WORDS;
/** Same-priority groups being ordered: plan entries, their chains, the order (outer and nat level). */
const SLOTS: usize = memory.data(L.MAX_TIE * 4);
const MEMBERS: usize = memory.data(L.MAX_TIE * 4);
const ORDER: usize = memory.data(L.MAX_TIE * 4);
const NAT_MEMBERS: usize = memory.data(L.MAX_TIE * 4);
const NAT_ORDER: usize = memory.data(L.MAX_TIE * 4);

@inline function at4(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}

@inline function put4(base: usize, i: i32, v: i32): void {
  store<i32>(base + (<usize>i << 2), v);
}

/**
 * Orders the n chains at `members` (ids, -1 IPVS) that run at one priority into `out` (indices,
 * run order): insertion in listing order, one unknown condition "does the placed one run
 * before this one?" per pair it needs (branch 0: yes; assembly/assume.ts).
 */
function orderTies(members: usize, n: i32, out: usize): void {
  put4(out, 0, 0);
  for (let x = 1; x < n; x++) {
    let pos = x;
    while (pos > 0) {
      const y = at4(out, pos - 1);
      clearKey();
      keyPut(L.K_PA, at4(members, y));
      keyPut(L.K_PB, at4(members, x));
      if (unknown(-1, L.A_ORDER, -1, -1)) break;
      pos--;
    }
    for (let t = x; t > pos; t--) put4(out, t, at4(out, t - 1));
    put4(out, pos, x);
  }
}

function ipvsAt(h: i32): i32 {
  const r = ipvsStep();
  if (r == IPVS_STOP) return END;
  if (r != IPVS_NONE) {
    if (h == L.HOOK_INPUT && !isLocal(-1, S.routeDst())) return STOLEN;
    if (!reroute()) return END;
  }
  return GO;
}

/** The nat chains of plan entries [a, b) (one group): the first that sets up a mapping wins. */
function natGroup(h: i32, base: i32, a: i32, b: i32): i32 {
  if (!isNew()) return GO;
  let i = a;
  while (i < b) {
    const prio = rw(base + i * PW + L.PL_PRIO);
    let j = i + 1;
    while (j < b && rw(base + j * PW + L.PL_PRIO) == prio) j++;
    const n = j - i;
    if (n > 1) {
      if (n > L.MAX_TIE) {
        S.setStatus(L.ST_HOST);
        return END;
      }
      for (let t = 0; t < n; t++) put4(NAT_MEMBERS, t, rw(base + (i + t) * PW + L.PL_CHAIN));
      orderTies(NAT_MEMBERS, n, NAT_ORDER);
    } else put4(NAT_ORDER, 0, 0);
    for (let o = 0; o < n; o++) {
      natSet = false;
      if (!runChain(rw(base + (i + at4(NAT_ORDER, o)) * PW + L.PL_CHAIN))) return END;
      if (h == L.HOOK_OUTPUT && !reroute()) return END; // rerouted after a DNAT
      if (natSet) return GO;
    }
    i = j;
  }
  return GO;
}

/** Runs plan entry e (its nat group up to `end` for a nat entry). */
function runEntry(h: i32, base: i32, e: i32, end_: i32, nat: bool, ipvs: bool): i32 {
  const at = base + e * PW;
  const kind = rw(at + L.PL_KIND);
  if (kind == L.PK_CHAIN) return runChain(rw(at + L.PL_CHAIN)) ? GO : END;
  if (kind == L.PK_IPVS) return ipvs ? ipvsAt(h) : GO;
  return nat ? natGroup(h, base, e, end_) : GO;
}

/**
 * Every base chain of hook h for the packet's family, in plan order; nat chains when `nat` (and
 * NEW), the IPVS stage when `ipvs`. GO, END (verdict or failure), or STOLEN (IPVS sent it out).
 */
function hookPoint(h: i32, nat: bool, ipvs: bool): i32 {
  if (S.status != L.ST_OK) return END;
  curHook = h;
  const hp = hooks + ((S.family == 4 ? 0 : 1) * L.NHOOKS + h) * 2;
  const base = rw(hp);
  const n = rw(hp + 1);
  let i = 0;
  while (i < n) {
    const at = rw(base + i * PW + L.PL_AT);
    let j = i + 1;
    while (j < n && rw(base + j * PW + L.PL_AT) == at) j++;
    if (j == i + 1) {
      const r = runEntry(h, base, i, j, nat, ipvs);
      if (r != GO) return r;
      i = j;
      continue;
    }
    if (j - i > L.MAX_TIE) {
      S.setStatus(L.ST_HOST);
      return END;
    }
    // slots at this priority: each chain or IPVS entry, and the nat entries (last) as one group
    let k = i;
    while (k < j && rw(base + k * PW + L.PL_KIND) != L.PK_NAT) k++;
    let ns = 0;
    for (let e = i; e < k; e++) {
      if (rw(base + e * PW + L.PL_KIND) == L.PK_CHAIN || ipvs) {
        put4(SLOTS, ns, e);
        put4(MEMBERS, ns, rw(base + e * PW + L.PL_CHAIN));
        ns++;
      }
    }
    if (k < j && nat && isNew()) {
      put4(SLOTS, ns, k);
      put4(MEMBERS, ns, rw(base + k * PW + L.PL_CHAIN));
      ns++;
    }
    if (ns > 1) orderTies(MEMBERS, ns, ORDER);
    else put4(ORDER, 0, 0);
    for (let o = 0; o < ns; o++) {
      const r = runEntry(h, base, at4(SLOTS, at4(ORDER, o)), j, nat, ipvs);
      if (r != GO) return r;
    }
    i = j;
  }
  return GO;
}

// ---- hooks per origin ----

function fromInterface(): void {
  if (hookPoint(L.HOOK_PREROUTING, true, false) != GO) return;
  if (isLocal(-1, S.DST)) {
    if (hookPoint(L.HOOK_INPUT, true, true) == STOLEN) {
      // IPVS sends the packet to the real server through LOCAL_OUT (not nat OUTPUT).
      S.setInIf(0);
      if (!reroute()) return;
      if (hookPoint(L.HOOK_OUTPUT, false, false) != GO) return;
      if (hookPoint(L.HOOK_POSTROUTING, true, false) != GO) return;
      leftOn = S.outIf;
    }
    return; // delivered (or ended)
  }
  if (!reroute()) return;
  if (hookPoint(L.HOOK_FORWARD, true, false) != GO) return;
  if (hookPoint(L.HOOK_POSTROUTING, true, false) != GO) return;
  leftOn = S.outIf;
}

function fromHost(): void {
  if (!reroute()) return;
  if (hookPoint(L.HOOK_OUTPUT, true, true) != GO) return;
  if (hookPoint(L.HOOK_POSTROUTING, true, false) != GO) return;
  if (!isLocal(-1, S.routeDst())) {
    leftOn = S.outIf;
    return;
  }
  // Loops back: the connection's NAT is settled, so nat is not consulted on the way in.
  const given = pkt + (<usize>L.P_IN_IFACE << 2);
  S.setInIf((load<i32>(given) & L.IF_PRESENT_BIT) != 0 ? given : LO_IFACE);
  S.setOutIf(0);
  if (hookPoint(L.HOOK_PREROUTING, false, false) != GO) return;
  hookPoint(L.HOOK_INPUT, false, false);
}

/** Loads packet `i` of the input region into the walk state. */
function loadPacket(i: i32): void {
  pkt = L.IN_BYTES + (<usize>(i * L.PKT_WORDS) << 2);
  S.setPktAddr(pkt);
  S.setFamily(ld(pkt, L.P_FAMILY));
  S.setProto(ld(pkt, L.P_PROTO));
  const src = pkt + (<usize>L.P_SRC << 2);
  const dst = pkt + (<usize>L.P_DST << 2);
  copy4(S.SRC, src);
  copy4(S.OSRC, src);
  copy4(S.DST, dst);
  copy4(S.ODST, dst);
  S.setPorts(ld(pkt, L.P_SPORT), ld(pkt, L.P_DPORT));
  S.setOrigPorts(ld(pkt, L.P_SPORT), ld(pkt, L.P_DPORT));
  S.setIcmp(ld(pkt, L.P_ICMPTYPE), ld(pkt, L.P_ICMPCODE));
  S.setOrigin(ld(pkt, L.P_ORIGIN));
  S.setMark(<u32>ld(pkt, L.P_MARK));
  S.setConnmark(<u32>ld(pkt, L.P_CONNMARK));
  S.setCtstate(ld(pkt, L.P_CTSTATE));
  const inb = pkt + (<usize>L.P_IN_IFACE << 2);
  S.setInIf((load<i32>(inb) & L.IF_PRESENT_BIT) != 0 ? inb : 0);
  S.setOutIf(0);
  verdict = L.VERDICT_ACCEPT;
  rejectWith = -1;
  leftOn = 0;
}

/** Walks packet `i`; returns the status (ST_*). */
export function walkPacket(i: i32, record: bool, forcedCount: i32): i32 {
  S.resetWalk(record, forcedCount);
  steps = 0;
  loadPacket(i);
  if (S.origin == L.ORIGIN_HOST) fromHost();
  else fromInterface();
  return S.status;
}
