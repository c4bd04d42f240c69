// The walk with the node's own routing (ip -j addr / route / rule) on the kube-proxy fixture:
// exact locality, the outgoing interface per endpoint, MASQUERADE's source per interface, policy
// rules, and the routes that end a walk. Both engines, which must agree.
import { describe, expect, test } from 'vitest';
import { explain } from '../../src/engine/explain.js';
import { createReferenceEngine } from '../../src/engine/reference.js';
import { createWasmEngine } from '../../src/engine/wasm.js';
import type { ExplainResult, NodeInput, Query } from '../../src/model/contracts.js';
import { buildRs, fixture } from './build.js';

// A flannel node: 10.244.0.0/24 on cni0, the other nodes' pods over flannel.1 (VXLAN).
const ADDR = JSON.stringify([
  { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
  { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.1.10', prefixlen: 24, scope: 'global' }] },
  { ifname: 'flannel.1', addr_info: [{ family: 'inet', local: '10.244.0.0', prefixlen: 32, scope: 'global' }] },
  { ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.244.0.1', prefixlen: 24, scope: 'global' }] },
]);
const ROUTE = JSON.stringify([
  { dst: 'default', gateway: '192.168.1.1', dev: 'eth0' },
  { dst: '10.244.0.0/24', dev: 'cni0', prefsrc: '10.244.0.1' },
  { dst: '10.244.1.0/24', gateway: '10.244.1.0', dev: 'flannel.1', flags: ['onlink'] },
  { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'flannel.1', flags: ['onlink'] },
  { type: 'unreachable', dst: '198.51.100.0/24' },
  { dst: 'default', gateway: '192.168.1.254', dev: 'eth0', table: '100' },
  { type: 'local', dst: '192.168.1.10', dev: 'eth0', table: 'local' },
  { type: 'local', dst: '127.0.0.0/8', dev: 'lo', table: 'local' },
]);
const RULE = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 100, src: '10.244.0.7', action: 'blackhole' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
]);
const NODE: NodeInput = { podCIDRs: ['10.244.0.0/16'], ipAddr: ADDR, ipRoute: ROUTE, ipRule: RULE };

function both(node: NodeInput, q: Query): ExplainResult {
  const rs = buildRs(fixture('kube-basic.txt'), { node });
  const a = explain(rs, createReferenceEngine(rs), q);
  const b = explain(rs, createWasmEngine(rs), q);
  expect(b).toEqual(a);
  return a;
}

describe('routing from the node tables', () => {
  test('NodePort to the node address: no assumption, each endpoint leaves on its own interface with that interface address', () => {
    const r = both(NODE, { protocol: 'tcp', destination: '192.168.1.10', port: 30080 });
    expect(r.warnings.join()).not.toMatch(/addresses were not given/);
    expect(r.outcomes.map((o) => [o.endpoint, o.outInterface, o.source, o.masquerade, o.assumes])).toEqual([
      ['10.244.0.5:8080', 'cni0', '10.244.0.1', true, []],
      ['10.244.1.6:8080', 'flannel.1', '10.244.0.0', true, []],
      ['10.244.2.9:8080', 'flannel.1', '10.244.0.0', true, []],
    ]);
  });

  test('without the routing, the same query is an assumption about the node address, with a warning', () => {
    const r = both({ podCIDRs: ['10.244.0.0/16'] }, { protocol: 'tcp', destination: '192.168.1.10', port: 30080 });
    expect(r.outcomes.every((o) => o.assumes.length > 0)).toBe(true);
    expect(r.outcomes.find((o) => o.assumes[0].holds === false)).toMatchObject({ endpoint: '192.168.1.10:30080', masquerade: false });
    expect(r.warnings.join()).toMatch(/node's addresses were not given.*ip -j addr/);
  });

  test('a pod to the internet: masqueraded to the uplink address by the default route', () => {
    const r = both(NODE, { protocol: 'tcp', destination: '1.1.1.1', port: 443, origin: 'pod', source: '10.244.0.9' });
    expect(r.outcomes).toMatchObject([{ verdict: 'accept', outInterface: 'eth0', source: '10.244.0.9', masquerade: false, assumes: [] }]);
  });

  test('a blackhole rule drops, an unreachable route rejects, each with a note', () => {
    const bh = both(NODE, { protocol: 'tcp', destination: '1.1.1.1', port: 443, origin: 'pod', source: '10.244.0.7' });
    expect(bh.outcomes).toMatchObject([{ verdict: 'drop', notes: ["routing: the node's tables give no way to 1.1.1.1: a blackhole route or rule drops it"] }]);
    const un = both(NODE, { protocol: 'tcp', destination: '198.51.100.7', port: 443 });
    expect(un.outcomes).toMatchObject([{ verdict: 'reject', rejectWith: 'icmp-net-unreachable' }]);
  });

  test('a local route range makes its addresses node-local (INPUT, not FORWARD)', () => {
    const r = both({ ...NODE, ipRoute: JSON.stringify([...JSON.parse(ROUTE), { type: 'local', dst: '10.100.0.0/16', dev: 'lo', table: 'local' }]) }, { protocol: 'tcp', destination: '10.100.3.4', port: 80 });
    expect(r.outcomes).toMatchObject([{ verdict: 'accept', endpoint: '10.100.3.4:80', assumes: [] }]);
    expect(r.outcomes[0].outInterface).toBeUndefined(); // delivered locally
  });
});
