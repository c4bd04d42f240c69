import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Match } from '../../src/model/rule.js';
import { ParseError } from '../../src/parse/errors.js';
import { parseNftJson } from '../../src/parse/nft-json.js';
import type { LoweredRule, NftLowered } from '../../src/parse/nft-lower.js';
import { lowerNft, markOp, rangeToCidrs } from '../../src/parse/nft-lower.js';
import { parseNftText } from '../../src/parse/nft-text.js';
import { loadNft } from '../../src/parse/nft.js';
import { formatCidr, parseAddr } from '../../src/model/addr.js';
import { fixture } from '../helpers/fixtures.js';

const TWO31 = 0x80000000;

/** The model without where it came from (line, text, handle differ between text and JSON by design). */
function shape(l: NftLowered) {
  const setNames = new Map(l.sets.map((s) => [s.name, JSON.stringify({ dims: s.dims, family: s.family, entries: s.entries.map((e) => e.parts) })]));
  return l.tables.map((t) => ({
    family: t.family,
    name: t.name,
    chains: [...t.chains.values()].map((c) => ({
      name: c.name,
      builtin: c.builtin,
      policy: c.policy,
      base: c.base,
      rules: c.rules.map((r) => ({
        evalCost: r.evalCost,
        target: r.target,
        matches: r.matches.map((m) => (m.kind === 'set' ? { ...m, name: setNames.get(m.name) } : m)),
      })),
    })),
  }));
}

function chainOf(l: NftLowered, table: string, chain: string): LoweredRule[] {
  const t = l.tables.find((x) => x.name === table)!;
  return t.chains.get(chain)!.rules;
}

describe('lowering nft into the model', () => {
  for (const name of ['kube-proxy-v1.35', 'features']) {
    it(`${name}: the text and the JSON listing lower to equal models`, () => {
      const text = loadNft(fixture(`nft/${name}.txt`));
      const json = loadNft(fixture(`nft/${name}.json`));
      expect(text.format).toBe('text');
      expect(json.format).toBe('json');
      expect(shape(text)).toEqual(shape(json));
      expect(text.warnings).toEqual([]);
    });
  }

  it('keeps line, text and handle; every rule after the first of one nft rule costs 0', () => {
    const src = fixture('nft/kube-proxy-v1.35.txt');
    const l = loadNft(src);
    const services = chainOf(l, 'kube-proxy', 'services');
    // service-ips has 9 elements, service-nodeports 3: one model rule per element.
    expect(services.length).toBe(12);
    expect(services.map((r) => r.evalCost ?? 1)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(new Set(services.slice(0, 9).map((r) => r.line)).size).toBe(1);
    expect(src.split('\n')[services[0].line - 1].trim()).toBe(services[0].text);
    const json = loadNft(fixture('nft/kube-proxy-v1.35.json'));
    const js = chainOf(json, 'kube-proxy', 'services');
    expect(js[0].handle).toBe(44);
    expect(js[0].text).toBe('ip daddr . meta l4proto . th dport vmap @service-ips');
    // One element: 172.30.0.41 . tcp . 80 → plain matches.
    const el = services.find((r) => r.target?.kind === 'goto' && r.target.chain === 'service-ULMVA6XW-ns1/svc1/tcp/p80')!;
    expect(el.matches.map((m) => m.kind)).toEqual(['dst', 'proto', 'dport']);
    expect(chainOf(l, 'kube-proxy', 'filter-input')[0].family).toBe(4);
  });

  it('numgen random mod N: a statistic cascade giving each value 1/N (to the 2^-31 steps the statistic test has)', () => {
    for (const n of [1, 2, 3, 5, 7, 10, 64, 1000]) {
      const elems = Array.from({ length: n }, (_, i) => `${i} : goto e${i}`).join(', ');
      const chains = Array.from({ length: n }, (_, i) => `\tchain e${i} {\n\t\taccept\n\t}\n`).join('');
      const l = lowerNft(parseNftText(`table ip t {\n${chains}\tchain s {\n\t\tnumgen random mod ${n} vmap { ${elems} }\n\t}\n}\n`).ruleset);
      const rules = chainOf(l, 't', 's');
      expect(rules.length).toBe(n);
      let left = 1;
      for (const r of rules) {
        const m = r.matches[0] as Extract<Match, { kind: 'random' }>;
        expect(Number.isInteger(m.threshold)).toBe(true);
        const p = m.threshold / TWO31;
        // Each threshold rounds to 2^-31 of what is left; the carried rounding stays below n·2^-32.
        expect(Math.abs(left * p - 1 / n)).toBeLessThanOrEqual(Math.max(1, n) * 2 ** -32);
        left *= 1 - p;
      }
      expect(left).toBeLessThan(2 ** -30);
    }
  });

  it('numgen with offset and a missing value: the miss falls through with its share', () => {
    const l = lowerNft(parseNftText('table ip t {\n\tchain s {\n\t\tnumgen random mod 4 offset 10 vmap { 10 : accept, 11-12 : drop }\n\t}\n}\n').ruleset);
    const [a, b] = chainOf(l, 't', 's');
    const pa = (a.matches[0] as { threshold: number }).threshold / TWO31;
    const pb = (1 - pa) * ((b.matches[0] as { threshold: number }).threshold / TWO31);
    expect(pa).toBeCloseTo(0.25, 9);
    expect(pb).toBeCloseTo(0.5, 9);
  });

  it('dnat ip addr . port to numgen … map: one DNAT per element', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const pre = chainOf(l, 'nat', 'prerouting').filter((r) => r.line === chainOf(l, 'nat', 'prerouting')[1].line);
    expect(pre.map((r) => r.target?.kind)).toEqual(['DNAT', 'DNAT', 'DNAT']);
    const t = pre[1].target as Extract<LoweredRule['target'], { kind: 'DNAT' }>;
    expect(t.ranges[0].ports).toEqual({ lo: 8080, hi: 8080 });
    expect(pre.map((r) => r.evalCost ?? 1)).toEqual([1, 0, 0]);
  });

  it('mark set with bit operations and masked mark tests', () => {
    const l = loadNft(fixture('nft/kube-proxy-v1.35.txt'));
    expect(chainOf(l, 'kube-proxy', 'mark-for-masquerade')[0].target).toEqual({ kind: 'MARK', op: { mask: 0x4000, value: 0x4000 } });
    const masq = chainOf(l, 'kube-proxy', 'masquerading');
    expect(masq[0].matches).toEqual([{ kind: 'mark', invert: false, value: 0, mask: 0x4000 }]);
    expect(masq[1].target).toEqual({ kind: 'MARK', op: { mask: 0, value: 0x4000 } });
    expect(masq[2].target).toEqual({ kind: 'MASQUERADE', random: false, randomFully: true });
  });

  it('markOp composes | & ^ exactly as the kernel applies them', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const step = fc.tuple(fc.constantFrom('&', '|', '^'), u32);
    fc.assert(
      fc.property(u32, fc.array(step, { minLength: 1, maxLength: 4 }), (mark, steps) => {
        let expr: unknown = { meta: { key: 'mark' } };
        let want = mark;
        for (const [op, x] of steps) {
          expr = { [op]: [expr, x] };
          want = (op === '&' ? want & x : op === '|' ? want | x : want ^ x) >>> 0;
        }
        const m = markOp(expr as never, 'meta')!;
        return ((mark & ~m.mask) ^ m.value) >>> 0 === want;
      }),
    );
  });

  it('fib type local → addrtype LOCAL; ct state → ctstate bits; reject types', () => {
    const l = loadNft(fixture('nft/kube-proxy-v1.35.txt'));
    const ext = chainOf(l, 'kube-proxy', 'external-42NFTM6N-ns2/svc2/tcp/p80');
    expect(ext[1].matches).toEqual([{ kind: 'addrtype', src: { invert: false, types: 4 }, limitIfaceIn: false, limitIfaceOut: false }]);
    expect(chainOf(l, 'kube-proxy', 'filter-input')[0].matches).toEqual([{ kind: 'ctstate', invert: false, states: 2 }]);
    expect(chainOf(l, 'kube-proxy', 'reject-chain')[0].target).toEqual({ kind: 'REJECT', with: 'icmp-port-unreachable' });
    const f = loadNft(fixture('nft/features.txt'));
    const input = chainOf(f, 'filter', 'input');
    expect(input[0].matches).toEqual([{ kind: 'ctstate', invert: false, states: 4 | 8 }]);
    expect(input.at(-1)!.target).toEqual({ kind: 'REJECT', with: 'icmp-host-prohibited' });
    expect(input.find((r) => r.target?.kind === 'REJECT' && r.target.with === 'tcp-reset')).toBeDefined();
  });

  it('sets: named and anonymous, intervals, concatenations → IpSets with dims mapped', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const byName = new Map(l.sets.map((s) => [s.name, s]));
    const blocked = [...byName.values()].find((s) => s.name.includes('@blocked4'))!;
    expect(blocked.dims).toEqual(['net']);
    expect(blocked.entries.map((e) => (e.parts[0].kind === 'addr' ? formatCidr(e.parts[0].cidr) : ''))).toEqual([
      '198.51.100.0/24', '203.0.113.5/32', '203.0.113.6/31', '203.0.113.8/31',
    ]);
    const hp = [...byName.values()].find((s) => s.name.includes('@hairpin'))!;
    expect(hp.dims).toEqual(['net', 'net', 'port']);
    const post = chainOf(l, 'nat', 'postrouting')[0];
    expect(post.matches.at(-1)).toEqual({ kind: 'set', invert: false, name: hp.name, dirs: ['src', 'dst', 'dst'], returnNomatch: false });
    const ports = [...byName.values()].find((s) => s.name.includes('@allowed-ports'))!;
    expect(ports.dims).toEqual(['port']);
    expect(ports.entries.map((e) => e.parts[0])).toContainEqual({ kind: 'port', proto: 6, lo: 8000, hi: 8080 });
    expect(rangeToCidrs(parseAddr('10.0.0.0')!, parseAddr('10.0.0.255')!).map(formatCidr)).toEqual(['10.0.0.0/24']);
  });

  it('dynamic set affinity → recent, OR-ed with the elements a live listing shows', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const pre = chainOf(l, 'nat', 'prerouting');
    const lookup = pre.filter((r) => r.text.includes('ip saddr @aff'));
    expect(lookup.map((r) => r.matches.at(-1)!.kind)).toEqual(['set', 'recent']);
    expect(lookup[1].matches.at(-1)).toMatchObject({ kind: 'recent', op: 'rcheck', name: 'aff', side: 'src', seconds: 10800 });
    const aff = l.sets.find((s) => s.name.includes('@aff'))!;
    expect(aff.entries.map((e) => (e.parts[0].kind === 'addr' ? formatCidr(e.parts[0].cidr) : ''))).toEqual(['203.0.113.7/32']);
    const upd = pre.find((r) => r.text.includes('update @aff'))!;
    expect(upd.matches).toContainEqual({ kind: 'recent', invert: false, name: 'aff', op: 'set', reap: false, rttl: false, side: 'src', seconds: 10800 });
    const kp = loadNft(fixture('nft/kube-proxy-v1.35.txt'));
    const svc5 = chainOf(kp, 'kube-proxy', 'service-HVFWP5L3-ns5/svc5/tcp/p80');
    expect(svc5[1].matches).toEqual([{ kind: 'recent', invert: false, name: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80', op: 'rcheck', reap: false, rttl: false, side: 'src', seconds: 10800 }]);
  });

  it('inet tables: rules of both families, ip expressions guarded to IPv4', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const input = chainOf(l, 'filter', 'input');
    expect(input[0].family).toBe('inet');
    const neg = input.find((r) => r.text.startsWith('tcp dport { 6443, 10250 }'))!;
    expect(neg.matches).toContainEqual({ kind: 'src', invert: false, cidr: { family: 4, w: [0, 0, 0, 0], prefix: 0 } });
    expect(neg.target).toEqual({ kind: 'noop', name: 'LOG' });
    const t = l.tables.find((x) => x.name === 'filter')!;
    expect(t.chains.get('input')!.base).toEqual({ hook: 'input', type: 'filter', priority: 0 });
    expect(t.chains.get('input')!.policy).toBe('DROP');
  });

  it('a verdict map with jump elements runs in a helper chain (return resumes after the rule)', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const pre = chainOf(l, 'nat', 'prerouting');
    const j = pre.at(-1)!;
    expect(j.target).toEqual({ kind: 'jump', chain: 'prerouting/map#7' });
    const helper = chainOf(l, 'nat', 'prerouting/map#7');
    expect(helper.map((r) => r.target)).toEqual([{ kind: 'goto', chain: 'a' }, { kind: 'goto', chain: 'b' }]);
    expect(helper.map((r) => r.matches[0])).toEqual([{ kind: 'nth', invert: false, every: 2, packet: 0 }, { kind: 'nth', invert: false, every: 1, packet: 0 }]);
    expect(helper.every((r) => r.evalCost === 0)).toBe(true);
  });

  it('jhash buckets and unknown expressions are uncertain, never matched or skipped', () => {
    const l = loadNft(fixture('nft/features.txt'));
    const fwd = chainOf(l, 'filter', 'forward').filter((r) => r.text.includes('jhash'));
    expect(fwd.map((r) => r.matches.at(-1)!.kind)).toEqual(['unknown', 'unknown']);
    expect(fwd.map((r) => r.target?.kind)).toEqual(['ACCEPT', 'DROP']);
    const u = lowerNft(parseNftText('table ip t {\n\tchain c {\n\t\tmeta pkttype broadcast drop\n\t\tosf name "Linux" accept\n\t}\n}\n').ruleset);
    const rules = chainOf(u, 't', 'c');
    expect(rules.map((r) => [r.matches[0].kind, r.target?.kind])).toEqual([['unknown', 'DROP'], ['unknown', 'ACCEPT']]);
  });

  it('iptables-nft: xt is uncertain; with an iptables-save dump those tables come from it', () => {
    const json = loadNft(fixture('nft/iptables-nft.json'));
    const input = chainOf(json, 'filter', 'INPUT');
    expect(input[0].matches[0]).toMatchObject({ kind: 'unknown', module: 'xt recent' });
    const text = loadNft(fixture('nft/iptables-nft.txt'));
    // The listing prints statistic as `meta random & 2147483647 < N`: the kernel's own test.
    expect(chainOf(text, 'nat', 'KUBE-SERVICES')[0].matches).toContainEqual({ kind: 'random', invert: false, threshold: 1073741824 });
    const both = loadNft(fixture('nft/iptables-nft.json'), { iptablesTables: { 4: new Set(['filter', 'nat']) } });
    expect(both.tables).toEqual([]);
    expect(both.skipped).toEqual(['ip nat', 'ip filter']);
  });

  it('a real pasted listing lowers in lenient mode, naming the chains the paste lacks', () => {
    const l = loadNft(fixture('nft/calico-8025.txt'), { lenient: true });
    expect(l.warnings.map((w) => w.message)).toContain('jump to missing chain "cali-PREROUTING"');
    const fw = chainOf(l, 'filter', 'KUBE-FIREWALL')[0];
    expect(fw.matches.map((m) => m.kind)).toEqual(['src', 'dst', 'ctstate']);
    expect(() => loadNft(fixture('nft/calico-8025.txt'))).toThrow(ParseError);
    const kube = chainOf(l, 'nat', 'KUBE-SEP-FVAQVM3OEXTBBV2O')[1];
    expect(kube.target).toMatchObject({ kind: 'DNAT', ranges: [{ ports: { lo: 53, hi: 53 } }] });
  });

  it('JSON and text of the iptables-nft listing agree wherever the JSON is not opaque', () => {
    const j = parseNftJson(fixture('nft/iptables-nft.json')).ruleset;
    expect(j.tables.map((t) => t.name)).toEqual(['nat', 'filter']);
  });

  it('v1.36 real listing: a mark test, a mark change and masquerade in one rule run in a helper chain', () => {
    // A blog post's `nft list table ip kube-proxy` (v1.36 shape); it omits @service-nodeports.
    const l = loadNft(fixture('nft/blog-v1.36.txt'), { lenient: true });
    expect(l.warnings.map((w) => w.message)).toContain('map @service-nodeports is not defined in table ip kube-proxy');
    const masq = chainOf(l, 'kube-proxy', 'masquerading');
    expect(masq[0].matches).toEqual([{ kind: 'mark', invert: true, value: 0, mask: 0x4000 }]);
    expect(masq[0].target).toEqual({ kind: 'jump', chain: 'masquerading/rule#1' });
    const helper = chainOf(l, 'kube-proxy', 'masquerading/rule#1');
    expect(helper.map((r) => [r.matches, r.target, r.evalCost])).toEqual([
      [[], { kind: 'MARK', op: { mask: 0, value: 0x4000 } }, 0],
      [[], { kind: 'MASQUERADE', random: false, randomFully: true }, 0],
    ]);
    // The ClusterIP marking rule ends with its side effect: one rule, no helper.
    const svc = chainOf(l, 'kube-proxy', 'services');
    expect(svc[0].target).toEqual({ kind: 'MARK', op: { mask: 0x4000, value: 0x4000 } });
    expect(svc[0].matches.map((m) => m.kind)).toEqual(['set', 'src']);
    const ep = chainOf(l, 'kube-proxy', 'service-YVSKLJHA-kproxy-lab/backend-api/tcp/http');
    expect(ep.map((r) => (r.target as { ranges: { lo: unknown; ports: unknown }[] }).ranges[0].ports)).toEqual([{ lo: 9898, hi: 9898 }, { lo: 9898, hi: 9898 }]);
    // A log before the verdict changes nothing the conditions read: the conditions repeat.
    const f = loadNft(fixture('nft/features.txt'));
    expect(chainOf(f, 'filter', 'input').filter((r) => r.text.includes('k8s-api')).map((r) => r.target?.kind)).toEqual(['noop', 'REJECT']);
  });

  it('lenient: a rule that could not be parsed is an unknown condition with an unknown effect, never dropped', () => {
    const l = loadNft('table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tlimit rate fast drop\n\t}\n}\n', { lenient: true });
    const [r] = chainOf(l, 't', 'c');
    expect(r.matches[0]).toMatchObject({ kind: 'unknown', reason: 'rule "limit rate fast drop" could not be parsed' });
    expect(r.target).toEqual({ kind: 'unknownTarget', name: 'unparsed rule', text: 'limit rate fast drop' });
  });
});
