// The upload path's speed-ups (issue 12, ninth round) must not change a byte of what it hands on:
// for every bundled example, every corpus dump (strict and lenient), the iptables and nft fixtures,
// and generated kube-proxy dumps (iptables in both styles and heavy service mixes, IPVS, nftables
// in every shape) the shared form compileShared packs (services answer, rule and chain tables, text
// block, JSON sections, words) and the services answer hash to what the commit before the round
// produced (shared-bytes.fixture.json, recorded with LANDFALL_RECORD=1 from a0f9d24). The clock is
// frozen, so the summary's parse and compile times are 0 on both sides.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, vi } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import { generateIpvs } from '../../src/kube/generate-ipvs.js';
import { generateNftables } from '../../src/kube/generate-nft.js';
import { LandfallError } from '../../src/model/errors.js';
import { compileShared, sharedServicesJson } from '../../src/shared-ruleset.js';
import { commonCases, pinDigests, root, sha, type DigestCase } from './digest-cases.js';

const FIXTURE = fileURLToPath(new URL('./shared-bytes.fixture.json', import.meta.url));

function cases(): DigestCase[] {
  const node = { addresses: ['192.168.0.10'], podCIDRs: ['10.244.1.0/24'] };
  const out = commonCases(node);
  for (const f of ['nft-upstream-v1.35.txt', 'nft-v1.36-node-excerpt.txt', 'nft/kube-proxy-v1.35.nft', 'nft/kube-proxy-v1.35.json', 'nft/features.nft', 'nft/blog-v1.36.txt', 'nft/nft-node.json']) {
    out.push({ name: `fixtures/${f}`, bundle: { nftables: readFileSync(root(`test/fixtures/${f}`), 'utf8'), node } });
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
  // A text that is not ASCII among many that are (the text block's bytes are not its characters).
  const accented = generateIptables({ services: 40, endpoints: 2, seed: 9 }).text.replace('-A KUBE-SERVICES ', '-A KUBE-SERVICES -m comment --comment "café ☕" ');
  out.push({ name: 'generated iptables with a comment that is not ASCII', bundle: { iptables: accented } });
  return out;
}

/** Digests of the shared form and its services answer (or the error). */
function digest(c: DigestCase): Record<string, string> {
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
  pinDigests(FIXTURE, cases(), digest);
});
