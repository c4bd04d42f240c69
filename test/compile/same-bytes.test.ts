// The load path's speed-ups (issue 12) must not change a single answer: for every bundled example,
// every corpus dump (strict and lenient), the iptables fixtures and generated kube-proxy dumps
// (iptables, IPVS, nftables), the parsed model, the warnings, the compiled words and the services
// answer hash to what the object-graph parser and compiler produced before the rewrite
// (same-bytes.fixture.json, recorded with LANDFALL_RECORD=1 from the commit before it).
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { compileRuleset } from '../../src/engine/wasm.js';
import { generateIptables } from '../../src/kube/generate.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { generateNftables } from '../../src/kube/generate-nft.js';
import { discoverServices } from '../../src/kube/services.js';
import { LandfallError } from '../../src/model/errors.js';
import { buildRuleset } from '../../src/ruleset.js';
import { commonCases, pinDigests, sha, type DigestCase } from './digest-cases.js';

const FIXTURE = fileURLToPath(new URL('./same-bytes.fixture.json', import.meta.url));

function cases(): DigestCase[] {
  const out = commonCases();
  const big = generateIptables({ services: 400, endpoints: 10, seed: 5 });
  out.push({ name: 'generated iptables 400×10', bundle: { iptables: big.text, node: big.node } });
  const ipvs = generateIpvs({ services: 50, endpoints: 3, seed: 6 });
  out.push({ name: 'generated ipvs', bundle: { iptables: ipvs.iptables, ipvs: ipvs.ipvs, ipsets: ipvs.ipsets, node: ipvs.node } });
  const nft = generateNftables({ services: 50, endpoints: 3, seed: 7 });
  out.push({ name: 'generated nftables', bundle: { nftables: nft.listing, node: nft.node } });
  return out;
}

/** Digests of everything the load path produces for one case (or its error). */
function digest(c: DigestCase): Record<string, string> {
  let built;
  try {
    built = buildRuleset(c.bundle, { lenient: c.lenient });
  } catch (e) {
    if (e instanceof LandfallError) return { error: e.message };
    throw e;
  }
  const rs = built.ruleset;
  const model = JSON.stringify(rs.rules.map((r) => [r.line, r.text, r.table, r.chain, r.index, r.family, r.evalCost, r.handle, r.matches, r.target]));
  const chains = JSON.stringify(rs.chains.map((c) => [c.chain.name, c.chain.builtin, c.chain.policy, c.chain.line, c.chain.rules.length, c.table, c.family, c.source, c.tableId]));
  const compiled = compileRuleset(rs);
  const words = new Uint8Array(compiled.words.buffer, compiled.words.byteOffset, compiled.words.byteLength);
  return {
    rules: String(rs.rules.length),
    model: sha(model),
    chains: sha(chains),
    ruleChain: sha(new Uint8Array(rs.ruleChain.buffer)),
    registrations: sha(JSON.stringify(rs.registrations)),
    warnings: sha(JSON.stringify(built.warnings)),
    words: sha(words),
    strings: sha(JSON.stringify([compiled.strings, compiled.recentLists, compiled.stats])),
    services: sha(JSON.stringify(discoverServices(rs))),
  };
}

describe('the load path gives the same model, compiled bytes and services as before its rewrite', () => {
  pinDigests(FIXTURE, cases(), digest);
});
