// kube-proxy's chain names (pkg/proxy/iptables): a chain name must fit iptables' 28-character
// limit, so kube-proxy hashes the service port name: prefix + base32(sha256(...))[:16].
// The same hash suffix is shared by a service port's SVC/SVL/EXT/FW chains, which is what lets
// service discovery group the chains of one service even when no comments are present.

import { createHash } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (Go's base32.StdEncoding) of the first bytes, enough for `chars` characters. */
function base32Prefix(bytes: Uint8Array, chars: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length && out.length < chars; i++) {
    acc = ((acc << 8) | bytes[i]) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

function hash16(input: string): string {
  return base32Prefix(createHash('sha256').update(input).digest(), 16);
}

/**
 * The 16-character hash shared by a service port's chains. `svcPortName` is `ns/name:port`
 * (or `ns/name` for an unnamed port); `protocol` is lower-case (`tcp`, `udp`, `sctp`).
 */
export function servicePortHash(svcPortName: string, protocol: string): string {
  return hash16(svcPortName + protocol);
}

/** The KUBE-SEP hash: the service port name, protocol and the endpoint's `ip:port` (`[ip6]:port`). */
export function endpointHash(svcPortName: string, protocol: string, endpoint: string): string {
  return hash16(svcPortName + protocol + endpoint);
}

export interface ServiceChains {
  svc: string;
  svl: string;
  ext: string;
  fw: string;
}

export function serviceChains(svcPortName: string, protocol: string): ServiceChains {
  const h = servicePortHash(svcPortName, protocol);
  return { svc: `KUBE-SVC-${h}`, svl: `KUBE-SVL-${h}`, ext: `KUBE-EXT-${h}`, fw: `KUBE-FW-${h}` };
}

export function endpointChain(svcPortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${endpointHash(svcPortName, protocol, endpoint)}`;
}

/**
 * Per-service chain kinds. XLB is the pre-1.24 name of the eTP=Local chain (now EXT + SVL);
 * discovery still reads dumps from nodes that old.
 */
export type KubeChainKind = 'SVC' | 'SVL' | 'EXT' | 'FW' | 'SEP' | 'XLB';

const KINDS3 = ['SEP', 'SVC', 'SVL', 'EXT', 'XLB'] as const;

/**
 * The kind of a per-service chain name, `KUBE-(SVC|SVL|EXT|FW|SEP|XLB)-` and 16 base32 characters
 * ([A-Z2-7]); null for any other name. Checked by hand, without a regex or an allocation: it runs
 * over every chain name and jump target of large dumps.
 */
export function kubeChainKind(name: string): KubeChainKind | null {
  const n = name.length;
  if ((n !== 24 && n !== 25) || !name.startsWith('KUBE-')) return null;
  let kind: KubeChainKind | null = null;
  if (n === 24) {
    if (name.startsWith('FW-', 5)) kind = 'FW';
  } else {
    for (const k of KINDS3) {
      if (name.startsWith(k, 5) && name.charCodeAt(8) === 45 /* - */) {
        kind = k as KubeChainKind;
        break;
      }
    }
  }
  if (kind === null) return null;
  for (let i = n - 16; i < n; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 50 && c <= 55))) return null; // A-Z, 2-7
  }
  return kind;
}

/** Splits `KUBE-SVC-XPGD46QRK7WJZT7O` into kind and hash; null for any other chain name. */
export function parseKubeChain(name: string): { kind: KubeChainKind; hash: string } | null {
  const kind = kubeChainKind(name);
  return kind ? { kind, hash: name.slice(name.length - 16) } : null;
}

// ---- nftables mode (pkg/proxy/nftables): chain names carry the readable name after a hash ----

/** knftables.NameLengthMax (256) minus the longest prefix kube-proxy puts in front (16). */
const NFT_BASE_MAX = 240;

/**
 * hashAndTruncate: `base32(sha256(name))[:8] + "-" + name`, cut to 240 characters with "..."
 * (never reached by valid Kubernetes names, kept for exactness).
 */
export function nftChainBase(name: string): string {
  const base = `${base32Prefix(createHash('sha256').update(name).digest(), 8)}-${name}`;
  return base.length > NFT_BASE_MAX ? `${base.slice(0, NFT_BASE_MAX - 3)}...` : base;
}

/** `ns/name/proto/port` → `HASH-ns/name/proto/port` (servicePortChainNameBase). */
export function nftServiceBase(namespace: string, serviceName: string, protocol: string, portName: string): string {
  return nftChainBase(`${namespace}/${serviceName}/${protocol}/${portName}`);
}

/** `ns/name/proto/port__ip/port`, IPv6 colons as dots (servicePortEndpointChainNameBase). */
export function nftEndpointBase(namespace: string, serviceName: string, protocol: string, portName: string, ip: string, port: number): string {
  return nftChainBase(`${namespace}/${serviceName}/${protocol}/${portName}__${ip.replaceAll(':', '.')}/${port}`);
}

/** Per-service chain kinds of nftables mode; `affinity` names a set, not a chain. */
export type NftChainKind = 'service' | 'local' | 'external' | 'firewall' | 'endpoint' | 'affinity';

const NFT_KIND_RE = /^(service|local|external|firewall|endpoint|affinity)-([A-Z2-7]{8})-(.+)$/;

/**
 * Splits `service-ULMVA6XW-ns1/svc1/tcp/p80` into kind, hash and the readable rest
 * (`ns1/svc1/tcp/p80`, or `…__10.180.0.1/80` for endpoints and affinity sets); null otherwise.
 */
export function parseNftChain(name: string): { kind: NftChainKind; hash: string; rest: string } | null {
  const m = NFT_KIND_RE.exec(name);
  return m ? { kind: m[1] as NftChainKind, hash: m[2], rest: m[3] } : null;
}
