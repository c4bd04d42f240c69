// Ruleset (src/model/ruleset.ts) → one flat binary ruleset (layout.ts) in a single Int32Array,
// over a SharedArrayBuffer when asked so the service can hand it to every worker without a copy.
// Rule and chain ids are the model's flat ids, so the walk's path/uncertain records need no mapping.

import type { Ruleset } from '../model/ruleset.js';
import { HOOK_NAMES, hookPlan } from '../model/hooks.js';
import { targetChainPosition } from '../model/rule.js';
import * as L from './layout.js';

import { encodeMatches, encodeTarget, indexKeys, kernelOrder, pushIface, type EncodeContext, type IndexKeys } from './ops.js';
import { buildCascades, buildRuns, planRuns, randomOnly, walkOrder, type KeyedRules } from './runs.js';
import { setHash, writeSets } from './sets.js';
import { writeIpvs, type CompiledIpvs, type IpvsNotes } from './ipvs.js';
import { StringTable, TailWords, Words } from './words.js';
import { writeRouting } from './routing.js';

export interface CompiledRuleset {
  /** The whole compiled ruleset (header + sections), layout.ts. */
  words: Int32Array;
  /** String ids used by the words (reasons, reject-with, module names). */
  strings: string[];
  /** recent list names by list id (JS loads a packet's recent history by them). */
  recentLists: string[];
  /** Real servers by global index, and by "ip:port" (the query's activeConnections keys). */
  ipvs: CompiledIpvs;
  stats: { rules: number; chains: number; runs: number; bytes: number; bytesPerRule: number };
}

export interface CompileOptions {
  /** Allocate over a SharedArrayBuffer (for worker pools). Default false. */
  shared?: boolean;
  /** Shortest run of destination-keyed rules worth a hash index. Default 8. */
  minRun?: number;
  /** The note texts of IPVS services (required when the ruleset has any; the engine's compileRuleset passes them). */
  ipvsNotes?: IpvsNotes;
}

/** Chain ids by name, one map per table id: jump resolution for targets without a recorded position. */
function chainIdsByName(rs: Ruleset): Map<string, number>[] {
  const byTable: Map<string, number>[] = [];
  for (let id = 0; id < rs.chains.length; id++) {
    const c = rs.chains[id]!;
    (byTable[c.tableId] ??= new Map()).set(c.chain.name, id);
  }
  return byTable;
}

export function compileRuleset(rs: Ruleset, opts: CompileOptions = {}): CompiledRuleset {
  // Rules are encoded in id order (the model's objects read in memory order) into `enc`, then
  // copied into their chain regions in walk order. The sections after the regions are written
  // next into `tail` (its offsets start where the regions end), so the ruleset's words are
  // allocated once, at their final size, and every big buffer is touched once.
  const enc = new Words(rs.rules.length * 14 + 1024);
  const strings = new StringTable();
  const recent = new StringTable();
  const ctx: EncodeContext = {
    w: enc,
    tk: 0,
    strings,
    nth: { next: 0, rule: -1, counter: 0 },
    rule: 0,
    line: 0,
    ipvs: (rs.ipvs?.services.length ?? 0) > 0,
    sets: new Map([...rs.ipsets.sets.keys()].map((name, i) => [name, i])),
    recentId: (name) => recent.id(name),
    host: { used: false },
  };
  const nrules = rs.rules.length;

  // Jump targets resolve within the rule's own table: by the position the parser recorded on the
  // target (numberRules numbers a table's chains consecutively, in `chains` order, from the
  // table's first id), else by name through one name map per table id, built on first need.
  // The chain records' fields are read in the same pass (one walk over 100k+ chain objects).
  const nchains = rs.chains.length;
  const tableFirst: number[] = [];
  // Chain names by id, read in the chain pass: checking a recorded position costs one array read.
  const chainName: string[] = [];
  // (Not a closure: a closure over the hot loops' variables would move them to the heap.)
  let tableChains: Map<string, number>[] | null = null;
  const chainTable = new Int32Array(nchains);
  const chainCount = new Int32Array(nchains);
  const chainFirst = new Int32Array(nchains);
  const chainPolicy = new Int32Array(nchains);
  for (let id = 0, first = 0; id < nchains; id++) {
    const { chain, tableId } = rs.chains[id]!;
    chainTable[id] = tableId;
    chainCount[id] = chain.rules.length;
    // numberRules numbers a chain's rules consecutively, in chain order.
    chainFirst[id] = first;
    first += chain.rules.length;
    chainPolicy[id] = !chain.builtin ? L.POLICY_NONE : chain.policy === 'DROP' ? L.POLICY_DROP : L.POLICY_ACCEPT;
    tableFirst[tableId] ??= id;
    chainName.push(chain.name);
  }

  // Pass 1, in rule id order: index keys, jump targets (chain ids), and each rule encoded into
  // `enc` as [R_META, R_TARG, unused, ops…, target block] (encAt: where each starts).
  const keyed: KeyedRules = { dst: [], dstKeys: [], port: [], portKeys: [] };
  const keys: IndexKeys = { dst: null, dport: null };
  const addressesKnown = rs.node.addressesKnown;
  const ruleChain = rs.ruleChain;
  const jumpTo = new Int32Array(nrules).fill(-1);
  const encAt = new Int32Array(nrules + 1);
  let namesKey = -1;
  // The parser makes one target object per target chain, and most jumps repeat the one before
  // (KUBE-MARK-MASQ): the same object resolves to the same id without a lookup.
  let lastTarget: object | null = null;
  let lastId = -1;
  let costs = false; // some rule's evalCost is not 1
  let rid = 0;
  const target = (): number => jumpTo[rid]!;
  for (let id = 0; id < nrules; id++) {
    const rule = rs.rules[id]!;
    if (rule.evalCost !== undefined && rule.evalCost !== 1) costs = true;
    const ordered = kernelOrder(rule.matches);
    indexKeys(ordered, addressesKnown, keys);
    if (keys.dst !== null) {
      keyed.dst.push(id);
      keyed.dstKeys.push(keys.dst);
    }
    if (keys.dport !== null) {
      keyed.port.push(id);
      keyed.portKeys.push(keys.dport);
    }
    const t = rule.target;
    if (t && (t.kind === 'jump' || t.kind === 'goto')) {
      const tk0 = chainTable[ruleChain[id]!]!;
      if (tk0 !== namesKey) {
        namesKey = tk0;
        lastTarget = null;
      }
      if (t !== lastTarget) {
        lastTarget = t;
        const pos = targetChainPosition(t);
        const at = pos < 0 ? -1 : tableFirst[tk0]! + pos;
        lastId = at >= 0 && at < nchains && chainTable[at] === tk0 && chainName[at] === t.chain ? at : ((tableChains ??= chainIdsByName(rs))[tk0]?.get(t.chain) ?? -1);
      }
      jumpTo[id] = lastId;
    }
    rid = id;
    ctx.rule = id;
    ctx.line = rule.line;
    const rec = enc.alloc(L.RULE_WORDS);
    encAt[id] = rec;
    const nops = encodeMatches(ctx, ordered);
    // a random-only rule (never in an index run: it has no key) gets the cascade count word after its op (runs.ts buildCascades)
    if (randomOnly(enc, rec + L.RULE_WORDS, nops)) enc.push(0);
    const targ = encodeTarget(ctx, rule.target, target);
    enc.set(rec + L.R_META, nops | (ctx.tk << L.RN_TK_SHIFT));
    enc.set(rec + L.R_TARG, targ);
  }
  encAt[nrules] = enc.length;
  const plan = planRuns(ruleChain, keyed, opts.minRun ?? 8);

  // Pass 2, chain by chain in walk order: each chain's region (layout.ts "chain regions"). The
  // rules of an index run after its first are reached only through the run's hash and links, never
  // by stepping, so their records lie out of line: just before the region of the chain they jump
  // to (the packet's next stop: KUBE-SERVICES' rule for a service, then its KUBE-SVC chain), or
  // after their own chain's region when they jump nowhere or to a chain placed before.
  const chainsAt = L.HDR_WORDS;
  const order = walkOrder(chainFirst, chainCount, jumpTo);
  const placedAt = new Int32Array(nchains);
  for (let i = 0; i < nchains; i++) placedAt[order[i]!] = i;
  // By rule id: 1 when the rule is in an index run, 2 when out of line (a run's rule after its first).
  const inRun = new Uint8Array(nrules);
  for (let r = 0; r < plan.runs.length; r += 4) {
    const start = plan.runs[r]!;
    const end = plan.runs[r + 1]!;
    inRun.fill(2, start + 1, end);
    inRun[start] = 1;
  }
  // by chain: the out-of-line run records written before its region, in id order (a counting
  // sort over those records only: beforeAt[t] .. beforeAt[t + 1] in `before`)
  const goesBefore = (id: number): boolean => {
    const t = jumpTo[id]!;
    return t >= 0 && placedAt[t]! >= placedAt[ruleChain[id]!]!;
  };
  const beforeAt = new Int32Array(nchains + 1);
  for (let id = 0; id < nrules; id++) if (inRun[id] === 2 && goesBefore(id)) beforeAt[jumpTo[id]! + 1]++;
  for (let c = 0; c < nchains; c++) beforeAt[c + 1] += beforeAt[c]!;
  const before = new Int32Array(beforeAt[nchains]!);
  const fillAt = beforeAt.slice(0, nchains);
  for (let id = 0; id < nrules; id++) if (inRun[id] === 2 && goesBefore(id)) before[fillAt[jumpTo[id]!]!++] = id;
  // Where every record and region goes, in walk order (sizes are known from the encoding); the
  // words are copied later in rule id order, reading `enc` front to back.
  const runExtra = L.RUN_RULE_WORDS - L.RULE_WORDS;
  const recOf = new Int32Array(nrules);
  const regionOf = new Int32Array(nchains);
  let at = chainsAt + nchains;
  for (let k = 0; k < nchains; k++) {
    const cid = order[k]!;
    for (let b = beforeAt[cid]!, bend = beforeAt[cid + 1]!; b < bend; b++) {
      const id = before[b]!;
      recOf[id] = at;
      at += runExtra + encAt[id + 1]! - encAt[id]!;
    }
    regionOf[cid] = at;
    at += L.CHAIN_WORDS;
    const first = chainFirst[cid]!;
    const end = first + chainCount[cid]!;
    for (let id = first; id < end; id++) {
      if (inRun[id] === 2) continue;
      recOf[id] = at;
      at += (inRun[id] !== 0 ? runExtra : 0) + encAt[id + 1]! - encAt[id]!;
    }
    for (let id = first; id < end; id++) {
      if (inRun[id] !== 2 || goesBefore(id)) continue;
      recOf[id] = at;
      at += runExtra + encAt[id + 1]! - encAt[id]!;
    }
  }
  const w = new TailWords(at, L.HDR_WORDS, 4096 + (nrules >> 2));
  w.set(L.H_MAGIC, L.MAGIC);
  w.set(L.H_VERSION, L.LAYOUT_VERSION);
  w.set(L.H_NRULES, nrules);
  w.set(L.H_NCHAINS, nchains);
  w.set(L.H_CHAINS, chainsAt);

  // Hook plans: per (family, hook) the base chains in walk order (the reference walk's own plan).
  const hooksAt = w.alloc(2 * L.NHOOKS * 2);
  w.set(L.H_HOOKS, hooksAt);
  const withIpvs = (rs.ipvs?.services.length ?? 0) > 0;
  for (let f = 0; f < 2; f++) {
    for (let h = 0; h < L.NHOOKS; h++) {
      const plan = hookPlan(rs.registrations, rs.chains, f === 0 ? 4 : 6, HOOK_NAMES[h], withIpvs);
      const at = w.alloc(plan.length * L.PLAN_WORDS);
      plan.forEach((p, i) => {
        const e = at + i * L.PLAN_WORDS;
        w.set(e + L.PL_CHAIN, p.chain);
        w.set(e + L.PL_KIND, p.kind === 'nat' ? L.PK_NAT : p.kind === 'ipvs' ? L.PK_IPVS : L.PK_CHAIN);
        w.set(e + L.PL_PRIO, p.priority);
        w.set(e + L.PL_AT, p.at);
      });
      w.set(hooksAt + (f * L.NHOOKS + h) * 2, at);
      w.set(hooksAt + (f * L.NHOOKS + h) * 2 + 1, plan.length);
    }
  }

  // evalCost prefix sums, only when some rule does not cost 1 (the walk then reads them).
  if (costs) {
    const at = w.alloc(nrules + 1);
    let sum = 0;
    for (let id = 0; id < nrules; id++) {
      w.set(at + id, sum);
      sum += rs.rules[id].evalCost ?? 1;
    }
    w.set(at + nrules, sum);
    w.set(L.H_COSTS, at);
  }

  // Index runs over destination-keyed rules (their records' run words logged in runRecs).
  // at most six (offset, word) pairs per run rule: R_RUN, R_ID, two links of R_NEXT and R_NEXTID
  let runRules = 0;
  for (let r = 0; r < plan.runs.length; r += 4) runRules += plan.runs[r + 1]! - plan.runs[r]!;
  const runRecs = new Words(12 * runRules);
  const runs = buildRuns(w, plan, keyed, recOf, (id) => (inRun[id] !== 0 ? runExtra : 0) + encAt[id + 1]! - encAt[id]!, runRecs);

  writeNode(w, rs);
  w.set(L.H_ROUTING, writeRouting(w, rs.node.routing, strings));
  writeSets(w, rs.ipsets);
  const ipvs = writeIpvs(w, rs.ipvs, strings, opts.ipvsNotes);
  w.set(L.H_NNTH, ctx.nth.next);
  let flags = 0;
  if (ctx.host.used || ctx.nth.next > L.MAX_NTH) flags |= L.HF_HOST;
  if (rs.ipvs && rs.ipvs.services.length > 0) flags |= L.HF_IPVS;
  if (!ipvs.ok) flags |= L.HF_HOST;
  w.set(L.H_FLAGS, flags);
  w.set(L.H_STRINGS, strings.list.length);
  w.set(L.H_TOTAL_WORDS, w.length);

  // The ruleset's words, allocated once at their size: header and tail, chain table and regions,
  // each rule's header (four words more in a run), its ops and target block after it; a target
  // block's offset moves with it, a jump names its target's region.
  const total = w.length;
  const words = new Int32Array(opts.shared ? new SharedArrayBuffer(total * 4) : new ArrayBuffer(total * 4));
  w.writeTo(words);
  for (let cid = 0; cid < nchains; cid++) {
    const region = regionOf[cid]!;
    words[chainsAt + cid] = region;
    words[region + L.C_FIRST] = chainFirst[cid]!;
    words[region + L.C_COUNT] = chainCount[cid]!;
    words[region + L.C_POLICY] = chainPolicy[cid]!;
    words[region + L.C_ID] = cid;
  }
  const e = enc.view();
  for (let id = 0; id < nrules; id++) {
    const from = encAt[id]!;
    const body = encAt[id + 1]! - from - L.RULE_WORDS;
    const run = inRun[id]!;
    const hdr = run !== 0 ? L.RUN_RULE_WORDS : L.RULE_WORDS;
    const rec = recOf[id]!;
    for (let i = 0, src = from + L.RULE_WORDS, dst = rec + hdr; i < body; i++) words[dst + i] = e[src + i]!;
    const meta = e[from + L.R_META]!;
    const tk = (meta >>> L.RN_TK_SHIFT) & 0xff;
    let targ = e[from + L.R_TARG]!;
    if (tk === L.T_JUMP || tk === L.T_GOTO) targ = regionOf[targ]!;
    else if (hasBlock(tk)) targ += rec + hdr - (from + L.RULE_WORDS);
    words[rec + L.R_META] = meta | (run !== 0 ? L.RF_RUN : 0) | (run === 1 ? L.RF_START : 0);
    words[rec + L.R_TARG] = targ;
    words[rec + L.R_SIZE] = hdr + body;
  }
  const rr = runRecs.view();
  for (let i = 0; i < rr.length; i += 2) words[rr[i]!] = rr[i + 1]!;
  // Random cascades, over the records as written.
  buildCascades(words, ruleChain, recOf);
  const bytes = words.byteLength;
  return {
    words,
    strings: strings.list,
    recentLists: recent.list,
    ipvs,
    stats: { rules: nrules, chains: nchains, runs, bytes, bytesPerRule: nrules ? bytes / nrules : 0 },
  };
}

/** Target kinds whose R_TARG is the offset of a block written after the rule's ops. */
function hasBlock(tk: number): boolean {
  switch (tk) {
    case L.T_DNAT:
    case L.T_SNAT:
    case L.T_MASQUERADE:
    case L.T_REDIRECT:
    case L.T_MARK:
    case L.T_CONNMARK_SET:
    case L.T_CONNMARK_SAVE:
    case L.T_CONNMARK_RESTORE:
      return true;
    default:
      return false;
  }
}

function writeNode(w: Words, rs: Ruleset): void {
  const node = rs.node;
  const at = w.alloc(L.N_ADDRS);
  w.set(L.H_NODE, at);
  const iface = (off: number, name: string, prefix: boolean): void => {
    const tmp = new Words();
    if (!pushIface(tmp, name, prefix)) return; // unencodable: absent (never matches a name)
    for (let k = 0; k < L.IFACE_WORDS; k++) w.set(at + off + k, tmp.get(k));
  };
  iface(L.N_UPLINK, node.uplink.name, node.uplink.prefix);
  iface(L.N_PODS, node.pods.name, node.pods.prefix);
  w.set(at + L.N_NADDR, node.addresses.length);
  w.set(at + L.N_NCIDR, node.podCIDRs.length);
  let first4 = -1;
  let first6 = -1;
  node.addresses.forEach((a, i) => {
    w.push(a.family);
    for (let k = 0; k < 4; k++) w.push(a.w[k]);
    const loop = a.family === 4 ? a.w[0] >>> 24 === 127 : a.w[0] === 0 && a.w[1] === 0 && a.w[2] === 0 && a.w[3] === 1;
    if (!loop && a.family === 4 && first4 < 0) first4 = i;
    if (!loop && a.family === 6 && first6 < 0) first6 = i;
  });
  w.set(at + L.N_FIRST4, first4);
  w.set(at + L.N_FIRST6, first6);
  for (const c of node.podCIDRs) {
    w.push(c.family);
    for (let k = 0; k < 4; k++) w.push(c.w[k]);
    for (let k = 0; k < 4; k++) {
      const bits = c.prefix - 32 * k;
      w.push(bits >= 32 ? -1 : bits <= 0 ? 0 : (0xffffffff << (32 - bits)) | 0);
    }
  }
  // node-local test by hash (IPVS nodes list every VIP as a node address: tens of thousands)
  let slots = 2;
  while (slots < node.addresses.length * 2) slots *= 2;
  const ht = w.alloc(slots * L.NODEHASH_SLOT);
  const seen = new Set<string>();
  for (const a of node.addresses) {
    const key = [a.family, a.w[0] | 0, a.w[1] | 0, a.w[2] | 0, a.w[3] | 0];
    if (seen.has(key.join(','))) continue;
    seen.add(key.join(','));
    let s = setHash(key, 5) & (slots - 1);
    while (w.get(ht + s * L.NODEHASH_SLOT) !== 0) s = (s + 1) & (slots - 1);
    for (let k = 0; k < 5; k++) w.set(ht + s * L.NODEHASH_SLOT + k, key[k]);
  }
  w.set(L.H_NODEHASH, ht);
  w.set(L.H_NODEFLAGS, node.addressesKnown ? L.NF_ADDRS_KNOWN : 0);
  w.set(L.H_NODEMASK, slots - 1);
}

/**
 * Record offset of every rule by rule id, found as the walk finds them: stepping through each chain
 * region, and through each index run's hash and links (for tests and tools; the walk never needs it).
 */
export function ruleRecords(words: Int32Array): Int32Array {
  const out = new Int32Array(words[L.H_NRULES]!).fill(-1);
  const chains = words[L.H_CHAINS]!;
  for (let cid = 0; cid < words[L.H_NCHAINS]!; cid++) {
    const region = words[chains + cid]!;
    let rec = region + L.CHAIN_WORDS;
    let id = words[region + L.C_FIRST]!;
    const end = id + words[region + L.C_COUNT]!;
    while (id < end) {
      out[id] = rec;
      if ((words[rec + L.R_META]! & L.RF_START) === 0) {
        rec += words[rec + L.R_SIZE]!;
        id++;
        continue;
      }
      const run = words[rec + L.R_RUN]!;
      const runEnd = words[run + L.RU_END]!;
      const sw = words[run + L.RU_SLOTW]!;
      for (let s = 0; s <= words[run + L.RU_MASK]!; s++) {
        let at = words[words[run + L.RU_HASH]! + s * sw + (sw === L.SLOT_COMPACT ? L.SC_REC : L.SL_REC)]!;
        if (at === 0) continue;
        for (let r = words[at + L.R_ID]!; r < runEnd; ) {
          out[r] = at;
          r = words[at + L.R_NEXTID]!;
          at = words[at + L.R_NEXT]!;
        }
      }
      id = runEnd;
      rec = words[run + L.RU_ENDREC]!;
    }
  }
  return out;
}
