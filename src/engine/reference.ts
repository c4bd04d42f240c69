// The reference engine: a plain TypeScript walk of one packet through the node's hooks, exactly as
// SEMANTICS.md says. It is the oracle the WASM engine is tested against, so it favours being
// obviously right over being fast; the only precomputation is what keeps string work off the
// per-rule path (chain ids for hooks and jump targets, kernel-ordered matches).

import type { Ruleset } from '../model/ruleset.js';
import { createRuleIndex } from './reference-index.js';
import { Walker, type TraceState } from './reference-walk.js';
import type { Engine, TraceRecord, WalkPacket, WalkRecord } from './types.js';
import { mulberry32 } from './types.js';

export function createReferenceEngine(rs: Ruleset): Engine {
  const index = createRuleIndex(rs);
  return {
    name: 'reference',
    walk(pkt: WalkPacket, forced: ArrayLike<number>): WalkRecord {
      return new Walker(index, pkt, { forced }).run();
    },
    trace(pkts: WalkPacket[], seed: number): TraceRecord[] {
      const state: TraceState = { rng: mulberry32(seed), nth: new Map(), recent: new Map() };
      const out: TraceRecord[] = [];
      for (const pkt of pkts) {
        // The batch's recent lists start from what each packet's query says about earlier
        // connections and then accumulate what the walked packets record.
        for (const [name, entries] of pkt.recent) {
          let list = state.recent.get(name);
          if (!list) state.recent.set(name, (list = new Map()));
          for (const [k, e] of entries) list.set(k, { ...e });
        }
        const r = new Walker(index, pkt, { trace: state }).run();
        out.push({
          verdict: r.verdict,
          dst: r.dst,
          dport: r.dport,
          src: r.src,
          masquerade: r.masquerade,
          rulesEvaluated: r.rulesEvaluated,
          assumptions: r.assumptions.filter((a) => a.how === 'decided'),
        });
      }
      return out;
    },
  };
}
