// `landfall collect` and collect.sh on a real (throwaway) network namespace with rules, an
// address, a route and a policy rule loaded: both must write the same document (all but the
// time), and it must load and answer. Also the pure parts: notes for what a node lacks.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailability } from '../../src/lab/availability.js';
import { collectSnapshot, collectScript, formatSnapshot } from '../../src/collect/collect.js';
import { loadRuleset } from '../../src/ruleset.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const avail = await labAvailability();
const NS = `landfall-paste-collect-${process.pid}`;

const RULES = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  ':KUBE-SERVICES - [0:0]',
  ':KUBE-SVC-LANDFALL - [0:0]',
  ':KUBE-SEP-LANDFALL - [0:0]',
  '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  // Quotes and a backslash in a comment: JSON escaping in awk must match JSON.stringify.
  '-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "web \\"main\\" C:\\\\x" -m tcp --dport 80 -j KUBE-SVC-LANDFALL',
  '-A KUBE-SVC-LANDFALL -j KUBE-SEP-LANDFALL',
  '-A KUBE-SEP-LANDFALL -p tcp -m tcp -j DNAT --to-destination 10.244.1.5:8080',
  'COMMIT',
  '',
].join('\n');

function nsRun(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NS, ...args], { input, encoding: 'utf8', cwd: root, maxBuffer: 1 << 26 });
}

describe.skipIf(!avail.ok)(`collect on a namespace${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    const cmds = [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', 'lfp0', 'type', 'veth', 'peer', 'name', 'lfp1'],
      ['ip', 'link', 'set', 'lfp1', 'up'],
      ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'lfp0'],
      ['ip', 'link', 'set', 'lfp0', 'up'],
      ['ip', 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.1'],
      ['ip', 'route', 'add', 'default', 'via', '192.0.2.254', 'table', '100'],
      ['ip', 'rule', 'add', 'from', '10.244.1.0/24', 'table', '100', 'priority', '100'],
    ];
    for (const c of cmds) nsRun(c);
    nsRun(['iptables-restore'], RULES);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS]);
  });

  it('landfall collect and collect.sh write the same snapshot, and it loads and answers', () => {
    const fromNode = nsRun([process.execPath, '--import', 'tsx', 'src/cli.ts', 'collect']);
    const fromSh = nsRun(['sh', '-c', collectScript()]);
    // The collectors' time, and the times iptables-save prints in its own comments, differ.
    const noTime = (s: string) => s.replace(/"takenAt": "[^"]*"/, '"takenAt": ""').replace(/( on )[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \d{4}/g, '$1…');
    // Byte for byte, apart from the time each was taken.
    expect(noTime(fromSh)).toBe(noTime(fromNode));
    const snap = JSON.parse(fromSh);
    expect(snap.format).toBe('landfall-snapshot/1');
    expect(snap.takenAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(snap.iptables).toContain('--comment "web \\"main\\" C:\\\\x"');
    expect(JSON.parse(snap.addresses).some((l: { ifname: string }) => l.ifname === 'lfp0')).toBe(true);
    // Two JSON arrays (v4 then v6), as `ip -j` printed them.
    expect(snap.routes).toContain('"dst":"198.51.100.0/24"');
    expect(snap.rules).toContain('"src":"10.244.1.0"');
    const rs = loadRuleset({ snapshot: snap }, { engine: 'reference' });
    const r = rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 80 });
    expect(r.outcomes.map((o) => [o.probability, o.endpoint])).toEqual([[1, '10.244.1.5:8080']]);
    expect(rs.ruleset.node).toBeDefined();
  });
});

describe('collect.sh', () => {
  it('escapes a file into a JSON string exactly as JSON.stringify does', () => {
    const fn = /^json_file\(\) \{[\s\S]*?^\}$/m.exec(collectScript())![0];
    const dir = mkdtempSync(join(tmpdir(), 'landfall-collect-'));
    try {
      for (const text of ['a\\b"c\td\\\n\\x"\n', 'a\u0001b\rc\fd\u001be\bf\u001f\n', 'no newline', '', '\n\n', 'ünï ☃\n']) {
        const f = join(dir, 'in');
        writeFileSync(f, text);
        const out = execFileSync('sh', ['-c', `${fn}\njson_file "$1"`, 'sh', f], { encoding: 'utf8' });
        expect(out).toBe(JSON.stringify(text));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('collectSnapshot notes what the node lacks', () => {
  it('a missing tool, IPVS not loaded and a failing second command each leave a note, and the rest is kept', () => {
    const snap = collectSnapshot({
      which: (t) => (t === 'nft' || t === 'ipset' ? null : `/usr/sbin/${t}`),
      exists: () => false,
      now: () => new Date('2026-01-02T03:04:05.678Z'),
      exec: (argv) => {
        const cmd = argv.join(' ');
        if (cmd === 'ip -j -6 route show table all') return { status: 2, stdout: '', stderr: 'RTNETLINK answers: Address family not supported\nmore' };
        if (cmd === 'iptables-save') return { status: 0, stdout: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', stderr: '' };
        return { status: 0, stdout: '[]\n', stderr: '' };
      },
    });
    expect(snap.takenAt).toBe('2026-01-02T03:04:05Z');
    expect(snap.routes).toBe('[]\n');
    expect(snap.nftables).toBeUndefined();
    expect(snap.ipvs).toBeUndefined();
    expect(snap.notes).toEqual([
      'nftables: nft not found; left out',
      'ipvs: IPVS is not loaded (no /proc/net/ip_vs); left out',
      'ipsets: ipset not found; left out',
      'routes: `ip -j -6 route show table all` failed: RTNETLINK answers: Address family not supported',
    ]);
    expect(Object.keys(JSON.parse(formatSnapshot(snap)))).toEqual(['format', 'hostname', 'kernel', 'takenAt', 'iptables', 'ip6tables', 'addresses', 'routes', 'rules', 'notes']);
  });
});
