// Endpoint ladders and SEP chains read back by hand-written dumps whose shapes kube-proxy does not
// write but other tools, older versions or hand edits leave on nodes: uneven statistic shares, jumps
// that are not to SEP chains, SEP chains that are missing, lack a DNAT or carry extra rules, one SEP
// chain reached twice, services with more endpoints than a short scan covers. Discovery reads SEP
// chains through a per-table index; these pin the answers that index must keep.

import { describe, expect, it } from 'vitest';
import { discoverServices } from '../../src/kube/services.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import type { Service } from '../../src/model/contracts.js';
import { nodeContext } from './helpers.js';

const H = 'AAAAAAAAAAAAAAAA';
const sep = (n: number): string => `KUBE-SEP-${'B'.repeat(14)}${String.fromCharCode(65 + Math.floor(n / 26))}${String.fromCharCode(65 + (n % 26))}`;
const HALF = '-m statistic --mode random --probability 0.50000000000';

/** A nat table from its rules (chains declared from them); `drop` chains are taken out of the model after parsing. */
function discover(rules: string[], node = { podCIDRs: ['10.244.0.0/24'] }, drop: string[] = []): Service[] {
  const chains = new Set<string>(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-MARK-MASQ']);
  for (const r of rules) chains.add(r.split(' ')[1]!);
  const text = ['*nat', ...[...chains].map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');
  const { v4 } = parseIptablesSave(text);
  for (const c of drop) v4!.tables.get('nat')!.chains.delete(c);
  return discoverServices({ v4, node: nodeContext(node) });
}

const cluster = `-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-${H}`;
const dnat = (n: number, to: string): string => `-A ${sep(n)} -p tcp -m tcp -j DNAT --to-destination ${to}`;

describe('iptables-mode endpoint ladders', () => {
  it('uneven shares: non-SEP jumps take nothing, a missing or DNAT-less SEP chain takes its share, a SEP chain reached twice sums', () => {
    const [s] = discover([
      cluster,
      `-A KUBE-NODEPORTS -p tcp -m comment --comment "ns/web:http" -m tcp --dport 30080 -j KUBE-EXT-${H}`,
      `-A KUBE-EXT-${H} -m addrtype --src-type LOCAL -j KUBE-SVC-${H}`,
      `-A KUBE-EXT-${H} -j KUBE-SVL-${H}`,
      `-A KUBE-SVC-${H} ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(1)}`, // 1/2
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(9)}`, // 1/4 to a chain the model lacks
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(8)}`, // 1/8 to a chain without DNAT
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(1)}`, // 1/16 more to the first
      `-A KUBE-SVC-${H} -j ${sep(2)}`, // the remaining 1/16
      `-A KUBE-SVL-${H} -j ${sep(2)}`,
      `-A KUBE-SVL-${H} -j ${sep(3)}`,
      `-A ${sep(1)} -s 10.244.1.5/32 -j KUBE-MARK-MASQ`,
      dnat(1, '10.244.1.5:8080'),
      dnat(2, '10.244.2.6:8080'),
      dnat(2, '10.9.9.9:1'), // a second DNAT is never reached
      dnat(3, '10.244.0.7:8080'),
      `-A ${sep(8)} -j KUBE-MARK-MASQ`,
      dnat(9, '10.244.9.9:8080'),
    ], undefined, [sep(9)]);
    expect(s).toMatchObject({ name: 'ns/web:http', clusterIP: '10.96.0.1', port: 80, nodePort: 30080, externalTrafficPolicy: 'Local', status: 'ok' });
    expect(s!.endpoints).toEqual([
      { endpoint: '10.244.1.5:8080', probability: 0.5625, local: false },
      { endpoint: '10.244.2.6:8080', probability: 0.0625, local: true }, // also on the Local chain
      { endpoint: '10.244.0.7:8080', probability: 0, local: true }, // only the Local chain reaches it
    ]);
  });

  it('affinity lookups take no share; their timeout is the service affinity', () => {
    const [s] = discover([
      cluster,
      `-A KUBE-SVC-${H} -m recent --rcheck --seconds 600 --reap --name ${sep(1)} --mask 255.255.255.255 --rsource -j ${sep(1)}`,
      `-A KUBE-SVC-${H} -m recent --rcheck --seconds 900 --reap --name ${sep(2)} --mask 255.255.255.255 --rsource -j ${sep(2)}`,
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(1)}`,
      `-A KUBE-SVC-${H} -j ${sep(2)}`,
      `-A ${sep(1)} -p tcp -m recent --set --name ${sep(1)} --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.5:8080`,
      dnat(2, '10.244.2.6:8080'),
    ]);
    expect(s!.affinitySeconds).toBe(600);
    expect(s!.endpoints.map((e) => e.probability)).toEqual([0.5, 0.5]);
  });

  it('more endpoints than a scan covers: order of first reach, a late repeat sums, no node context leaves locality out', () => {
    const n = 40;
    const rules = [cluster];
    for (let i = 0; i < n; i++) rules.push(`-A KUBE-SVC-${H} ${HALF} -j ${sep(i)}`, dnat(i, `10.244.1.${i + 1}:80`));
    rules.push(`-A KUBE-SVC-${H} -j ${sep(3)}`);
    const [s] = discover(rules, { podCIDRs: [] });
    expect(s!.endpoints).toHaveLength(n);
    s!.endpoints.forEach((e, i) => {
      expect(e.endpoint).toBe(`10.244.1.${i + 1}:80`);
      expect(e.probability).toBe(2 ** -(i + 1) + (i === 3 ? 2 ** -n : 0));
      expect('local' in e).toBe(false);
    });
    expect(s!.endpoints.reduce((a, e) => a + e.probability, 0)).toBeCloseTo(1, 12);
  });

  it('SEP-named chains only count by exact name: a lower-case or short "SEP" target is an ordinary jump', () => {
    const [s] = discover([
      cluster,
      `-A KUBE-SVC-${H} ${HALF} -j KUBE-SEP-bbbbbbbbbbbbbbbb`,
      `-A KUBE-SVC-${H} ${HALF} -j KUBE-SEP-BBBBBBBBBBBBBBB`,
      `-A KUBE-SVC-${H} ${HALF} -j ${sep(1)}`,
      `-A KUBE-SVC-${H} -j ${sep(2)}`,
      `-A KUBE-SEP-bbbbbbbbbbbbbbbb -p tcp -m tcp -j DNAT --to-destination 10.244.7.7:80`,
      `-A KUBE-SEP-BBBBBBBBBBBBBBB -p tcp -m tcp -j DNAT --to-destination 10.244.8.8:80`,
      dnat(1, '10.244.1.5:8080'),
      dnat(2, '10.244.2.6:8080'),
    ]);
    expect(s!.endpoints.map((e) => [e.endpoint, e.probability])).toEqual([
      ['10.244.1.5:8080', 0.5],
      ['10.244.2.6:8080', 0.5],
    ]);
  });
});
