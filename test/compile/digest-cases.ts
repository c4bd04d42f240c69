// What the byte-pinning tests (same-bytes.test.ts, shared-bytes.test.ts) share: the inputs both
// load (every bundled example, every corpus dump strict and lenient, the iptables fixtures, generated
// kube-proxy dumps) and the record-or-compare harness against a fixture of digests by case name.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { readNodeDir } from '../../src/examples.js';
import { generateIptables } from '../../src/kube/generate.js';
import type { NodeInput, RulesetBundle } from '../../src/model/contracts.js';

export const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
export const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex').slice(0, 24);

export interface DigestCase {
  name: string;
  bundle: RulesetBundle;
  lenient?: boolean;
}

/** The inputs both tests load; `fixtureNode` is the node context given with the iptables fixtures (none when left out). */
export function commonCases(fixtureNode?: NodeInput): DigestCase[] {
  const out: DigestCase[] = [];
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
  for (const f of ['hooks.txt', 'kube-affinity.txt', 'kube-basic.txt', 'nft/iptables-nft.save']) {
    const iptables = readFileSync(root(`test/fixtures/${f}`), 'utf8');
    out.push({ name: `fixtures/${f}`, bundle: fixtureNode ? { iptables, node: fixtureNode } : { iptables } });
  }
  out.push({ name: 'fixtures/ipvs-mode', bundle: { iptables: readFileSync(root('test/fixtures/ipvs-mode.txt'), 'utf8'), ipvs: readFileSync(root('test/fixtures/ipvs-mode.ipvs'), 'utf8') } });
  for (const seed of [1, 2, 3]) {
    const g = generateIptables({ services: 60, endpoints: 4, seed, style: seed === 2 ? 'restore' : 'save', masqueradeAll: seed === 3, nfacct: seed === 1, localhostNodePorts: seed !== 1 });
    out.push({ name: `generated iptables seed ${seed}`, bundle: { iptables: g.text, node: g.node } });
  }
  return out;
}

/**
 * Inside a describe: with LANDFALL_RECORD=1 one test writes every case's digest to `fixture`;
 * otherwise the cases must be exactly the fixture's and each must digest to what it recorded.
 */
export function pinDigests(fixture: string, all: DigestCase[], digest: (c: DigestCase) => Record<string, string>): void {
  if (process.env.LANDFALL_RECORD === '1') {
    it('records the fixture', () => {
      const rec: Record<string, Record<string, string>> = {};
      for (const c of all) rec[c.name] = digest(c);
      writeFileSync(fixture, `${JSON.stringify(rec, null, 1)}\n`);
    });
    return;
  }
  const want = JSON.parse(readFileSync(fixture, 'utf8')) as Record<string, Record<string, string>>;
  it('covers every case the fixture has', () => {
    expect(all.map((c) => c.name).sort()).toEqual(Object.keys(want).sort());
  });
  for (const c of all) {
    it(c.name, () => {
      expect(digest(c)).toEqual(want[c.name]);
    });
  }
}
