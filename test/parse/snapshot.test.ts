// The node snapshot: validation names the field, and a snapshot maps onto the bundle.
import { describe, expect, it } from 'vitest';
import { parseErrorOf } from '../helpers/fixtures.js';
import { parseSnapshotJson, snapshotInputs, validateSnapshot } from '../../src/parse/snapshot.js';
import { buildRuleset, loadRuleset } from '../../src/ruleset.js';

const IPT = '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.5:8080\nCOMMIT\n';

describe('node snapshot', () => {
  it('maps rule sources as they are and addresses/routes/rules onto the node context', () => {
    const inp = snapshotInputs(
      validateSnapshot({ format: 'landfall-snapshot/1', hostname: 'n1', iptables: IPT, ip6tables: '', addresses: '[]\n', routes: '[]\n[]\n', rules: '[]\n[]\n', notes: ['ipvs: IPVS is not loaded (no /proc/net/ip_vs); left out'] }),
    );
    expect(inp.iptables).toBe(IPT);
    expect(inp.ip6tables).toBeUndefined(); // "" is "no rules", not an input
    expect(inp.node).toEqual({ ipAddr: '[]\n', ipRoute: '[]\n[]\n', ipRule: '[]\n[]\n' });
    expect(inp.warnings).toEqual(['snapshot of n1: ipvs: IPVS is not loaded (no /proc/net/ip_vs); left out']);
  });

  it('says what a snapshot without addresses or routes costs', () => {
    const w = snapshotInputs(validateSnapshot({ format: 'landfall-snapshot/1', iptables: IPT })).warnings;
    expect(w).toEqual([expect.stringMatching(/no addresses .*assumed/), expect.stringMatching(/no routes .*interface defaults/)]);
  });

  it('validation names the field and the allowed values', () => {
    expect(parseErrorOf(() => validateSnapshot({ format: 'landfall-snapshot/2' })).message).toMatch(/snapshot.format must be "landfall-snapshot\/1", got "landfall-snapshot\/2"/);
    expect(parseErrorOf(() => validateSnapshot({ format: 'landfall-snapshot/1', iptables: 3 })).message).toMatch(/snapshot.iptables must be a string/);
    expect(parseErrorOf(() => validateSnapshot({ format: 'landfall-snapshot/1', iptable: '' })).message).toMatch(/unknown field "iptable" \(allowed: format, hostname, .*iptables/);
    expect(parseErrorOf(() => validateSnapshot([])).message).toMatch(/JSON object/);
  });

  it('bad JSON names line and column', () => {
    const e = parseErrorOf(() => parseSnapshotJson('{\n  "format": "landfall-snapshot/1",\n  "iptables": x\n}'));
    expect([e.line, e.column]).toEqual([3, 15]);
  });

  it('loads through loadRuleset, a dump error inside names snapshot.iptables, and a field given twice is refused', () => {
    const rs = loadRuleset({ snapshot: { format: 'landfall-snapshot/1', iptables: IPT } }, { engine: 'reference' });
    // No node addresses: whether 10.244.1.5 is the node's is a stated case, the endpoint is the same in each.
    expect([...new Set(rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 80 }).outcomes.map((o) => o.endpoint))]).toEqual(['10.244.1.5:8080']);
    const e = parseErrorOf(() => buildRuleset({ snapshot: { format: 'landfall-snapshot/1', iptables: '*nat\n-A PREROUTING -d 10.0.0.300 -j ACCEPT\nCOMMIT\n' } }));
    expect([e.source, e.line, e.column]).toEqual(['snapshot.iptables', 2, 18]);
    expect(parseErrorOf(() => buildRuleset({ iptables: IPT, snapshot: { format: 'landfall-snapshot/1', iptables: IPT } })).message).toMatch(/given both/);
    // As JSON text too (the CLI reads a file).
    expect(buildRuleset({ snapshot: JSON.stringify({ format: 'landfall-snapshot/1', iptables: IPT }) }).ruleset.rules.length).toBe(1);
  });
});
