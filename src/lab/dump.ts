// What the lab needs to know about a dump before loading it: where its DNAT rules send traffic (so
// something listens there), and which nfacct objects it references. A light scan of `-A` lines, not
// landfall's parser: the lab must stay usable (and independent) while the parser is under test.
import type { LabProtocol, ListenSpec } from './protocol.js';

/** Ranges wider than this are not expanded into listeners (reported instead). */
const MAX_RANGE = 256;

/** Shell-like words: double quotes group, backslash escapes inside them (iptables-save's quoting). */
export function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** The words of a rule line (`-A …`, with or without a `[p:b]` counter prefix), else null. */
function ruleWords(line: string): string[] | null {
  const t = line.trimStart();
  const body = t.startsWith('[') ? t.slice(t.indexOf(']') + 1).trimStart() : t;
  return body.startsWith('-A ') ? words(body) : null;
}

function optionValue(w: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < w.length - 1; i++) if (names.includes(w[i]) && w[i - 1] !== '!') return w[i + 1];
  return undefined;
}

export interface DnatScan {
  /** Every address:port a DNAT rule can send to, per protocol (deduplicated). */
  targets: ListenSpec[];
  /** Rules whose targets could not be turned into listeners, with the reason. */
  skipped: string[];
}

function protocolsOf(w: string[]): LabProtocol[] {
  const i = w.findIndex((x, k) => (x === '-p' || x === '--protocol') && w[k - 1] !== '!');
  const p = i >= 0 ? w[i + 1]?.toLowerCase() : undefined;
  if (p === 'tcp' || p === '6') return ['tcp'];
  if (p === 'udp' || p === '17') return ['udp'];
  if (p === undefined || p === 'all' || p === '0') return ['tcp', 'udp'];
  return []; // sctp, icmp…: nothing the lab listens for
}

/** `a` or `a-b` → the numbers (bounded). */
function expandPorts(spec: string): number[] | null {
  const [lo, hi = lo] = spec.split('-').map(Number);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo || hi - lo >= MAX_RANGE) return null;
  return Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
}

function expandIPv4(from: string, to: string): string[] | null {
  const n = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const a = n(from);
  const b = n(to);
  if (!(b >= a) || b - a >= MAX_RANGE) return null;
  return Array.from({ length: b - a + 1 }, (_, k) => {
    const v = a + k;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  });
}

/** `--to-destination` value → addresses and ports (null ports: keep the packet's port). */
function parseToDestination(v: string): { ips: string[] | null; ports: number[] | null; portless: boolean } {
  let addr = v;
  let ports: string | undefined;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    addr = v.slice(1, end);
    if (v[end + 1] === ':') ports = v.slice(end + 2);
  } else if (v.split(':').length === 2) {
    [addr, ports] = v.split(':');
  }
  let ips: string[] | null;
  if (addr.includes('-')) {
    const [a, b] = addr.split('-');
    ips = a.includes(':') ? (a === b ? [a] : null) : expandIPv4(a, b);
  } else ips = addr ? [addr] : null;
  return { ips, ports: ports === undefined ? null : expandPorts(ports), portless: ports === undefined };
}

/** Where the dump's DNAT rules can send traffic: the listeners a faithful lab needs. */
export function scanDnatTargets(dump: string): DnatScan {
  const seen = new Set<string>();
  const targets: ListenSpec[] = [];
  const skipped: string[] = [];
  const lines = dump.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const w = ruleWords(lines[n]);
    if (!w) continue;
    const j = w.indexOf('-j');
    if (j < 0 || w[j + 1] !== 'DNAT') continue;
    const to = optionValue(w, '--to-destination', '--to');
    if (!to) {
      skipped.push(`line ${n + 1}: DNAT without --to-destination`);
      continue;
    }
    const d = parseToDestination(to);
    let ports = d.ports;
    if (d.portless) {
      // No port in the target: the packet keeps its destination port, known only from --dport.
      const dport = optionValue(w, '--dport', '--destination-port');
      ports = dport ? expandPorts(dport.replace(':', '-')) : null;
    }
    if (!d.ips || !ports) {
      skipped.push(`line ${n + 1}: cannot list the addresses of --to-destination ${to}`);
      continue;
    }
    for (const proto of protocolsOf(w))
      for (const ip of d.ips)
        for (const port of ports) {
          const key = `${proto} ${ip} ${port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          targets.push({ proto, ip, port });
        }
  }
  return { targets, skipped };
}

/** Names of the nfacct objects the dump's rules reference (they must exist before restore). */
export function nfacctNames(dump: string): string[] {
  const names = new Set<string>();
  for (const line of dump.split('\n')) {
    const w = ruleWords(line);
    if (!w) continue;
    for (let i = 0; i < w.length - 1; i++) if (w[i] === '--nfacct-name') names.add(w[i + 1]);
  }
  return [...names].sort();
}

/**
 * Removes `-m nfacct --nfacct-name X` from every rule. nfacct is pure accounting: the match always
 * succeeds, so the rules decide exactly as before; it is the fallback when the `nfacct` tool that
 * would create the objects is not installed.
 */
export function stripNfacct(dump: string): { text: string; rules: number } {
  let rules = 0;
  const re = /[ \t]+-m[ \t]+nfacct[ \t]+--nfacct-name[ \t]+("(?:[^"\\]|\\.)*"|[^ \t]+)/g;
  const text = dump
    .split('\n')
    .map((line) => {
      if (!ruleWords(line) || !line.includes('nfacct')) return line;
      const out = line.replace(re, '');
      if (out !== line) rules++;
      return out;
    })
    .join('\n');
  return { text, rules };
}

/** Names of the ipsets referenced by `-m set --match-set NAME` (they must be restored first). */
export function ipsetNames(dump: string): string[] {
  const names = new Set<string>();
  for (const line of dump.split('\n')) {
    const w = ruleWords(line);
    if (!w) continue;
    for (let i = 0; i < w.length - 1; i++) if (w[i] === '--match-set') names.add(w[i + 1]);
  }
  return [...names].sort();
}

/**
 * The same for an nft rule set (`nft list ruleset` text or an `nft -f` script): `dnat to A:P`,
 * `dnat ip to numgen … map { 0 : A . P, … }` and the `dnat ip addr . port to …` spelling, with
 * the protocol from the rule's `meta l4proto X` (both TCP and UDP when a rule names none).
 * Rules whose target comes from a named map or a packet field are reported, not guessed.
 */
export function scanNftDnatTargets(text: string): DnatScan {
  const seen = new Set<string>();
  const targets: ListenSpec[] = [];
  const skipped: string[] = [];
  const lines = text.split('\n');
  const add = (proto: LabProtocol, ip: string, port: number): void => {
    const key = `${proto} ${ip} ${port}`;
    if (seen.has(key)) return;
    seen.add(key);
    targets.push({ proto, ip, port });
  };
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const at = line.search(/\bdnat (?:ip6? )?(?:addr \. port )?to /);
    if (at < 0) continue;
    const l4 = /\bmeta l4proto (tcp|udp|sctp|\{[^}]*\})/.exec(line)?.[1];
    const protos: LabProtocol[] = !l4 ? ['tcp', 'udp'] : (['tcp', 'udp'] as const).filter((p) => l4 === p || (l4.startsWith('{') && l4.includes(p)));
    const rest = line.slice(at).replace(/^dnat (?:ip6? )?(?:addr \. port )?to /, '');
    const mapped = /^numgen [^{]*map \{([^}]*)\}/.exec(rest);
    const pairs: [string, string][] = [];
    if (mapped) {
      for (const el of mapped[1].split(',')) {
        const v = el.split(':').slice(1).join(':').trim();
        const [ip, port] = v.split(' . ').map((x) => x.trim());
        if (ip && port) pairs.push([ip.replace(/^\[|\]$/g, ''), port]);
      }
    } else {
      const m = /^(\[[^\]]+\]|[0-9.]+):(\d+)/.exec(rest);
      if (m) pairs.push([m[1].replace(/^\[|\]$/g, ''), m[2]]);
    }
    if (pairs.length === 0) {
      skipped.push(`line ${n + 1}: cannot list the addresses of ${rest.trim().split(/\s+/).slice(0, 6).join(' ')}`);
      continue;
    }
    for (const [ip, port] of pairs) for (const p of protos) add(p, ip, Number(port));
  }
  return { targets, skipped };
}
