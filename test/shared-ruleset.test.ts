// The shared compiled form answers exactly like the parsed ruleset: explain, trace and services
// on every bundled example and a generated node, with the parse callback never called (and
// called, once, only when the wasm engine hands a walk back).

import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { EXAMPLES_DIR, readNodeDir } from '../src/examples.js';
import { generateIptables } from '../src/kube/generate.js';
import { buildRuleset, loadRuleset } from '../src/ruleset.js';
import type { RulesetBundle } from '../src/model/contracts.js';
import { compileShared, fileFill, isCurrentShared, openSharedRuleset } from '../src/shared-ruleset.js';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Query } from '../src/model/contracts.js';

function queriesFor(rs: ReturnType<typeof loadRuleset>): Query[] {
  const qs: Query[] = [];
  for (const s of rs.services()) {
    if (!s.clusterIP) continue;
    for (const origin of ['pod', 'host', 'external'] as const) {
      qs.push({ protocol: s.protocol, destination: s.clusterIP, port: s.port, origin });
    }
    const node = rs.ruleset.node.addresses.find((a) => a.family === (s.clusterIP.includes(':') ? 6 : 4));
    if (s.nodePort !== undefined && node) {
      const dst = node.family === 4 ? [node.w[0]! >>> 24, (node.w[0]! >>> 16) & 255, (node.w[0]! >>> 8) & 255, node.w[0]! & 255].join('.') : undefined;
      if (dst) qs.push({ protocol: s.protocol, destination: dst, port: s.nodePort, origin: 'external' });
    }
  }
  const v6 = rs.ruleset.v4 === undefined;
  qs.push({ protocol: 'tcp', destination: v6 ? '2001:db8::1' : '1.1.1.1', port: 443, origin: 'pod' });
  qs.push({ protocol: 'icmp', destination: v6 ? '2001:db8::1' : '8.8.8.8', origin: 'host' });
  return qs;
}

function compare(name: string, bundle: RulesetBundle): void {
  test(`${name}: explain, trace and services equal the parsed ruleset's, without parsing`, () => {
    const lib = loadRuleset(bundle);
    const packed = compileShared(bundle);
    expect(packed.id).toBe(lib.id);
    expect(isCurrentShared(packed.shared)).toBe(true);
    let parses = 0;
    const sh = openSharedRuleset(packed.shared, {
      parse: () => {
        parses++;
        return buildRuleset(bundle).ruleset;
      },
    });
    expect(sh.id).toBe(lib.id);
    expect(sh.warnings).toEqual(lib.warnings);
    // Every rule as answers see it, read back from the compact tables (texts without their
    // `-A <chain> ` prefix, derived index and family, handles).
    const view = (r: Record<string, unknown>) => ({ ...r, matches: undefined, target: undefined });
    expect(sh.ruleset.rules.length).toBe(lib.ruleset.rules.length);
    for (let i = 0; i < lib.ruleset.rules.length; i++) expect(view({ ...sh.ruleset.rules[i]! })).toEqual(view({ ...lib.ruleset.rules[i]! }));
    expect(JSON.parse(sh.servicesJson())).toEqual(JSON.parse(JSON.stringify({ services: lib.services() })));
    const qs = queriesFor(lib);
    expect(qs.length).toBeGreaterThanOrEqual(2);
    for (const q of qs) expect(JSON.parse(JSON.stringify(sh.explain(q)))).toEqual(JSON.parse(JSON.stringify(lib.explain(q))));
    expect(sh.trace(qs, { seed: 7 })).toEqual(lib.trace(qs, { seed: 7 }));
    expect(parses).toBe((lib.engine as { stats?: { hostWalks: number; hostTraces: number } }).stats!.hostWalks + (lib.engine as { stats?: { hostTraces: number } }).stats!.hostTraces > 0 ? 1 : 0);
  });
}

describe('shared compiled form', () => {
  for (const dir of readdirSync(EXAMPLES_DIR, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const bundle = readNodeDir(join(EXAMPLES_DIR, dir.name));
    expect(bundle, dir.name).not.toBeNull();
    compare(`example ${dir.name}`, bundle!);
  }
  // nft -j input: rules carry handles (the 4th rule column).
  test('nft JSON input: rules read back with their handles (the 4th rule column) and lines', () => {
    const bundle = { nftables: readFileSync(join(fileURLToPath(new URL('./fixtures/nft/', import.meta.url)), 'nft-node.json'), 'utf8') };
    const lib = loadRuleset(bundle);
    const sh = openSharedRuleset(compileShared(bundle).shared);
    const view = (r: Record<string, unknown>) => ({ ...r, matches: undefined, target: undefined });
    expect(lib.ruleset.rules.some((r) => typeof (r as { handle?: number }).handle === 'number')).toBe(true);
    expect(sh.ruleset.rules.length).toBe(lib.ruleset.rules.length);
    for (let i = 0; i < lib.ruleset.rules.length; i++) expect(view({ ...sh.ruleset.rules[i]! })).toEqual(view({ ...lib.ruleset.rules[i]! }));
  });
  const g = generateIptables({ services: 60, endpoints: 4, seed: 3 });
  compare('generated 60 services', { iptables: g.text, node: g.node });

  test('a walk handed to the host parses once, through the callback', () => {
    // An interface name the wasm interface blocks cannot hold (non-ASCII) sends the walk to the host.
    const bundle: RulesetBundle = {
      iptables: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -i vethé1 -j DROP\n-A FORWARD -d 10.0.0.2/32 -j REJECT\nCOMMIT\n',
      node: { addresses: ['192.168.0.10'] },
    };
    const lib = loadRuleset(bundle);
    let parses = 0;
    const sh = openSharedRuleset(compileShared(bundle).shared, {
      parse: () => {
        parses++;
        return buildRuleset(bundle).ruleset;
      },
    });
    for (const destination of ['10.0.0.1', '10.0.0.2']) {
      const q: Query = { protocol: 'tcp', destination, port: 80, origin: 'external' };
      expect(sh.explain(q)).toEqual(lib.explain(q));
    }
    expect(parses).toBe(1);
    expect(() => openSharedRuleset(compileShared(bundle).shared).explain({ protocol: 'tcp', destination: '10.0.0.1', port: 80 })).toThrow(/without its dump/);
  });

  test('a buffer from another format or layout version is refused', () => {
    const { shared } = compileShared(readNodeDir(join(EXAMPLES_DIR, 'kube-node'))!);
    new Int32Array(shared)[2]! += 1;
    expect(isCurrentShared(shared)).toBe(false);
    expect(() => openSharedRuleset(shared)).toThrow(/version/);
  });
});

describe('fileFill (a resident part reading its words from its file)', () => {
  test("a thread's fills run one at a time, in the order asked, whatever the file: each reads its range exactly", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'landfall-fill-'));
    try {
      // Two files of distinct bytes; fills of both asked for at once, as two opens in flight would.
      const bytes = [0, 1].map((k) => Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7 + k * 13) & 255));
      const paths = bytes.map((_, k) => join(dir, `${k}.compiled`));
      await Promise.all(paths.map((p, k) => writeFile(p, bytes[k]!)));
      const fills = paths.map(fileFill);
      // FileHandle#read is what every fill reads with: count those in flight.
      const probe = await open(paths[0]!, 'r');
      const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<unknown> };
      await probe.close();
      const read = proto.read;
      let inFlight = 0;
      let most = 0;
      proto.read = async function (this: unknown, ...a: unknown[]) {
        most = Math.max(most, ++inFlight);
        try {
          return await read.apply(this, a);
        } finally {
          inFlight--;
        }
      };
      // A big range, then a small one of the other file, then more of the first.
      const asked: [number, number, number][] = [[0, 0, 2 << 20], [1, 5, 16], [0, 2 << 20, 1 << 20], [1, 1 << 20, 1 << 20]];
      const done: number[] = [];
      try {
        const outs = await Promise.all(
          asked.map(([k, at, length], i) => {
            const into = new Uint8Array(length);
            return fills[k]!(into, at).then(() => (done.push(i), into));
          }),
        );
        outs.forEach((into, i) => {
          const [k, at, length] = asked[i]!;
          expect(Buffer.from(into).equals(Buffer.from(bytes[k]!.subarray(at, at + length)))).toBe(true);
        });
      } finally {
        proto.read = read;
      }
      expect(most).toBe(1);
      // The small read asked second waits for the big one asked first.
      expect(done).toEqual([0, 1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
