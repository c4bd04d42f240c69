// IPVS state → the IPVS block of the compiled ruleset (layout.ts IV_* / VS_* / RL_*), read by
// assembly/ipvs.ts: the virtual-service lookup tables of findVirtualService(), per service its
// scheduler, real servers, the kernel's sh/dh/mh tables (model/ipvs-tables.ts, built here once)
// and the ids of its note texts. The texts come from the code that renders answers (the engine
// passes them in as IpvsNotes): they depend only on the service and on whether the query brought
// connection counts, so they are rendered once here instead of per packet.

import { formatEndpoint } from '../model/addr.js';
import type { IpvsState } from '../model/ipvs.js';
import { dhTable, mhTable, shTable } from '../model/ipvs-tables.js';
import { protoNumber } from '../model/protocols.js';
import * as L from './layout.js';
import { setHash } from './sets.js';
import type { StringTable, Words } from './words.js';



/** The note texts of one virtual service, as answers show them. */
export interface IpvsServiceNotes {
  /** Notes of a packet without connection counts / with them (the empty-service note aside). */
  withoutCounts: string[];
  withCounts: string[];
  /** The note when no real server can be chosen. */
  empty: string;
}

/** Renders the notes of service `i` (engine/ipvs-schedule.ts ipvsServiceNotes). */
export type IpvsNotes = (state: IpvsState, i: number) => IpvsServiceNotes;

export interface CompiledIpvs {
  /** Per global real index: [service, real]. */
  reals: [number, number][];
  /** "ip:port" (formatEndpoint) → global real indices (the query's activeConnections keys). */
  byEndpoint: Map<string, number[]>;
  /** false when a service cannot be scheduled in wasm (more real servers than L.MAX_REALS). */
  ok: boolean;
}

function table(w: Words, slotWords: number, entries: { key: number[]; svc: number }[]): [number, number] {
  let slots = 2;
  while (slots < entries.length * 2) slots *= 2;
  const at = w.alloc(slots * slotWords);
  for (let s = 0; s < slots; s++) w.set(at + s * slotWords + slotWords - 1, -1);
  const kw = slotWords - 1;
  const mask = slots - 1;
  for (const e of entries) {
    let s = setHash(e.key, kw) & mask;
    while (w.get(at + s * slotWords + kw) !== -1) s = (s + 1) & mask;
    for (let i = 0; i < kw; i++) w.set(at + s * slotWords + i, e.key[i]);
    w.set(at + s * slotWords + kw, e.svc);
  }
  return [at, mask];
}

function schedCode(sched: string, sorted: boolean): number {
  switch (sched) {
    case 'rr':
      return L.SCHED_RR;
    case 'lc':
      return L.SCHED_LC;
    case 'wlc':
      return L.SCHED_WLC;
    case 'sed':
      return L.SCHED_SED;
    case 'nq':
      return L.SCHED_NQ;
    case 'fo':
      return L.SCHED_FO;
    case 'ovf':
      return L.SCHED_OVF;
    case 'sh':
      return sorted ? L.SCHED_WRR : L.SCHED_SH;
    case 'dh':
      return sorted ? L.SCHED_RR : L.SCHED_DH;
    case 'mh':
      return sorted ? L.SCHED_WRR : L.SCHED_MH;
    default:
      return L.SCHED_WRR; // wrr, lblc, lblcr, twos, unknown: weight-proportional
  }
}

export function writeIpvs(w: Words, state: IpvsState | undefined, strings: StringTable, notesOf: IpvsNotes | undefined): CompiledIpvs {
  const out: CompiledIpvs = { reals: [], byEndpoint: new Map(), ok: true };
  if (!state || state.services.length === 0) return out;
  if (!notesOf) throw new Error('compiling IPVS services needs their note texts: use the engine\'s compileRuleset (engine/wasm.ts)');
  const at = w.alloc(L.IV_WORDS);
  w.set(L.H_IPVS, at);
  const svcs = state.services;
  w.set(at + L.IV_NSVC, svcs.length);
  w.set(at + L.IV_REJECT, strings.id('icmp-port-unreachable'));
  // findVirtualService's index: first service wins for a key
  const fw: { key: number[]; svc: number }[] = [];
  const tuples: { key: number[]; svc: number }[] = [];
  const seen = new Set<string>();
  let flags = 0;
  svcs.forEach((s, i) => {
    if (s.protocol === 'fwmark') {
      const key = [s.family, (s.fwmark ?? 0) | 0];
      const k = `f${key.join(',')}`;
      if (!seen.has(k)) {
        seen.add(k);
        fw.push({ key, svc: i });
      }
      return;
    }
    if (!s.addr || s.port === undefined) return;
    const key = [s.family, protoNumber(s.protocol), s.addr.w[0] | 0, s.addr.w[1] | 0, s.addr.w[2] | 0, s.addr.w[3] | 0, s.port];
    const k = `t${key.join(',')}`;
    if (!seen.has(k)) {
      seen.add(k);
      tuples.push({ key, svc: i });
    }
    if (s.port === 21) flags |= L.IVF_FTP;
    if (s.port === 0) flags |= L.IVF_NULLPORT;
  });
  w.set(at + L.IV_FLAGS, flags);
  const [th, tm] = table(w, L.TUPLE_SLOT, tuples);
  w.set(at + L.IV_TUPLE, th);
  w.set(at + L.IV_TUPLE_MASK, tm);
  const [fh, fm] = table(w, L.FW_SLOT, fw);
  w.set(at + L.IV_FW, fh);
  w.set(at + L.IV_FW_MASK, fm);
  const recs = w.alloc(svcs.length * L.VS_WORDS);
  w.set(at + L.IV_SVCS, recs);
  const sorted = state.realOrder === 'sorted';
  svcs.forEach((s, i) => {
    const r = recs + i * L.VS_WORDS;
    if (s.reals.length > L.MAX_REALS) out.ok = false;
    const code = schedCode(s.scheduler, sorted && s.reals.length > 1);
    w.set(r + L.VS_SCHED, code);
    let f = 0;
    if (s.schedFlags.includes('sh-port')) f |= L.VSF_SH_PORT;
    if (s.schedFlags.includes('sh-fallback')) f |= L.VSF_SH_FALLBACK;
    if (s.schedFlags.includes('mh-port')) f |= L.VSF_MH_PORT;
    if (s.schedFlags.includes('mh-fallback')) f |= L.VSF_MH_FALLBACK;
    if (s.reals.some((x) => x.activeConns !== undefined)) f |= L.VSF_DUMP_CONNS;
    w.set(r + L.VS_FLAGS, f);
    w.set(r + L.VS_NREALS, s.reals.length);
    w.set(r + L.VS_PROTO, s.protocol === 'fwmark' ? -1 : protoNumber(s.protocol));
    w.set(r + L.VS_PORT, s.port ?? -1);
    w.set(r + L.VS_FAMILY, s.addr ? s.addr.family : 0);
    for (let k = 0; k < 4; k++) w.set(r + L.VS_ADDR + k, s.addr ? s.addr.w[k] : 0);
    const rl = w.alloc(s.reals.length * L.RL_WORDS);
    w.set(r + L.VS_REALS, rl);
    s.reals.forEach((x, j) => {
      const b = rl + j * L.RL_WORDS;
      for (let k = 0; k < 4; k++) w.set(b + L.RL_ADDR + k, x.addr.w[k]);
      w.set(b + L.RL_PORT, x.port);
      w.set(b + L.RL_FWD, x.forward === 'masq' ? 0 : x.forward === 'gate' ? 1 : 2);
      w.set(b + L.RL_WEIGHT, x.weight);
      w.set(b + L.RL_UPPER, x.upperThreshold && x.upperThreshold > 0 ? x.upperThreshold : 0);
      w.set(b + L.RL_ACT, x.activeConns ?? 0);
      w.set(b + L.RL_INACT, x.inactiveConns ?? 0);
      const g = out.reals.length;
      out.reals.push([i, j]);
      w.set(b + L.RL_GLOBAL, g);
      const ep = formatEndpoint(x.addr, x.port);
      let l = out.byEndpoint.get(ep);
      if (!l) out.byEndpoint.set(ep, (l = []));
      l.push(g);
    });
    let tab: Int32Array | null = null;
    if (code === L.SCHED_SH) tab = shTable(s);
    else if (code === L.SCHED_DH) tab = dhTable(s);
    else if (code === L.SCHED_MH) tab = mhTable(s);
    if (tab) {
      const t = w.alloc(tab.length);
      for (let k = 0; k < tab.length; k++) w.set(t + k, tab[k]);
      w.set(r + L.VS_TABLE, t);
    } else w.set(r + L.VS_TABLE, -1);
    const notes = notesOf(state, i);
    for (const [slot, texts] of [[L.VS_NOTES0, notes.withoutCounts], [L.VS_NOTES1, notes.withCounts]] as const) {
      const n = w.push(texts.length);
      for (const t of texts) w.push(strings.id(t));
      w.set(r + slot, n);
    }
    w.set(r + L.VS_NOTE_EMPTY, strings.id(notes.empty));
  });
  return out;
}

