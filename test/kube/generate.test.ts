import { describe, expect, it } from 'vitest';
import { generateIptables, renderIptables } from '../../src/kube/generate.js';
import { parseIptablesSave } from '../../src/parse/iptables.js';
import type { FamilyRules, Match, Rule } from '../../src/model/rule.js';
import { UPSTREAM_RENDER, UPSTREAM_RULES, UPSTREAM_SERVICES } from './upstream-fixture.js';

const ZERO_MIX = { nodePort: 0, loadBalancer: 0, externalIPs: 0, etpLocal: 0, itpLocal: 0, affinity: 0, noEndpoints: 0, sourceRanges: 0 };
const BUSY_MIX = { nodePort: 0.3, loadBalancer: 0.3, externalIPs: 0.1, etpLocal: 0.5, itpLocal: 0.15, affinity: 0.3, noEndpoints: 0.1, sourceRanges: 0.6 };

function ruleLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('-A '));
}

function rulesOf(fam: FamilyRules, table: 'nat' | 'filter'): Rule[] {
  return [...(fam.tables.get(table)?.chains.values() ?? [])].flatMap((c) => c.rules);
}

describe('generateIptables', () => {
  it('writes exactly the rules upstream kube-proxy writes for its TestOverallIPTablesRules services', () => {
    const text = renderIptables(UPSTREAM_SERVICES, UPSTREAM_RENDER);
    const base = /^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) /;
    const ours = ruleLines(text).filter((l) => !base.test(l));
    expect(ours.slice().sort()).toEqual(UPSTREAM_RULES.slice().sort());
    // kube-proxy's write order: the NodePort jump is the last rule of nat KUBE-SERVICES.
    const natServices = ours.filter((l) => l.startsWith('-A KUBE-SERVICES ') && !l.includes('has no endpoints'));
    expect(natServices.at(-1)).toContain('-j KUBE-NODEPORTS');
  });

  it('writes ClientIP affinity as upstream does (recent rcheck in the SVC chain, recent set in the SEP)', () => {
    const withAffinity = UPSTREAM_SERVICES.map((s) => (s.name === 'ns5/svc5:p80' ? { ...s, affinitySeconds: 10800 } : s));
    const lines = ruleLines(renderIptables(withAffinity, UPSTREAM_RENDER));
    expect(lines).toContain(
      '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN',
    );
    expect(lines).toContain(
      '-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80',
    );
    const save = ruleLines(renderIptables(withAffinity, { ...UPSTREAM_RENDER, style: 'save' }));
    expect(save).toContain(
      '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -j KUBE-SEP-I77PXRDZVX7PMWMN',
    );
    expect(save).toContain(
      '-A KUBE-SEP-I77PXRDZVX7PMWMN -p tcp -m comment --comment "ns5/svc5:p80" -m recent --set --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80',
    );
  });

  it('prints the save style the way iptables-save does', () => {
    const lines = ruleLines(renderIptables(UPSTREAM_SERVICES, { ...UPSTREAM_RENDER, style: 'save', nfacct: true }));
    for (const expected of [
      '-A KUBE-SVC-4SW47YFZTEDKD3PK ! -s 10.0.0.0/8 -d 172.30.0.44/32 -p tcp -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC',
      '-A KUBE-SEP-UKSFD7AGPMPPLUHC -s 10.180.0.4/32 -m comment --comment "ns4/svc4:p80" -j KUBE-MARK-MASQ',
      '-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
      '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
      '-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m comment --comment "ns3/svc3:p80" -m tcp --dport 3003 -m nfacct --nfacct-name  localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK',
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 3001 -j DROP',
    ]) {
      expect(lines).toContain(expected);
    }
  });

  it('groups save-style rules per chain, built-ins first, user chains sorted by name', () => {
    const { text } = generateIptables({ services: 30, endpoints: 3, seed: 2, mix: BUSY_MIX });
    const nat = text.slice(text.indexOf('*nat'));
    const decls = nat.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1, l.indexOf(' ')));
    expect(decls.slice(0, 4)).toEqual(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);
    const user = decls.slice(4);
    expect(user).toEqual([...user].sort());
    const chainOrder = ruleLines(nat).map((l) => l.split(' ')[1]);
    const firstSeen = [...new Set(chainOrder)];
    // Each chain's rules are contiguous and chains appear in declaration order.
    expect(chainOrder.filter((c, i) => i > 0 && c !== chainOrder[i - 1]).length).toBe(firstSeen.length - 1);
    expect(firstSeen).toEqual(decls.filter((d) => firstSeen.includes(d)));
  });

  it('is deterministic by seed', () => {
    const a = generateIptables({ services: 200, endpoints: 5, seed: 42, mix: BUSY_MIX });
    const b = generateIptables({ services: 200, endpoints: 5, seed: 42, mix: BUSY_MIX });
    const c = generateIptables({ services: 200, endpoints: 5, seed: 43, mix: BUSY_MIX });
    expect(a.text).toBe(b.text);
    expect(a.services).toEqual(b.services);
    expect(c.text).not.toBe(a.text);
  });

  it('has the exact rule count of N ClusterIP services × M endpoints', () => {
    const n = 120;
    const m = 4;
    const { text, services } = generateIptables({ services: n, endpoints: m, seed: 9, mix: ZERO_MIX });
    expect(services.every((s) => s.endpoints.length === m && s.nodePort === undefined)).toBe(true);
    const parsed = parseIptablesSave(text);
    expect(parsed.warnings).toEqual([]);
    const nat = rulesOf(parsed.v4!, 'nat');
    // 3 base jumps + 3 KUBE-POSTROUTING + 1 KUBE-MARK-MASQ + NodePort tail, then per service:
    // the KUBE-SERVICES capture, the masquerade rule, M ladder rules and 2 rules per KUBE-SEP.
    expect(nat.length).toBe(3 + 3 + 1 + 1 + n * (1 + 1 + m + 2 * m));
    const natChains = parsed.v4!.tables.get('nat')!.chains;
    expect([...natChains.keys()].filter((c) => c.startsWith('KUBE-SEP-')).length).toBe(n * m);
    expect([...natChains.keys()].filter((c) => c.startsWith('KUBE-SVC-')).length).toBe(n);
  });

  it('parses back without warnings in both styles, to the same kernel state', () => {
    const opts = { services: 150, endpoints: 3, seed: 11, mix: BUSY_MIX };
    const save = parseIptablesSave(generateIptables({ ...opts, style: 'save' }).text);
    const restore = parseIptablesSave(generateIptables({ ...opts, style: 'restore' }).text);
    expect(save.warnings).toEqual([]);
    expect(restore.warnings).toEqual([]);
    // Same chains, and per chain the same rules in the same order once matches are put in a
    // canonical order: the two texts differ only in spelling.
    // iptables-save spells out recent's default all-ones --mask; kube-proxy leaves it out.
    const canon = (m: Match): string => {
      if (m.kind === 'recent' && m.mask && m.mask.w[0] === 0xffffffff) {
        const { mask: _mask, ...rest } = m;
        return JSON.stringify(rest);
      }
      return JSON.stringify(m);
    };
    for (const table of ['nat', 'filter'] as const) {
      const a = save.v4!.tables.get(table)!;
      const b = restore.v4!.tables.get(table)!;
      expect([...a.chains.keys()].sort()).toEqual([...b.chains.keys()].sort());
      for (const [name, chain] of a.chains) {
        const other = b.chains.get(name)!;
        const shape = (r: Rule) => JSON.stringify([r.matches.map(canon).sort(), r.target]);
        expect(chain.rules.map(shape), `${table} ${name}`).toEqual(other.rules.map(shape));
      }
    }
  });

  it('writes the kernel-stored probabilities: 1/n in restore style, lround(p·2^31)/2^31 with 11 decimals in save style', () => {
    const opts = { services: 3, endpoints: 3, seed: 1, mix: ZERO_MIX };
    const restore = generateIptables({ ...opts, style: 'restore' }).text;
    const save = generateIptables({ ...opts, style: 'save' }).text;
    expect(restore).toContain('--probability 0.3333333333 ');
    expect(restore).toContain('--probability 0.5000000000 ');
    expect(save).toContain('--probability 0.33333333349 ');
    expect(save).toContain('--probability 0.50000000000 ');
    expect(restore).toContain('-j MARK --or-mark 0x4000');
    expect(save).not.toMatch(/--or-mark|--xor-mark/);
  });

  it('drops per-endpoint comments above 1000 endpoints (large cluster mode)', () => {
    const small = generateIptables({ services: 100, endpoints: 10, seed: 3, mix: ZERO_MIX }).text;
    const large = generateIptables({ services: 101, endpoints: 10, seed: 3, mix: ZERO_MIX }).text;
    expect(ruleLines(small).filter((l) => l.startsWith('-A KUBE-SEP-')).every((l) => l.includes('--comment'))).toBe(true);
    const largeSep = ruleLines(large).filter((l) => l.startsWith('-A KUBE-SEP-'));
    expect(largeSep.some((l) => l.includes('--comment'))).toBe(false);
    expect(largeSep.some((l) => /^-A KUBE-SEP-\w+ -p tcp -m tcp -j DNAT --to-destination /.test(l))).toBe(true);
    // The service-level rules keep theirs.
    expect(ruleLines(large).filter((l) => l.startsWith('-A KUBE-SERVICES ')).every((l) => l.includes('--comment'))).toBe(true);
  });

  it('with --masquerade-all marks every cluster-IP connection', () => {
    const text = generateIptables({ services: 5, endpoints: 2, seed: 1, mix: ZERO_MIX, masqueradeAll: true }).text;
    const masq = ruleLines(text).filter((l) => l.startsWith('-A KUBE-SVC-') && l.endsWith('-j KUBE-MARK-MASQ'));
    expect(masq).toHaveLength(5);
    expect(masq.some((l) => l.includes(' -s '))).toBe(false);
  });

  it('covers every service kind with a busy mix', () => {
    const { text, services } = generateIptables({ services: 400, endpoints: 3, seed: 5, mix: BUSY_MIX });
    for (const needle of ['KUBE-FW-', 'KUBE-SVL-', 'KUBE-EXT-', '-m recent', 'has no endpoints', 'has no local endpoints', 'health check node port', 'external IP"', 'loadbalancer IP"']) {
      expect(text, needle).toContain(needle);
    }
    expect(services.some((s) => s.status === 'no-local-endpoints')).toBe(true);
    expect(services.some((s) => s.endpoints.some((e) => e.local))).toBe(true);
    // The node context matches the dump.
    const { node } = generateIptables({ services: 1, endpoints: 1, podCIDR: '10.244.3.0/24', nodeIP: '192.168.7.7' });
    expect(node).toEqual({ addresses: ['192.168.7.7'], podCIDRs: ['10.244.3.0/24'], interfaces: { uplink: 'eth0', pods: 'cni0' } });
  });

  it('renders what ip6tables-save prints for an IPv6 family', () => {
    const v6 = UPSTREAM_SERVICES.map((s) => ({
      ...s,
      clusterIP: s.clusterIP.replace('172.30.0.', 'fd00:30::'),
      externalIPs: [],
      loadBalancerIPs: [],
      sourceRanges: [],
      endpoints: s.endpoints.map((e) => ({ ...e, ip: e.ip.replace('10.180.0.', 'fd00:180::'), endpoint: `[${e.ip.replace('10.180.0.', 'fd00:180::')}]:${e.port}` })),
    }));
    v6[4] = { ...v6[4], affinitySeconds: 10800 };
    const text = renderIptables(v6, { style: 'save', clusterCIDR: 'fd00::/48' });
    expect(text.split('\n')[0]).toMatch(/^# Generated by ip6tables-save /);
    const lines = ruleLines(text);
    expect(lines).toContain(
      '-A KUBE-SERVICES ! -d ::1/128 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    );
    expect(lines).toContain(
      '-A KUBE-SERVICES -d fd00:30::46/128 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp6-port-unreachable',
    );
    expect(lines.some((l) => l.includes('--mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource'))).toBe(true);
    expect(lines.some((l) => l.includes('-j DNAT --to-destination [fd00:180::1]:80'))).toBe(true);
    // No localhost NodePorts on IPv6: no KUBE-FIREWALL, no 127.0.0.0/8 rules.
    expect(text).not.toContain('KUBE-FIREWALL');
    expect(text).not.toContain('127.0.0.0/8');
    const parsed = parseIptablesSave(text);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.v6).toBeDefined();
    expect(parsed.v4).toBeUndefined();
  });

  it('rejects a pod CIDR outside the cluster CIDR', () => {
    expect(() => generateIptables({ services: 1, endpoints: 1, podCIDR: '10.9.0.0/24' })).toThrow(/not inside/);
  });

  it('generates 20,000 services × 10 endpoints in seconds', () => {
    const t0 = performance.now();
    const { text, services } = generateIptables({ services: 20_000, endpoints: 10, seed: 1 });
    const ms = performance.now() - t0;
    expect(services).toHaveLength(20_000);
    expect(text.length).toBeGreaterThan(50_000_000);
    // Cluster IPs are a permutation of the service CIDR, node ports never repeat, and a service
    // never lists an endpoint twice.
    expect(new Set(services.map((s) => s.clusterIP)).size).toBe(20_000);
    const nodePorts = services.flatMap((s) => [s.nodePort, s.healthCheckNodePort]).filter((p) => p !== undefined);
    expect(new Set(nodePorts).size).toBe(nodePorts.length);
    expect(nodePorts.every((p) => p! >= 30000 && p! <= 32767)).toBe(true);
    expect(services.every((s) => new Set(s.endpoints.map((e) => e.endpoint)).size === s.endpoints.length)).toBe(true);
    // ~3 s on a quiet 2-vCPU machine; the bound leaves room for a loaded CI runner.
    expect(ms).toBeLessThan(45_000);
  }, 60_000);
});
