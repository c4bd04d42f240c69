// ipset semantics against the kernel (the `ipset test` lookup; test/kernel/ipset.test.ts drives the
// packet path with kube-proxy-like rules): random sets of every type landfall models are restored into
// a throwaway network namespace, and for random probes the kernel's own lookup (`ipset test`,
// which walks the prefix lengths and honours `nomatch` exactly as the packet path does) is
// compared with setMatch() on the equivalent packet. The kernel's `ipset save` and `ipset list`
// output of those sets must also parse back into the same membership.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAddr } from '../../src/model/addr.js';
import type { IpsetState } from '../../src/model/ipset.js';
import { setMatch, type SetPacket } from '../../src/engine/ipset-match.js';
import { mulberry32 } from '../../src/engine/types.js';
import { parseIpsets } from '../../src/parse/ipset.js';

const exec = promisify(execFile);
const NS = `lf-ipsetlk-${process.pid}`;

function unavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const t of ['ip', 'ipset']) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return `needs ${t} (apt-get install iproute2 ipset)`;
    }
  }
  try {
    execFileSync('ip', ['netns', 'add', `${NS}-probe`], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', `${NS}-probe`, 'ipset', 'create', 'probe', 'hash:ip'], { stdio: 'ignore' });
  } catch (e) {
    return `cannot use ipset in a network namespace: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', `${NS}-probe`], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  return null;
}

const reason = unavailable();
if (reason) console.warn(`[kernel ipset] skipped: ${reason}`);

const rnd = mulberry32(20261122);
const int = (n: number) => rnd() % n;
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
// Small address and port spaces so that probes hit entries, nested prefixes and nomatch often.
const ip = () => `10.${int(3)}.${int(4)}.${int(8)}`;
const net = () => {
  const p = pick([8, 16, 20, 24, 28, 30, 32]);
  return `${ip()}/${p}`;
};
const PROTOS = ['tcp', 'udp'] as const;
const port = () => pick([53, 80, 443, 8080]);
const proto = () => pick(PROTOS);

const ip6 = () => `fd00:${int(3)}::${int(4)}:${int(8)}`;
const net6 = () => `${ip6()}/${pick([16, 32, 64, 96, 112, 120, 128])}`;

interface Spec {
  name: string;
  type: string;
  /** Extra create options. */
  create?: string;
  dirs: ('src' | 'dst')[];
  entry: () => string;
  probe: () => string;
  nomatch: boolean;
}

const SPECS: Spec[] = [
  { name: 'IP', type: 'hash:ip', dirs: ['dst'], entry: ip, probe: ip, nomatch: false },
  { name: 'NET', type: 'hash:net', dirs: ['dst'], entry: net, probe: ip, nomatch: true },
  { name: 'IPPORT', type: 'hash:ip,port', dirs: ['dst', 'dst'], entry: () => `${ip()},${proto()}:${port()}`, probe: () => `${ip()},${proto()}:${port()}`, nomatch: false },
  { name: 'NETPORT', type: 'hash:net,port', dirs: ['dst', 'dst'], entry: () => `${net()},${proto()}:${port()}`, probe: () => `${ip()},${proto()}:${port()}`, nomatch: true },
  { name: 'IPPORTIP', type: 'hash:ip,port,ip', dirs: ['dst', 'dst', 'src'], entry: () => `${ip()},${proto()}:${port()},${ip()}`, probe: () => `${ip()},${proto()}:${port()},${ip()}`, nomatch: false },
  { name: 'IPPORTNET', type: 'hash:ip,port,net', dirs: ['dst', 'dst', 'src'], entry: () => `${ip()},tcp:${port()},${net()}`, probe: () => `${ip()},tcp:${port()},${ip()}`, nomatch: true },
  { name: 'NETIFACE', type: 'hash:net,iface', dirs: ['src', 'src'], entry: () => `${net()},${pick(['eth0', 'eth1', 'cni0'])}`, probe: () => `${ip()},${pick(['eth0', 'eth1', 'cni0'])}`, nomatch: true },
  { name: 'NET6', type: 'hash:net', create: 'family inet6', dirs: ['src'], entry: net6, probe: ip6, nomatch: true },
  { name: 'IPPORT6', type: 'hash:ip,port', create: 'family inet6', dirs: ['src', 'src'], entry: () => `${ip6()},${proto()}:${port()}`, probe: () => `${ip6()},${proto()}:${port()}`, nomatch: false },
  { name: 'MASKED', type: 'hash:ip', create: 'family inet netmask 24', dirs: ['dst'], entry: ip, probe: ip, nomatch: false },
  { name: 'PORTS', type: 'bitmap:port', dirs: ['dst'], entry: () => String(pick([53, 80, 443, 8080, 30000, 30001])), probe: () => String(pick([53, 80, 443, 8080, 30000, 30001, 30002])), nomatch: false },
];

/** The packet setMatch sees for a probe element (directions as in SPECS). */
function packetFor(spec: Spec, elem: string): SetPacket {
  const f = elem.split(',');
  const v6 = spec.create?.includes('inet6') ?? false;
  const pkt: SetPacket = {
    family: v6 ? 6 : 4, proto: 6, src: parseAddr(v6 ? '2001:db8::1' : '192.0.2.1')!, dst: parseAddr(v6 ? '2001:db8::2' : '192.0.2.2')!,
    sport: 1, dport: 1, inIface: null, outIface: null,
  };
  if (spec.name === 'NET6') {
    pkt.src = parseAddr(f[0])!;
    return pkt;
  }
  if (spec.name === 'IPPORT6') {
    pkt.src = parseAddr(f[0])!;
    const [p, n] = f[1].split(':');
    pkt.proto = p === 'udp' ? 17 : 6;
    pkt.sport = Number(n);
    return pkt;
  }
  const protoPort = (s: string) => {
    const [p, n] = s.split(':');
    pkt.proto = p === 'udp' ? 17 : 6;
    pkt.dport = Number(n);
  };
  switch (spec.type) {
    case 'hash:ip':
    case 'hash:net':
      pkt.dst = parseAddr(f[0])!;
      break;
    case 'hash:ip,port':
    case 'hash:net,port':
      pkt.dst = parseAddr(f[0])!;
      protoPort(f[1]);
      break;
    case 'hash:ip,port,ip':
    case 'hash:ip,port,net':
      pkt.dst = parseAddr(f[0])!;
      protoPort(f[1]);
      pkt.src = parseAddr(f[2])!;
      break;
    case 'hash:net,iface':
      pkt.src = parseAddr(f[0])!;
      pkt.inIface = { name: f[1], prefix: false };
      break;
    case 'bitmap:port':
      pkt.dport = Number(f[0]);
      break;
  }
  return pkt;
}

describe.skipIf(reason !== null)(`ipset lookups vs the kernel (ipset test)${reason ? ` — skipped: ${reason}` : ''}`, () => {
  let restore = '';
  const probes: { spec: Spec; elem: string }[] = [];
  const kernel = new Map<string, boolean>();
  let saved: IpsetState;
  let listed: IpsetState;

  beforeAll(async () => {
    const lines: string[] = [];
    for (const s of SPECS) {
      lines.push(s.type === 'bitmap:port' ? `create ${s.name} bitmap:port range 0-65535` : `create ${s.name} ${s.type} ${s.create ?? 'family inet'} hashsize 1024 maxelem 65536`);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const e = s.entry();
        if (seen.has(e)) continue;
        seen.add(e);
        lines.push(`add ${s.name} ${e}${s.nomatch && int(4) === 0 ? ' nomatch' : ''}`);
      }
      for (let i = 0; i < 50; i++) probes.push({ spec: s, elem: s.probe() });
    }
    restore = lines.join('\n') + '\n';
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['netns', 'exec', NS, 'ipset', 'restore', '-exist'], { input: restore });
    // `ipset test` exits 0 when the element is in the set (nomatch elements count as not in it).
    // A few at a time: each is a process.
    const queue = [...probes];
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        const key = `${p.spec.name} ${p.elem}`;
        if (kernel.has(key)) continue;
        const r = await exec('ip', ['netns', 'exec', NS, 'ipset', 'test', p.spec.name, p.elem]).then(() => true, () => false);
        kernel.set(key, r);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    saved = parseIpsets(execFileSync('ip', ['netns', 'exec', NS, 'ipset', 'save'], { encoding: 'utf8' }));
    listed = parseIpsets(execFileSync('ip', ['netns', 'exec', NS, 'ipset', 'list'], { encoding: 'utf8' }));
  }, 120_000);

  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      /* never created */
    }
  });

  for (const spec of SPECS) {
    it(`${spec.type}: setMatch agrees with the kernel on every probe (our parse of the restore file, of ipset save, of ipset list)`, () => {
      const ours = parseIpsets(restore);
      const wrong: string[] = [];
      for (const p of probes) {
        if (p.spec !== spec) continue;
        const want = kernel.get(`${spec.name} ${p.elem}`);
        for (const [label, st] of [['restore', ours], ['save', saved], ['list', listed]] as const) {
          const got = setMatch(st, spec.name, spec.dirs, packetFor(spec, p.elem));
          if (got !== want) wrong.push(`${label}: ${spec.name} ${p.elem}: kernel ${want}, landfall ${got}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  it('the probes exercise both answers', () => {
    const values = [...kernel.values()];
    expect(values.filter(Boolean).length).toBeGreaterThan(20);
    expect(values.filter((v) => !v).length).toBeGreaterThan(20);
  });
});
