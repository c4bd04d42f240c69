// -m set on the packet path: iptables rules that pick a DNAT target by ipset lookups (every set type
// kube-proxy's IPVS mode uses, plus hash:net with nomatch and hash:net,iface), loaded with their
// sets into the kernel lab; real connections from outside show which rule the kernel matched, and
// explain must name the same endpoint. Complements test/kernel/ipset.test.ts (`ipset test`, the
// userspace path): here the kernel's packet-side lookup (kadt) decides, with ports, protocols and
// interfaces taken from real packets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelLab } from '../../src/lab/index.js';
import { loadRuleset, type LoadedRuleset } from '../../src/ruleset.js';
import type { Query } from '../../src/model/contracts.js';
import { availability, labSuiteTitle } from '../lab/support.js';
import { optionalTools } from '../../src/lab/index.js';

const IPSETS = `create DSTNET hash:net family inet hashsize 1024 maxelem 65536
add DSTNET 10.96.0.0/16
add DSTNET 10.96.8.0/24 nomatch
add DSTNET 10.96.8.128/25
create IPPORT hash:ip,port family inet hashsize 1024 maxelem 65536
add IPPORT 10.97.0.1,tcp:80
add IPPORT 10.97.0.1,udp:81
create SRCNET hash:net family inet hashsize 1024 maxelem 65536
add SRCNET 198.51.100.0/24
add SRCNET 198.51.100.64/26 nomatch
create IPPORTNET hash:ip,port,net family inet hashsize 1024 maxelem 65536
add IPPORTNET 10.98.0.1,tcp:443,203.0.113.0/28
create IFACE hash:net,iface family inet hashsize 1024 maxelem 65536
add IFACE 203.0.113.128/25,eth0
add IFACE 203.0.113.192/26,eth9
create PORTS bitmap:port range 0-65535
add PORTS 30080
add PORTS 30090-30095
`;

const IPTABLES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SETS - [0:0]
-A PREROUTING -s 203.0.113.0/24 -j SETS
-A PREROUTING -s 198.51.100.0/24 -j SETS
-A SETS -p tcp -m set --match-set DSTNET dst -j DNAT --to-destination 10.244.1.10:8080
-A SETS -p tcp -m set --match-set IPPORT dst,dst -j DNAT --to-destination 10.244.1.11:8080
-A SETS -p tcp -m set --match-set IPPORTNET dst,dst,src -j DNAT --to-destination 10.244.1.12:8080
-A SETS -p tcp -m set --match-set SRCNET src -j DNAT --to-destination 10.244.1.13:8080
-A SETS -p tcp -m set --match-set IFACE src,src -j DNAT --to-destination 10.244.1.14:8080
-A SETS -p tcp -m set --match-set PORTS dst -j DNAT --to-destination 10.244.1.15:8080
-A SETS -p tcp -m set ! --match-set IPPORT dst,dst -j DNAT --to-destination 10.244.1.16:8080
COMMIT
`;

/** [client, destination, port, where it must land], on both sides of every entry and nomatch. */
const PROBES: [string, string, number, string][] = [
  ['203.0.113.10', '10.96.1.1', 80, '10.244.1.10:8080'], // DSTNET /16
  ['203.0.113.10', '10.96.8.5', 80, '10.244.1.16:8080'], // DSTNET nomatch /24 → falls through
  ['203.0.113.10', '10.96.8.200', 80, '10.244.1.10:8080'], // /25 inside the nomatch /24 → match
  ['203.0.113.10', '10.97.0.1', 80, '10.244.1.11:8080'], // IPPORT tcp:80
  ['203.0.113.10', '10.97.0.1', 81, '10.244.1.16:8080'], // udp:81 only → not for tcp
  ['203.0.113.5', '10.98.0.1', 443, '10.244.1.12:8080'], // IPPORTNET source inside /28
  ['203.0.113.20', '10.98.0.1', 443, '10.244.1.16:8080'], // source outside /28
  ['198.51.100.7', '10.99.0.1', 80, '10.244.1.13:8080'], // SRCNET
  ['198.51.100.70', '10.99.0.1', 80, '10.244.1.16:8080'], // SRCNET nomatch
  ['203.0.113.130', '10.99.0.1', 80, '10.244.1.14:8080'], // IFACE /25 on eth0
  ['203.0.113.200', '10.99.0.1', 80, '10.244.1.16:8080'], // IFACE: the more specific /26 is on eth9 → no match
  ['203.0.113.30', '10.99.0.1', 30080, '10.244.1.15:8080'], // PORTS
  ['203.0.113.30', '10.99.0.1', 30093, '10.244.1.15:8080'], // PORTS range
  ['203.0.113.30', '10.99.0.1', 30096, '10.244.1.16:8080'], // not in PORTS → the ! IPPORT rule
];

const tools = optionalTools();
const reason = !availability.ok ? null : tools.ipset ? null : 'the ipset tool is not installed';
const title = reason ? `-m set on the packet path — skipped: ${reason}` : labSuiteTitle('-m set on the packet path: kernel vs explain');

describe.skipIf(!availability.ok || reason !== null)(title, () => {
  let lab: KernelLab;
  let engines: LoadedRuleset[] = [];

  beforeAll(async () => {
    lab = await KernelLab.create({ v6: null });
    await lab.load({ iptables: IPTABLES, ipsets: IPSETS });
    engines = (['reference', 'wasm'] as const).map((engine) => loadRuleset({ iptables: IPTABLES, ipsets: IPSETS, node: lab.nodeContext() }, { engine }));
  }, 120_000);

  afterAll(async () => {
    await lab?.close();
  });

  it('every probe lands where explain says', async () => {
    const wrong: string[] = [];
    for (const [source, destination, port, expected] of PROBES) {
      const observed = await lab.probe({ origin: 'external', proto: 'tcp', destination, port, source, count: 1, timeoutMs: 2_000 });
      const query: Query = { protocol: 'tcp', destination, port, source, origin: 'external' };
      const seen = observed.outcomes.map((o) => `${o.verdict} ${o.endpoint}`).join(', ');
      if (seen !== `accept ${expected}`) wrong.push(`${source} → ${destination}:${port}: kernel ${seen}; expected ${expected}`);
      for (const [i, rs] of engines.entries()) {
        const want = rs.explain(query).outcomes.map((o) => `${o.verdict} ${o.endpoint}`).join(', ');
        if (seen !== want) wrong.push(`${source} → ${destination}:${port}: kernel ${seen}; explain (${i ? 'wasm' : 'reference'}) ${want}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});
