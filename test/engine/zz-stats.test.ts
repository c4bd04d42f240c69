import fc from 'fast-check';
import { test } from 'vitest';
import { compileRuleset } from '../../src/compile/compile.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { arbScenario } from './differential-gen.js';
test('stats', () => {
  const s = { runs: 0, scen: 0, walks: 0, dec: 0, unc: 0, notes: 0, drop: 0, reject: 0, nat: 0, path: 0, re: 0 };
  fc.assert(fc.property(arbScenario(), ({ rs, pkts }) => {
    s.scen++;
    if (compileRuleset(rs, { minRun: 2 }).stats.runs > 0) s.runs++;
    const ref = createReferenceEngine(rs);
    for (const p of pkts) { const r = ref.walk(p, []); s.walks++; if (r.decisions.length) s.dec++; if (r.uncertain.length) s.unc++; if (r.notes.length) s.notes++; if (r.verdict==='drop') s.drop++; if (r.verdict==='reject') s.reject++; if (r.masquerade || r.dst.w[0] !== p.dst.w[0]) s.nat++; s.path += r.path.length; s.re += r.rulesEvaluated; }
  }), { numRuns: 400 });
  console.log(JSON.stringify(s));
});
