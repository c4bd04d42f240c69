// The service load path, phase by phase, on one dump: parse (parseIptablesSave), number
// (numberRules), compile (the engine's compileRuleset), discover services, the ruleset id.
// Run under `node --cpu-prof` to see where each phase's time goes; prints phase times as JSON.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile/parse-profile.ts FILE [repeat]

import { readFileSync } from 'node:fs';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import { numberRules, type Ruleset } from '../../src/model/ruleset.js';
import { compileRuleset } from '../../src/engine/wasm.js';
import { resolveNode } from '../../src/engine/packet.js';
import { discoverServices } from '../../src/kube/services.js';
import { rulesetId } from '../../src/ruleset.js';

const file = process.argv[2];
if (!file) throw new Error('usage: parse-profile.ts FILE [repeat]');
const repeat = Number(process.argv[3] ?? 1);
const text = readFileSync(file, 'utf8');
const node = { addresses: ['192.168.0.10'], podCIDRs: ['10.244.1.0/24'] };
for (let r = 0; r < repeat; r++) {
  // CPU time (user + system, µs) per phase: steadier than wall time on a shared machine.
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const t: number[] = [cpu()];
  const d = parseIptablesSave(text);
  t.push(cpu());
  const rs: Ruleset = { v4: d.v4, v6: d.v6, ipsets: { sets: new Map(), supplied: false }, node: resolveNode(node), warnings: d.warnings, ...numberRules(d.v4, d.v6) };
  t.push(cpu());
  const c = compileRuleset(rs);
  t.push(cpu());
  const svcs = discoverServices(rs);
  t.push(cpu());
  const id = rulesetId({ iptables: text, node });
  t.push(cpu());
  const ms = (i: number) => Math.round(t[i + 1]! - t[i]!);
  console.log(JSON.stringify({ cpu: true, rules: rs.rules.length, words: c.words.length, services: svcs.length, id: id.slice(0, 12), parseMs: ms(0), numberMs: ms(1), compileMs: ms(2), servicesMs: ms(3), idMs: ms(4) }));
}
