// The load path's speed-ups (issue 12) must not change a single answer: for every bundled example,
// every corpus dump (strict and lenient), the iptables fixtures and generated kube-proxy dumps
// (iptables, IPVS, nftables), the parsed model, the warnings, the compiled words and the services
// answer hash to what the object-graph parser and compiler produced before the rewrite
// (same-bytes.fixture.json, recorded with LANDFALL_RECORD=1 from the commit before it).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileRuleset } from '../../src/engine/wasm.js';
import { readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { generateNftables } from '../../src/kube/generate-nft.js';
import { discoverServices } from '../../src/kube/services.js';
import { LandfallError } from '../../src/model/errors.js';
import { buildRuleset, type LoadInput } from '../../src/ruleset.js';

const FIXTURE = fileURLToPath(new URL('./same-bytes.fixture.json', import.meta.url));
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex').slice(0, 24);

interface Case {
  name: string;
  bundle: LoadInput;
  lenient?: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const name of readdirSync(root('examples')).sort()) {
    const b = readNodeDir(root(`examples/${name}`));
    if (b) out.push({ name: `examples/${name}`, bundle: b });
  }
  for (const name of readdirSync(root('test/corpus')).sort()) {
    const dir = root(`test/corpus/${name}`);
    const b: LoadInput = {};
    if (existsSync(`${dir}/iptables.txt`)) b.iptables = readFileSync(`${dir}/iptables.txt`, 'utf8');
    if (existsSync(`${dir}/ipvs.txt`)) b.ipvs = readFileSync(`${dir}/ipvs.txt`, 'utf8');
    for (const lenient of [false, true]) out.push({ name: `corpus/${name}${lenient ? ' (lenient)' : ''}`, bundle: b, lenient });
  }
  for (const f of ['hooks.txt', 'kube-affinity.txt', 'kube-basic.txt', 'nft/iptables-nft.save']) {
    out.push({ name: `fixtures/${f}`, bundle: { iptables: readFileSync(root(`test/fixtures/${f}`), 'utf8') } });
  }
  out.push({ name: 'fixtures/ipvs-mode', bundle: { iptables: readFileSync(root('test/fixtures/ipvs-mode.txt'), 'utf8'), ipvs: readFileSync(root('test/fixtures/ipvs-mode.ipvs'), 'utf8') } });
  for (const seed of [1, 2, 3]) {
    const g = generateIptables({ services: 60, endpoints: 4, seed, style: seed === 2 ? 'restore' : 'save', masqueradeAll: seed === 3, nfacct: seed === 1, localhostNodePorts: seed !== 1 });
    out.push({ name: `generated iptables seed ${seed}`, bundle: { iptables: g.text, node: g.node } });
  }
  const big = generateIptables({ services: 400, endpoints: 10, seed: 5 });
  out.push({ name: 'generated iptables 400×10', bundle: { iptables: big.text, node: big.node } });
  const ipvs = generateIpvs({ services: 50, endpoints: 3, seed: 6 });
  out.push({ name: 'generated ipvs', bundle: { iptables: ipvs.iptables, ipvs: ipvs.ipvs, ipsets: ipvs.ipsets, node: ipvs.node } });
  const nft = generateNftables({ services: 50, endpoints: 3, seed: 7 });
  out.push({ name: 'generated nftables', bundle: { nftables: nft.listing, node: nft.node } });
  return out;
}

/** Digests of everything the load path produces for one case (or its error). */
function digest(c: Case): Record<string, string> {
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
  const all = cases();
  if (process.env.LANDFALL_RECORD === '1') {
    it('records the fixture', () => {
      const rec: Record<string, Record<string, string>> = {};
      for (const c of all) rec[c.name] = digest(c);
      writeFileSync(FIXTURE, `${JSON.stringify(rec, null, 1)}\n`);
    });
    return;
  }
  const want = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Record<string, string>>;
  it('covers every case the fixture has', () => {
    expect(all.map((c) => c.name).sort()).toEqual(Object.keys(want).sort());
  });
  for (const c of all) {
    it(c.name, () => {
      expect(digest(c)).toEqual(want[c.name]);
    });
  }
});
