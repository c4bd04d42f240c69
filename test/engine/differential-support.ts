// Differential test support: enumerate every walk of a packet by replay (as explain.ts does:
// depth-first over decision points, branch 0 first, zero-probability branches skipped) on BOTH
// engines and demand identical records at every step.

import { expect } from 'vitest';
import type { Engine, WalkPacket, WalkRecord } from '../../src/engine/types.js';

/** Every walk of `pkt` on both engines; returns the number of walks compared. Stops at `cap`. */
export function compareAllWalks(ref: Engine, wasm: Engine, pkt: WalkPacket, cap = 200): number {
  let walks = 0;
  const stack: number[][] = [[]];
  while (stack.length > 0 && walks < cap) {
    const forced = stack.pop()!;
    const a = ref.walk(pkt, forced);
    const b = wasm.walk(pkt, forced);
    // Equal JSON texts are equal records; only when the texts differ (key order, or a real
    // difference) does the deep comparison run, and then it decides, with its diff.
    const ta = JSON.stringify(a);
    const tb = JSON.stringify(b);
    if (tb !== ta) expect(JSON.parse(tb)).toEqual(JSON.parse(ta));
    walks++;
    // Children: for each decision at or after the forced prefix, the other non-zero branches.
    for (let i = a.decisions.length - 1; i >= forced.length; i--) {
      const d = a.decisions[i];
      for (let br = d.probs.length - 1; br >= 1; br--) {
        if (d.probs[br] <= 0) continue;
        const next = a.decisions.slice(0, i).map((x) => x.taken);
        next.push(br);
        stack.push(next);
      }
    }
  }
  return walks;
}

/** A record as plain data (no undefined-valued keys), for deep equality. */
export function normalize(r: WalkRecord): WalkRecord {
  return JSON.parse(JSON.stringify(r)) as WalkRecord;
}
