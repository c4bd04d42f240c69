// `landfall scale` as scripts use it: arguments, the --json contract on stdout (and nothing else
// there), the table and progress on stderr, the chart file, and exit code 2 for a bad request.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliArgv } from '../helpers/bundled.js';
import { parseScaleArgs } from '../../src/scale/cli.js';
import { normalizeScaleOptions, parseMixSpec, resolveServiceMix, ScaleOptionsError } from '../../src/scale/options.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'landfall-scale-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function landfall(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliArgv(root), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('parseScaleArgs', () => {
  it('reads the contract options', () => {
    const p = parseScaleArgs(['--services', '1000,4000', '--endpoints', '5', '--modes', 'iptables,ipvs', '--packets', '200', '--seed', '9', '--kernel', '--json', '--svg', 'x.svg', '--mix', 'clusterip=0.5,lb=0.1']);
    expect(p).toEqual({
      options: { services: [1000, 4000], endpoints: 5, modes: ['iptables', 'ipvs'], kernel: true, packets: 200, seed: 9, mix: { clusterIP: 0.5, loadBalancer: 0.1 } },
      json: true,
      svg: 'x.svg',
      help: false,
    });
  });

  it('defaults to both modes and refuses what is not a number', () => {
    expect(parseScaleArgs(['--services', '10', '--endpoints', '1']).options.modes).toEqual(['iptables', 'ipvs']);
    expect(() => parseScaleArgs(['--services', '10,x', '--endpoints', '1'])).toThrow(/comma-separated integers/);
    expect(() => parseScaleArgs(['--endpoints', '1'])).toThrow(/--services/);
    expect(() => parseScaleArgs(['--services', '10', '--endpoints', '1', '--mix', 'nodeport'])).toThrow(/key=fraction/);
  });
});

describe('service mix', () => {
  it('derives the third of ClusterIP / NodePort / LoadBalancer from the other two', () => {
    const m = resolveServiceMix(parseMixSpec('clusterip=0.5,lb=0.1,etplocal=0,affinity=0.25'));
    expect(m.nodePort).toBeCloseTo(0.4, 12);
    expect(m.loadBalancer).toBe(0.1);
    expect(m.etpLocal).toBe(0);
    expect(m.affinity).toBe(0.25);
  });

  it('keeps the default NodePort:LoadBalancer ratio when only clusterip is given', () => {
    const m = resolveServiceMix({ clusterIP: 0.4 });
    expect(m.nodePort).toBeCloseTo(0.4, 12);
    expect(m.loadBalancer).toBeCloseTo(0.2, 12);
  });

  it('refuses shares that do not add up', () => {
    expect(() => resolveServiceMix({ clusterIP: 0.5, nodePort: 0.5, loadBalancer: 0.5 })).toThrow(ScaleOptionsError);
    expect(() => resolveServiceMix({ clusterIP: 0.9, nodePort: 0.3 })).toThrow(/exceed 1/);
    expect(() => resolveServiceMix({ affinity: 1.5 })).toThrow(/mix.affinity/);
  });
});

describe('normalizeScaleOptions', () => {
  it('bounds every request before it runs', () => {
    expect(() => normalizeScaleOptions({ services: [], endpoints: 1, modes: ['iptables'] })).toThrow(/services/);
    expect(() => normalizeScaleOptions({ services: [1000], endpoints: 1, modes: ['bpf' as never] })).toThrow(/unknown mode/);
    expect(() => normalizeScaleOptions({ services: [100000], endpoints: 100, modes: ['iptables'] })).toThrow(/endpoints/);
    expect(() => normalizeScaleOptions({ services: [10], endpoints: 1, modes: ['iptables'], packets: 0 })).toThrow(/packets/);
    const n = normalizeScaleOptions({ services: [40, 10, 40], endpoints: 1, modes: ['ipvs', 'ipvs'] });
    expect(n.services).toEqual([10, 40]);
    expect(n.modes).toEqual(['ipvs']);
    expect(normalizeScaleOptions({ services: [10], endpoints: 1, modes: ['nftables', 'iptables'] }).modes).toEqual(['nftables', 'iptables']);
    expect(n.packets).toBe(5000);
  });
});

describe('landfall scale (the command)', () => {
  it('--json prints only the JSON answer on stdout; the table and progress go to stderr; --svg writes the chart', () => {
    const svg = join(dir, 'chart.svg');
    const r = landfall(['scale', '--services', '3,6', '--endpoints', '2', '--modes', 'iptables,ipvs', '--packets', '50', '--json', '--svg', svg]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { points: { mode: string; services: number; error: string | null }[] };
    expect(out.points.map((p) => `${p.mode}:${p.services}`)).toEqual(['iptables:3', 'ipvs:3', 'iptables:6', 'ipvs:6']);
    expect(out.points.every((p) => p.error === null)).toBe(true);
    expect(r.stderr).toMatch(/mode\s+services\s+endp\s+rules/);
    expect(r.stderr).toContain('done: 4 point(s), 0 failed');
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('still prints the figures when the chart cannot be written, and exits 2 saying why', () => {
    const r = landfall(['scale', '--services', '3', '--endpoints', '1', '--modes', 'iptables', '--packets', '20', '--json', '--svg', join(dir, 'missing', 'chart.svg')]);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as { points: unknown[] }).points).toHaveLength(1);
    expect(r.stderr).toContain('--svg');
  });

  it('exits 2 with the reason for a request it will not run', () => {
    const r = landfall(['scale', '--services', '10', '--endpoints', '1', '--modes', 'bpf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown mode "bpf"');
    expect(r.stdout).toBe('');
  });
});
