// The upload path's speed-ups (issue 12, ninth round) must not change a byte of what it hands on:
// for every bundled example, every corpus dump (strict and lenient), the iptables and nft fixtures,
// and generated kube-proxy dumps (iptables in both styles and heavy service mixes, IPVS, nftables
// in every shape) the shared form compileShared packs (services answer, rule and chain tables, text
// block, JSON sections, words) and the services answer hash to what the commit before the round
// produced (shared-bytes.fixture.json, recorded with LANDFALL_RECORD=1 from a0f9d24). The clock is
// frozen, so the summary's parse and compile times are 0 on both sides.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { generateNftables } from '../../src/kube/generate-nft.js';
import { LandfallError } from '../../src/model/errors.js';
import type { RulesetBundle } from '../../src/model/contracts.js';
import { compileShared, sharedServicesJson } from '../../src/shared-ruleset.js';

const FIXTURE = fileURLToPath(new URL('./shared-bytes.fixture.json', import.meta.url));
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex').slice(0, 24);

interface Case {
  name: string;
  bundle: RulesetBundle;
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
    const b: RulesetBundle = {};
    if (existsSync(`${dir}/iptables.txt`)) b.iptables = readFileSync(`${dir}/iptables.txt`, 'utf8');
    if (existsSync(`${dir}/ipvs.txt`)) b.ipvs = readFileSync(`${dir}/ipvs.txt`, 'utf8');
    for (const lenient of [false, true]) out.push({ name: `corpus/${name}${lenient ? ' (lenient)' : ''}`, bundle: b, lenient });
  }
  const node = { addresses: ['192.168.0.10'], podCIDRs: ['10.244.1.0/24'] };
  for (const f of ['hooks.txt', 'kube-affinity.txt', 'kube-basic.txt', 'nft/iptables-nft.save']) {
    out.push({ name: `fixtures/${f}`, bundle: { iptables: readFileSync(root(`test/fixtures/${f}`), 'utf8'), node } });
  }
  out.push({ name: 'fixtures/ipvs-mode', bundle: { iptables: readFileSync(root('test/fixtures/ipvs-mode.txt'), 'utf8'), ipvs: readFileSync(root('test/fixtures/ipvs-mode.ipvs'), 'utf8') } });
  for (const f of ['nft-upstream-v1.35.txt', 'nft-v1.36-node-excerpt.txt', 'nft/kube-proxy-v1.35.nft', 'nft/kube-proxy-v1.35.json', 'nft/features.nft', 'nft/blog-v1.36.txt', 'nft/nft-node.json']) {
    out.push({ name: `fixtures/${f}`, bundle: { nftables: readFileSync(root(`test/fixtures/${f}`), 'utf8'), node } });
  }
  for (const seed of [1, 2, 3]) {
    const g = generateIptables({ services: 60, endpoints: 4, seed, style: seed === 2 ? 'restore' : 'save', masqueradeAll: seed === 3, nfacct: seed === 1, localhostNodePorts: seed !== 1 });
    out.push({ name: `generated iptables seed ${seed}`, bundle: { iptables: g.text, node: g.node } });
  }
  // Every kind of service often: LB firewalls and source ranges, eTP/iTP Local, affinity, no endpoints.
  const mix = { nodePort: 0.4, loadBalancer: 0.4, externalIPs: 0.3, etpLocal: 0.5, itpLocal: 0.3, affinity: 0.4, noEndpoints: 0.1, sourceRanges: 0.8 };
  const heavy = generateIptables({ services: 300, endpoints: 40, seed: 8, mix });
  out.push({ name: 'generated iptables 300×40, every kind', bundle: { iptables: heavy.text, node: heavy.node } });
  out.push({ name: 'generated iptables 300×40, no node context', bundle: { iptables: heavy.text } });
  const ipvs = generateIpvs({ services: 50, endpoints: 3, seed: 6, mix });
  out.push({ name: 'generated ipvs', bundle: { iptables: ipvs.iptables, ipvs: ipvs.ipvs, ipsets: ipvs.ipsets, node: ipvs.node } });
  for (const shape of ['v1.35', 'v1.36', 'v1.37'] as const) {
    const nft = generateNftables({ services: 50, endpoints: 3, seed: 7, shape, mix });
    out.push({ name: `generated nftables ${shape}`, bundle: { nftables: nft.listing, node: nft.node } });
  }
  // A text that is not ASCII among many that are: the chunked writer hands the form to the joined construction.
  const accented = generateIptables({ services: 40, endpoints: 2, seed: 9 }).text.replace('-A KUBE-SERVICES ', '-A KUBE-SERVICES -m comment --comment "café ☕" ');
  out.push({ name: 'generated iptables with a comment that is not ASCII', bundle: { iptables: accented } });
  return out;
}

/** Digests of the shared form and its services answer (or the error). */
function digest(c: Case): Record<string, string> {
  let shared: SharedArrayBuffer;
  try {
    shared = compileShared(c.bundle, { lenient: c.lenient }).shared;
  } catch (e) {
    if (e instanceof LandfallError) return { error: e.message };
    throw e;
  }
  return { bytes: String(shared.byteLength), shared: sha(new Uint8Array(shared)), services: sha(sharedServicesJson(shared)) };
}

describe('the upload path packs the same shared form and services answer as before its speed-ups', () => {
  beforeAll(() => {
    vi.spyOn(performance, 'now').mockReturnValue(0);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });
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
