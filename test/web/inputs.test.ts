// The dashboard's input handling: telling a pasted or dropped dump's kind from its content (on the
// bundled example nodes and a real `nft list ruleset` listing), and composing the upload body.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compose, detectKind, pieceForSource, type InputKind } from '../../web/src/inputs.js';

const ex = (p: string): string => readFileSync(new URL(`../../examples/${p}`, import.meta.url), 'utf8');

// From `nft list ruleset` on a NixOS host (NixOS/nixpkgs#81172), shortened.
const NFT_LISTING = `table ip filter {
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t\tmeta l4proto tcp ip saddr 192.0.2.7 tcp dport 22 counter packets 0 bytes 0 accept
\t\tcounter packets 105754692 bytes 7736336680 jump nixos-fw
\t}
}
`;

describe('detectKind', () => {
  const cases: [string, InputKind][] = [
    ['kube-node/iptables.txt', 'iptables'],
    ['kube-node/node.json', 'node'],
    ['ipv6-node/ip6tables.txt', 'ip6tables'],
    ['ipvs-node/ipvs.txt', 'ipvs'],
    ['ipvs-node/ipsets.txt', 'ipsets'],
    ['calico-node/ipsets.txt', 'ipsets'],
    ['eks-node/iptables.txt', 'iptables'],
    ['nft-node/nftables.txt', 'nftables'],
    ['nft-node/iptables.txt', 'iptables'],
  ];
  it.each(cases)('%s (content only) is %s', (file, kind) => {
    expect(detectKind(ex(file))).toBe(kind);
  });
  it('tells nft text and nft JSON from iptables-save', () => {
    expect(detectKind(NFT_LISTING)).toBe('nftables');
    expect(detectKind(JSON.stringify({ nftables: [{ metainfo: { version: '1.0.9', json_schema_version: 1 } }] }))).toBe('nftables');
  });
  it('tells a snapshot and a bundle from a node context', () => {
    expect(detectKind(JSON.stringify({ format: 'landfall-snapshot/1', iptables: ex('kube-node/iptables.txt') }))).toBe('snapshot');
    expect(detectKind(JSON.stringify({ iptables: '*nat\nCOMMIT\n' }))).toBe('bundle');
  });
});

describe('compose', () => {
  it('joins pieces into one bundle and keeps the node addresses for presets', () => {
    const c = compose([
      { name: 'iptables.txt', text: ex('kube-node/iptables.txt'), kind: 'iptables' },
      { name: 'node.json', text: ex('kube-node/node.json'), kind: 'node' },
    ]);
    const body = JSON.parse(c.body) as { iptables: string; node: { addresses: string[] } };
    expect(body.iptables).toBe(ex('kube-node/iptables.txt'));
    expect(c.nodeAddresses).toEqual(body.node.addresses);
    expect(c.nodeAddresses.length).toBeGreaterThan(0);
  });
  it('refuses what the server would: no rule dump, two of a kind, a bundle beside other pieces', () => {
    expect(() => compose([])).toThrow(/add a file/);
    expect(() => compose([{ name: 'node.json', text: ex('kube-node/node.json'), kind: 'node' }])).toThrow(/rule dump/);
    const ipt = { name: 'a', text: ex('kube-node/iptables.txt'), kind: 'iptables' as const };
    expect(() => compose([ipt, { ...ipt, name: 'b' }])).toThrow(/two inputs/);
    expect(() => compose([ipt, { name: 's', text: '{"format":"landfall-snapshot/1"}', kind: 'snapshot' }])).toThrow(/whole upload/);
  });
  it('sends an IPv6-only node without an iptables field (an empty dump is refused by the server)', () => {
    const c = compose([{ name: 'ip6', text: ex('ipv6-node/ip6tables.txt'), kind: 'ip6tables' }]);
    expect(JSON.parse(c.body)).toEqual({ ip6tables: ex('ipv6-node/ip6tables.txt') });
  });
  it('finds the piece a parse error names', () => {
    const pieces = [
      { name: 'i', text: '', kind: 'iptables' as const },
      { name: 'v', text: '', kind: 'ipvs' as const },
    ];
    expect(pieceForSource(pieces, 'ipvs')?.name).toBe('v');
    expect(pieceForSource(pieces, 'snapshot.iptables')?.name).toBe('i');
  });
});
