// `landfall explain --nft FILE` as users run it: nft text from a file, nft JSON from stdin.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliArgv } from './helpers/bundled.js';
import { loadRuleset } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const fx = (f: string) => join(root, 'test/fixtures/nft', f);

function landfall(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [...cliArgv(root), ...args], { cwd: root, input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('landfall explain --nft', () => {
  it('--json prints the library answer for nft text', () => {
    const r = landfall(['explain', '--nft', fx('kube-proxy-v1.35.txt'), '--node-ip', '192.168.0.2', '--pod-cidr', '10.0.0.0/8', '--proto', 'tcp', '--dst', '172.30.0.44:80', '--src', '10.180.0.2', '--origin', 'pod', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lib = loadRuleset({ nftables: readFileSync(fx('kube-proxy-v1.35.txt'), 'utf8'), node: { addresses: ['192.168.0.2'], podCIDRs: ['10.0.0.0/8'] } });
    expect(JSON.parse(r.stdout)).toEqual(lib.explain({ protocol: 'tcp', destination: '172.30.0.44', port: 80, source: '10.180.0.2', origin: 'pod' }));
  });

  it('reads nft -j JSON from stdin with --nft - and prints the walk with rule handles', () => {
    const r = landfall(['explain', '--nft', '-', '--node-ip', '192.168.0.2', '--proto', 'udp', '--dst', '172.30.0.41:80', '--src', '10.180.0.2', '--origin', 'pod', '--path'], readFileSync(fx('kube-proxy-v1.35.json'), 'utf8'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/100%\s+reject/);
    expect(r.stdout).toMatch(/handle\s+24\s+kube-proxy\/cluster-ips-check#1\s+ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"/);
  });

  it('a malformed listing exits 2 naming line and column', () => {
    const r = landfall(['explain', '--nft', '-', '--proto', 'tcp', '--dst', '10.0.0.1:80'], 'table ip t {\n\tchain c {\n\t\ttype filter hook input priority nope;\n\t}\n}\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(':3:35');
  });
});
