// The bundled examples claim to be what iptables-save prints on a real node. Load each into a
// throwaway network namespace (ipsets first) and read it back: the kernel must print the same
// rules, in the same order, with the same counters.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

function labAvailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const tool of ['ip', 'ipset', 'iptables-restore', 'iptables-save', 'ip6tables-restore', 'ip6tables-save']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  const probe = `lfprobe${process.pid}e`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return 'cannot create a network namespace';
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

const skipReason = labAvailable();
if (skipReason) console.warn(`test/kube/kernel-examples: skipped (${skipReason})`);

const root = new URL('../../examples/', import.meta.url);

/**
 * What to compare: no timestamped header lines; nfacct objects cannot be created without the
 * nfacct tool, so those (accounting-only) matches are left out on both sides; protocol 4 is
 * printed by name where /etc/protocols has one (`ipencap` on Debian, `ipv4` on RHEL).
 */
function normalize(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/ -m nfacct --nfacct-name {1,2}\S+/g, '').replace(/ -p (ipencap|ipv4) /g, ' -p 4 '))
    .join('\n');
}

let seq = 0;
function roundTrip(name: string, file: string, v6: boolean): { input: string; output: string } {
  const dir = new URL(`${name}/`, root);
  const input = normalize(readFileSync(new URL(file, dir), 'utf8'));
  const counters = /^\[\d+:\d+\] -A /m.test(input);
  const ns = `lfex${process.pid}x${seq++}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const ipsets = new URL('ipsets.txt', dir);
    if (existsSync(ipsets)) execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'restore'], { input: readFileSync(ipsets) });
    const [restore, save] = v6 ? ['ip6tables-restore', 'ip6tables-save'] : ['iptables-restore', 'iptables-save'];
    execFileSync('ip', ['netns', 'exec', ns, restore, ...(counters ? ['-c'] : [])], { input });
    const output = execFileSync('ip', ['netns', 'exec', ns, save, ...(counters ? ['-c'] : [])], { encoding: 'utf8' });
    return { input, output: normalize(output) };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

describe.skipIf(skipReason !== null)('bundled examples against the kernel', () => {
  it.each([
    ['kube-node', 'iptables.txt', false],
    ['eks-node', 'iptables.txt', false],
    ['calico-node', 'iptables.txt', false],
    ['ipv6-node', 'ip6tables.txt', true],
  ] as const)('%s comes back from the kernel unchanged', (name, file, v6) => {
    const { input, output } = roundTrip(name, file, v6);
    expect(output).toBe(input);
  });

  // nft-node: flannel's iptables-nft tables and kube-proxy's nft table on one node; both come back
  // as loaded (the nft table exactly as `nft list table ip kube-proxy` prints it).
  it.skipIf(spawnSync('sh', ['-c', 'command -v nft']).status !== 0)('nft-node comes back from the kernel unchanged (iptables-save and nft list)', () => {
    const dir = new URL('nft-node/', root);
    const iptables = normalize(readFileSync(new URL('iptables.txt', dir), 'utf8'));
    const nft = readFileSync(new URL('nftables.txt', dir), 'utf8');
    const ns = `lfex${process.pid}x${seq++}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: iptables });
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: nft });
      expect(normalize(execFileSync('ip', ['netns', 'exec', ns, 'iptables-save'], { encoding: 'utf8' }))).toBe(iptables);
      expect(execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'kube-proxy'], { encoding: 'utf8' })).toBe(nft);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
