import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { endpointChain, endpointHash, kubeChainKind, parseKubeChain, serviceChains, servicePortHash } from '../../src/kube/names.js';

// Vectors from upstream kube-proxy (pkg/proxy/iptables proxier_test.go, TestOverallIPTablesRules).
describe('kube-proxy chain names', () => {
  it.each([
    ['ns1/svc1:p80', 'XPGD46QRK7WJZT7O'],
    ['ns2/svc2:p80', 'GNZBNJ2PO5MGZ6GT'],
    ['ns3/svc3:p80', 'X27LE4BHSL4DOUIK'],
    ['ns4/svc4:p80', '4SW47YFZTEDKD3PK'],
    ['ns5/svc5:p80', 'NUKIZ6OKUXPJNT4C'],
    // From a real EKS node's iptables-save.
    ['default/kubernetes:https', 'NPX46M4PTMTKRN6Y'],
    ['game-2048/service-2048', 'V7WHPSTR7G6YHTBY'],
  ])('service port %s tcp → %s', (name, hash) => {
    expect(servicePortHash(name, 'tcp')).toBe(hash);
    expect(serviceChains(name, 'tcp')).toEqual({
      svc: `KUBE-SVC-${hash}`,
      svl: `KUBE-SVL-${hash}`,
      ext: `KUBE-EXT-${hash}`,
      fw: `KUBE-FW-${hash}`,
    });
  });

  it.each([
    ['ns1/svc1:p80', '10.180.0.1:80', 'SXIVWICOYRO3J4NJ'],
    ['ns2/svc2:p80', '10.180.0.2:80', 'RS4RBKLTHTF2IUXJ'],
    ['ns3/svc3:p80', '10.180.0.3:80', 'OYPFS5VJICHGATKP'],
    ['ns4/svc4:p80', '10.180.0.4:80', 'UKSFD7AGPMPPLUHC'],
    ['ns4/svc4:p80', '10.180.0.5:80', 'C6EBXVWJJZMIWKLZ'],
    ['ns5/svc5:p80', '10.180.0.3:80', 'I77PXRDZVX7PMWMN'],
  ])('endpoint %s %s → KUBE-SEP-%s', (name, ep, hash) => {
    expect(endpointHash(name, 'tcp', ep)).toBe(hash);
    expect(endpointChain(name, 'tcp', ep)).toBe(`KUBE-SEP-${hash}`);
  });

  it('names real EKS chains (kube-dns over udp and tcp)', () => {
    expect(servicePortHash('kube-system/kube-dns:dns', 'udp')).toBe('TCOU7JCQXEZGVUNU');
    expect(servicePortHash('kube-system/kube-dns:dns-tcp', 'tcp')).toBe('ERIFXISQEP7F7OF4');
    expect(servicePortHash('kube-system/kube-dns:metrics', 'tcp')).toBe('JD5MR3NA4I4DYORP');
    expect(endpointHash('kube-system/kube-dns:dns', 'udp', '192.168.11.99:53')).toBe('CSVG4NHGS2XS6TPF');
    expect(endpointHash('default/kubernetes:https', 'tcp', '192.168.2.135:443')).toBe('AUWR7JB63E235DP3');
  });

  it('hashes the protocol too (tcp and udp ports of one name differ)', () => {
    expect(servicePortHash('kube-system/kube-dns:dns', 'udp')).not.toBe(servicePortHash('kube-system/kube-dns:dns', 'tcp'));
  });

  it('parses per-service chain names and nothing else', () => {
    expect(parseKubeChain('KUBE-SVC-XPGD46QRK7WJZT7O')).toEqual({ kind: 'SVC', hash: 'XPGD46QRK7WJZT7O' });
    expect(parseKubeChain('KUBE-XLB-XPGD46QRK7WJZT7O')).toEqual({ kind: 'XLB', hash: 'XPGD46QRK7WJZT7O' });
    expect(parseKubeChain('KUBE-SEP-SXIVWICOYRO3J4NJ')).toEqual({ kind: 'SEP', hash: 'SXIVWICOYRO3J4NJ' });
    for (const other of ['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SVC-short', 'KUBE-SVC-XPGD46QRK7WJZT7O1', 'KUBE-SVC-xpgd46qrk7wjzt7o']) {
      expect(parseKubeChain(other)).toBeNull();
    }
  });
});

// The chain-name check is written out by hand for speed; the pattern it implements is the spec.
describe('kubeChainKind', () => {
  const SPEC = /^KUBE-(SVC|SVL|EXT|FW|SEP|XLB)-([A-Z2-7]{16})$/;
  const spec = (name: string) => SPEC.exec(name)?.[1] ?? null;
  it.each([
    'KUBE-FW-XPGD46QRK7WJZT7O',
    'KUBE-FWX-XPGD46QRK7WJZT7O',
    'KUBE-SEP-XPGD46QRK7WJZT71',
    'KUBE-SEP-XPGD46QRK7WJZT78',
    'KUBE-SEP_XPGD46QRK7WJZT7O',
    'KUBE-SEPXXPGD46QRK7WJZT7O',
    'KUBE-sep-XPGD46QRK7WJZT7O',
    'KUBE-SEP-XPGD46QRK7WJZT7o',
    'kube-SEP-XPGD46QRK7WJZT7O',
    'KUBE-SEP-XPGD46QRK7WJZT7OO',
    'KUBE-EXT-XPGD46QRK7WJZT7',
    'KUBE-MARK-MASQ',
    'KUBE-FW--PGD46QRK7WJZT7O',
    'KUBE-XLB-AAAAAAAAAAAAAAAA',
    'KUBE-SVL-2222222277777777',
  ])('%s as the pattern says', (name) => {
    expect(kubeChainKind(name)).toBe(spec(name));
    expect(parseKubeChain(name)).toEqual(spec(name) ? { kind: spec(name), hash: name.slice(-16) } : null);
  });
  it('agrees with the pattern on generated names', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567aoz01891-_';
    const name = fc.tuple(
      fc.constantFrom('KUBE-', 'KUBE_', 'kube-', 'KUBE-KUBE-', ''),
      fc.constantFrom('SVC', 'SVL', 'EXT', 'FW', 'SEP', 'XLB', 'SE', 'SEPP', 'MARK', 'FWX', 'F'),
      fc.constantFrom('-', '_', ''),
      fc.oneof(
        fc.string({ unit: fc.constantFrom(...alphabet.slice(0, 32)), minLength: 16, maxLength: 16 }),
        fc.string({ unit: fc.constantFrom(...alphabet), minLength: 14, maxLength: 18 }),
      ),
    ).map((p) => p.join(''));
    let matched = 0;
    fc.assert(
      fc.property(name, (n) => {
        if (spec(n)) matched++;
        return kubeChainKind(n) === spec(n);
      }),
      { numRuns: 3000 },
    );
    expect(matched).toBeGreaterThan(0);
  });
});
