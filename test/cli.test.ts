// The `landfall` command as users and scripts run it: a real process, stdout/stderr/exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliArgv } from './helpers/bundled.js';
import { loadRuleset } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;

function landfall(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [...cliArgv(root), ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const example = (f: string) => join(root, 'examples/kube-node', f);

describe('landfall explain', () => {
  it('--json prints exactly the library answer and nothing else', () => {
    const r = landfall(['explain', '--iptables', example('iptables.txt'), '--node', example('node.json'), '--proto', 'udp', '--dst', '10.96.0.10:53', '--origin', 'pod', '--json']);
    expect(r.code).toBe(0);
    const lib = loadRuleset({ iptables: readFileSync(example('iptables.txt'), 'utf8'), node: JSON.parse(readFileSync(example('node.json'), 'utf8')) });
    expect(JSON.parse(r.stdout)).toEqual(lib.explain({ protocol: 'udp', destination: '10.96.0.10', port: 53, origin: 'pod' }));
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('prints a readable table and, with --path, the rule walk with line numbers', () => {
    const r = landfall(['explain', '--example', 'kube-node', '--proto', 'udp', '--dst', '10.96.0.10:53', '--origin', 'pod', '--path']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PROBABILITY\s+VERDICT\s+ENDPOINT/);
    expect(r.stdout).toMatch(/50\.00%\s+accept\s+10\.244\.\d+\.\d+:53/);
    expect(r.stdout).toMatch(/line\s+\d+\s+nat\/KUBE-SERVICES#\d+\s+-A KUBE-SERVICES -d 10\.96\.0\.10\/32/);
  });

  it('reads the dump from stdin with --iptables -', () => {
    const dump = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT', ''].join('\n');
    const r = landfall(['explain', '--iptables', '-', '--node-ip', '192.168.1.10', '--proto', 'tcp', '--dst', '10.1.2.3:80', '--json'], dump);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.outcomes).toEqual([expect.objectContaining({ probability: 1, verdict: 'drop', endpoint: '10.1.2.3:80' })]);
  });

  it('a dump that does not parse exits 2 naming line and column, pointing at the text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'landfall-cli-'));
    writeFileSync(join(dir, 'bad.txt'), '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.0.0.999 -j ACCEPT\nCOMMIT\n');
    const r = landfall(['explain', '--iptables', join(dir, 'bad.txt'), '--dst', '10.0.0.1:80']);
    expect(r.code).toBe(2);
    // Named by the file it came from, not the input kind.
    expect(r.stderr).toContain(`${join(dir, 'bad.txt')}:3:18: malformed address "10.0.0.999"`);
    expect(r.stderr).toMatch(/\n\s+\^/);
    expect(r.stdout).toBe('');
  });

  it('bad usage and bad query fields exit 2 with a message', () => {
    expect(landfall(['explain', '--example', 'kube-node']).stderr).toMatch(/--dst/);
    const bad = landfall(['explain', '--example', 'kube-node', '--dst', '10.96.0.300:53']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/destination/);
    expect(landfall(['frobnicate']).code).toBe(2);
  });
});

describe('landfall services and generate', () => {
  it('services --json lists kube-proxy services of the example', () => {
    const r = landfall(['services', '--example', 'kube-node', '--json']);
    expect(r.code).toBe(0);
    const { services } = JSON.parse(r.stdout) as { services: { name: string; clusterIP: string; endpoints: unknown[] }[] };
    const dns = services.find((s) => s.name === 'kube-system/kube-dns:dns');
    expect(dns).toMatchObject({ clusterIP: '10.96.0.10' });
    expect(dns!.endpoints).toHaveLength(2);
  });

  it('generate writes a dump that explain reads back, deterministic by seed', () => {
    const a = landfall(['generate', '--services', '20', '--endpoints', '3', '--seed', '7']);
    const b = landfall(['generate', '--services', '20', '--endpoints', '3', '--seed', '7']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const rs = loadRuleset({ iptables: a.stdout });
    expect(rs.services().length).toBeGreaterThanOrEqual(20);
  });

  it('generate --mode nftables prints a listing services reads back, in the shape asked for', () => {
    const v135 = landfall(['generate', '--services', '20', '--endpoints', '3', '--seed', '7', '--mode', 'nftables']);
    const v136 = landfall(['generate', '--services', '20', '--endpoints', '3', '--seed', '7', '--mode', 'nftables', '--shape', 'v1.36']);
    expect(v135.code).toBe(0);
    expect(v135.stdout.startsWith('table ip kube-proxy {')).toBe(true);
    expect(v135.stdout).toContain('chain mark-for-masquerade {');
    expect(v136.stdout).toContain('set hairpin-connections {');
    expect(loadRuleset({ nftables: v136.stdout }).services()).toHaveLength(20);
    expect(landfall(['generate', '--services', '2', '--endpoints', '1', '--mode', 'nftables', '--shape', 'v9']).code).toBe(2);
  });
});
