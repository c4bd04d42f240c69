// IPVS state from `ipvsadm-save -n` (the -A/-a command form) or the human `ipvsadm -Ln` listing
// (with or without --stats / --rate columns). Both list real servers in the kernel's own order,
// which the hashing schedulers depend on, so the order is kept exactly.

import { parseAddr, type Addr } from '../model/addr.js';
import type { IpvsForward, IpvsState, RealServer, VirtualService } from '../model/ipvs.js';
import { ColumnError, ParseError, quote } from './errors.js';
import { tokenize, type Words } from './tokenize.js';

const SOURCE = 'ipvs';

type Proto = VirtualService['protocol'];

/** "10.0.0.1:80", "[fd00::1]:80"; the port is optional when `portOptional`. */
function parseHostPort(s: string, portOptional: boolean): { addr: Addr; port: number | undefined } | null {
  let host: string;
  let port: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return null;
      port = rest.slice(1);
    }
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0 || s.indexOf(':') !== colon) {
      // No colon, or a bare IPv6 address without brackets (no port possible).
      host = s;
    } else {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
    }
  }
  const addr = parseAddr(host);
  if (!addr) return null;
  if (port === undefined) return portOptional ? { addr, port: undefined } : null;
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return null;
  return { addr, port: Number(port) };
}

function serviceKey(protocol: Proto, family: number, addrOrMark: string): string {
  return `${protocol}|${family}|${addrOrMark}`;
}

/** -b flag names as ipvsadm prints them; flag-1/flag-2 mean fallback/port for sh and mh. */
function normalizeFlags(flags: string[], scheduler: string): string[] {
  return flags.map((f) => {
    if ((scheduler === 'sh' || scheduler === 'mh') && f === 'flag-1') return `${scheduler}-fallback`;
    if ((scheduler === 'sh' || scheduler === 'mh') && f === 'flag-2') return `${scheduler}-port`;
    return f;
  });
}

const SCHED_FLAG = /^(flag-[123]|sh-fallback|sh-port|mh-fallback|mh-port)$/;

class Cursor {
  i = 0;
  constructor(
    readonly w: Words,
    readonly lineNo: number,
    readonly text: string,
  ) {}
  fail(message: string, k = this.i): never {
    const col = k < this.w.cols.length ? this.w.cols[k] : this.text.length + 1;
    throw new ParseError(message, this.lineNo, col, SOURCE, this.text);
  }
  value(opt: string): string {
    if (this.i + 1 >= this.w.words.length) this.fail(`${opt} needs a value`);
    this.i++;
    return this.w.words[this.i];
  }
  int(opt: string, max: number): number {
    const v = this.value(opt);
    if (!/^\d+$/.test(v) || Number(v) > max) this.fail(`${opt}: not a number in 0..${max}: ${quote(v)}`);
    return Number(v);
  }
}

function tokenizeLine(text: string, lineNo: number): Words {
  try {
    return tokenize(text);
  } catch (e) {
    if (e instanceof ColumnError) throw new ParseError(e.message, lineNo, e.column, SOURCE, text);
    throw e;
  }
}

interface ServiceSpec {
  protocol: Proto;
  family: 4 | 6;
  addr?: Addr;
  port?: number;
  fwmark?: number;
  /** Column of the spec word, for "unknown service" errors. */
  at: number;
}

function parseSaveLine(text: string, lineNo: number, state: IpvsState, byKey: Map<string, VirtualService>): void {
  const c: Cursor = new Cursor(tokenizeLine(text, lineNo), lineNo, text);
  const words = c.w.words;
  const cmd = words[0];
  if (cmd === '-C' || cmd === '--clear') return; // a restore script may start by clearing
  const isService = cmd === '-A' || cmd === '--add-service';
  const isServer = cmd === '-a' || cmd === '--add-server';
  if (!isService && !isServer) c.fail(`expected -A (virtual service) or -a (real server), got ${quote(cmd)}`, 0);

  let spec: ServiceSpec | null = null;
  let v6Flag = false;
  let scheduler: string | undefined;
  let flags: string[] = [];
  let persistent: number | undefined;
  let netmask: string | undefined;
  let ops = false;
  let pe: string | undefined;
  let real: { addr: Addr; port: number | undefined; at: number } | null = null;
  let forward: IpvsForward | undefined;
  let weight: number | undefined;
  let upper: number | undefined;
  let lower: number | undefined;

  const addrSpec = (protocol: Proto, opt: string): void => {
    if (spec) c.fail(`a second service address (${opt})`);
    const at = c.i;
    const v = c.value(opt);
    const hp = parseHostPort(v, false);
    if (!hp) c.fail(`${opt}: expected a numeric address:port (use ipvsadm-save -n), got ${quote(v)}`, at + 1);
    spec = { protocol, family: hp.addr.family, addr: hp.addr, port: hp.port, at: at + 1 };
  };

  for (c.i = 1; c.i < words.length; c.i++) {
    const w = words[c.i];
    switch (w) {
      case '-t':
      case '--tcp-service':
        addrSpec('tcp', w);
        break;
      case '-u':
      case '--udp-service':
        addrSpec('udp', w);
        break;
      case '-q':
      case '--sctp-service':
        addrSpec('sctp', w);
        break;
      case '-f':
      case '--fwmark-service': {
        if (spec) c.fail(`a second service address (${w})`);
        const at = c.i + 1;
        const v = c.value(w);
        if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(v) || Number(v) > 0xffffffff || Number(v) === 0)
          c.fail(`${w}: expected a non-zero firewall mark, got ${quote(v)}`, at);
        spec = { protocol: 'fwmark', family: 4, fwmark: Number(v) >>> 0, at };
        break;
      }
      case '-6':
      case '--ipv6':
        v6Flag = true;
        break;
      case '-s':
      case '--scheduler':
        scheduler = c.value(w);
        if (!/^[a-z]+$/.test(scheduler)) c.fail(`bad scheduler name ${quote(scheduler)}`);
        break;
      case '-b':
      case '--sched-flags': {
        const v = c.value(w);
        flags = v.split(',');
        for (const f of flags) if (!SCHED_FLAG.test(f)) c.fail(`unknown scheduler flag ${quote(f)}`);
        break;
      }
      case '-p':
      case '--persistent': {
        // The timeout is optional on the command line (default 300s); ipvsadm-save always prints it.
        const next = words[c.i + 1];
        if (next !== undefined && /^\d+$/.test(next)) persistent = c.int(w, 0x7fffffff);
        else persistent = 300;
        break;
      }
      case '-M':
      case '--netmask':
        netmask = c.value(w);
        if (!parseAddr(netmask) && !/^\d{1,3}$/.test(netmask)) c.fail(`bad persistence netmask ${quote(netmask)}`);
        break;
      case '-o':
      case '--ops':
        ops = true;
        break;
      case '--pe':
        pe = c.value(w);
        break;
      case '-r':
      case '--real-server': {
        const at = c.i + 1;
        const v = c.value(w);
        const hp = parseHostPort(v, true);
        if (!hp) c.fail(`${w}: expected a numeric address[:port], got ${quote(v)}`, at);
        real = { addr: hp.addr, port: hp.port, at };
        break;
      }
      case '-m':
      case '--masquerading':
        forward = 'masq';
        break;
      case '-g':
      case '--gatewaying':
        forward = 'gate';
        break;
      case '-i':
      case '--ipip':
        forward = 'ipip';
        break;
      case '-w':
      case '--weight':
        weight = c.int(w, 65535);
        break;
      case '-x':
      case '--u-threshold':
        upper = c.int(w, 0x7fffffff);
        break;
      case '-y':
      case '--l-threshold':
        lower = c.int(w, 0x7fffffff);
        break;
      case '--tun-type':
      case '--tun-port':
        c.value(w); // tunnel encapsulation details do not change where the packet lands
        break;
      case '--tun-nocsum':
      case '--tun-csum':
      case '--tun-remcsum':
        break;
      default:
        c.fail(`unknown ipvsadm option ${quote(w)}`);
    }
  }
  const s = spec as ServiceSpec | null;
  if (!s) c.fail('missing the virtual service (-t, -u, --sctp-service or -f)', words.length);
  if (s.protocol === 'fwmark' && v6Flag) s.family = 6;
  const key = serviceKey(s.protocol, s.family, s.protocol === 'fwmark' ? String(s.fwmark) : `${s.addr!.w.join(',')}:${s.port}`);

  if (isService) {
    if (real) c.fail('-r belongs on an -a (real server) line', real.at - 1);
    if (byKey.has(key)) c.fail('virtual service defined twice', s.at);
    const svc: VirtualService = {
      protocol: s.protocol,
      family: s.family,
      scheduler: scheduler ?? 'wlc', // ipvsadm's default scheduler
      schedFlags: normalizeFlags(flags, scheduler ?? 'wlc'),
      reals: [],
      line: lineNo,
      text,
    };
    if (s.addr) svc.addr = s.addr;
    if (s.port !== undefined) svc.port = s.port;
    if (s.fwmark !== undefined) svc.fwmark = s.fwmark;
    if (persistent !== undefined) svc.persistent = persistent;
    if (netmask !== undefined) svc.netmask = netmask;
    if (ops) svc.ops = true;
    if (pe !== undefined) svc.pe = pe;
    byKey.set(key, svc);
    state.services.push(svc);
    return;
  }
  const svc = byKey.get(key);
  if (!svc) c.fail('real server for a virtual service not defined above', s.at);
  const r = real as { addr: Addr; port: number | undefined; at: number } | null;
  if (!r) c.fail('missing -r (real server address)', words.length);
  if (svc.protocol !== 'fwmark' && r.addr.family !== svc.family) {
    // IPVS can mix families only with tunnelling; ipvsadm refuses other combinations.
    if (forward !== 'ipip') c.fail('real server of the other address family', r.at);
  }
  const server: RealServer = {
    addr: r.addr,
    // ipvsadm: no port → the virtual service's port (fwmark services: 0).
    port: r.port ?? svc.port ?? 0,
    forward: forward ?? 'gate', // ipvsadm's default forwarding method is direct routing
    weight: weight ?? 1,
    line: lineNo,
    text,
  };
  if (upper !== undefined) server.upperThreshold = upper;
  if (lower !== undefined) server.lowerThreshold = lower;
  svc.reals.push(server);
}

// ---------------------------------------------------------------------------------------------
// ipvsadm -Ln listing

const LIST_FORWARD: Record<string, IpvsForward> = { Masq: 'masq', Route: 'gate', Tunnel: 'ipip', Local: 'masq' };
const LIST_PROTO: Record<string, Proto> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp', FWM: 'fwmark' };

/** Real-server columns a listing can show (plain, --thresholds, --persistent-conn). */
const REAL_COLUMNS = new Set(['Forward', 'Weight', 'ActiveConn', 'InActConn', 'Uthreshold', 'Lthreshold', 'PersistConn']);

function parseListing(lines: string[]): IpvsState {
  const state: IpvsState = { services: [] };
  // The service line's shape: scheduler + flags (plain), or counters (--stats / --rate).
  let counters = false;
  // The real-server columns after the address, from the "-> RemoteAddress:Port …" header;
  // empty for --stats/--rate, whose rows carry counters only.
  let realCols: string[] = ['Forward', 'Weight', 'ActiveConn', 'InActConn'];
  let current: VirtualService | null = null;
  for (let n = 0; n < lines.length; n++) {
    const text = lines[n];
    const lineNo = n + 1;
    const t = text.trim();
    if (t === '' || t.startsWith('IP Virtual Server')) continue;
    if (t.startsWith('Prot LocalAddress')) {
      // Plain: "Scheduler Flags" here and the real-server columns on the "->" line. --stats and
      // --rate: counters. --thresholds / --persistent-conn: the real-server columns are here and
      // the "->" line is bare.
      const cols = t.split(/\s+/).slice(2);
      counters = cols.includes('Conns') || cols.includes('CPS');
      if (counters) realCols = [];
      else if (cols.length > 0 && cols.every((x) => REAL_COLUMNS.has(x))) realCols = cols;
      else realCols = ['Forward', 'Weight', 'ActiveConn', 'InActConn'];
      continue;
    }
    if (t.startsWith('-> RemoteAddress')) {
      const cols = t.split(/\s+/).slice(2);
      const bad = cols.findIndex((x) => !REAL_COLUMNS.has(x));
      if (bad >= 0) throw new ParseError(`unknown real-server column ${quote(cols[bad])}`, lineNo, text.indexOf(cols[bad]) + 1, SOURCE, text);
      if (cols.length > 0) realCols = cols;
      continue;
    }
    const c: Cursor = new Cursor(tokenizeLine(text, lineNo), lineNo, text);
    const words = c.w.words;
    if (words[0] === '->') {
      if (!current) c.fail('real server before any virtual service', 0);
      const svc: VirtualService = current;
      const hp = parseHostPort(words[1] ?? '', true);
      if (!hp) c.fail(`expected a numeric address:port (use ipvsadm -Ln), got ${quote(words[1] ?? '')}`, 1);
      const server: RealServer = { addr: hp.addr, port: hp.port ?? svc.port ?? 0, forward: 'masq', weight: 1, line: lineNo, text };
      let sawWeight = false;
      realCols.forEach((col, k) => {
        const w = words[2 + k];
        if (w === undefined) c.fail(`missing the ${col} column`, words.length);
        if (col === 'Forward') {
          const fwd = LIST_FORWARD[w];
          if (!fwd) c.fail(`unknown forwarding method ${quote(w)} (expected Masq, Route, Tunnel or Local)`, 2 + k);
          server.forward = fwd;
          return;
        }
        if (!/^\d+$/.test(w)) c.fail(`${col}: expected a number, got ${quote(w)}`, 2 + k);
        const v = Number(w);
        if (col === 'Weight') {
          server.weight = v;
          sawWeight = true;
        } else if (col === 'ActiveConn') server.activeConns = v;
        else if (col === 'InActConn') server.inactiveConns = v;
        else if (col === 'Uthreshold' && v > 0) server.upperThreshold = v;
        else if (col === 'Lthreshold' && v > 0) server.lowerThreshold = v;
      });
      // --stats/--rate/--thresholds views do not show the weight: say so rather than guess silently.
      if (!sawWeight) server.weightUnknown = true;
      svc.reals.push(server);
      continue;
    }
    const protocol = LIST_PROTO[words[0]];
    if (!protocol) c.fail(`expected TCP, UDP, SCTP, FWM or "->", got ${quote(words[0])}`, 0);
    let k = 1;
    const svc: VirtualService = { protocol, family: 4, scheduler: 'unknown', schedFlags: [], reals: [], line: lineNo, text };
    if (protocol === 'fwmark') {
      const m = words[k] ?? '';
      if (!/^\d+$/.test(m) || Number(m) === 0 || Number(m) > 0xffffffff) c.fail(`expected a firewall mark, got ${quote(m)}`, k);
      svc.fwmark = Number(m) >>> 0;
      k++;
      if (words[k] === 'IPv6') {
        svc.family = 6;
        k++;
      }
    } else {
      const hp = parseHostPort(words[k] ?? '', false);
      if (!hp) c.fail(`expected a numeric address:port (use ipvsadm -Ln), got ${quote(words[k] ?? '')}`, k);
      svc.addr = hp.addr;
      svc.port = hp.port;
      svc.family = hp.addr.family;
      k++;
    }
    if (!counters) {
      const sched = words[k];
      if (!sched || !/^[a-z]+$/.test(sched)) c.fail(`expected a scheduler name, got ${quote(sched ?? '')}`, k);
      svc.scheduler = sched;
      k++;
      for (; k < words.length; k++) {
        const w = words[k];
        if (w === 'persistent') {
          c.i = k;
          svc.persistent = c.int('persistent', 0x7fffffff);
          k = c.i;
        } else if (w === 'mask') {
          c.i = k;
          svc.netmask = c.value('mask');
          k = c.i;
        } else if (w === 'ops') svc.ops = true;
        else if (w === 'pe') {
          c.i = k;
          svc.pe = c.value('pe');
          k = c.i;
        } else {
          // Scheduler flags, printed like "(sh-fallback,sh-port)" or "sh-port".
          const flags = w.replace(/[()]/g, '').split(',').filter((f) => f.length > 0);
          for (const f of flags) if (!SCHED_FLAG.test(f)) c.fail(`unknown virtual service flag ${quote(w)}`, k);
          svc.schedFlags.push(...normalizeFlags(flags, svc.scheduler));
        }
      }
    } else {
      for (; k < words.length; k++) if (!/^\d+[KMGT]?$/.test(words[k])) c.fail(`expected a counter, got ${quote(words[k])}`, k);
    }
    state.services.push(svc);
    current = svc;
  }
  return state;
}

/**
 * libipvs ipvs_cmp_dests(), which ipvsadm sorts real servers with unless --nosort: IPv4 by the
 * difference of the host-order addresses taken as a signed int (so it wraps for far-apart
 * addresses), IPv6 by the bytes, then by port.
 */
function ipvsadmCompare(a: RealServer, b: RealServer): number {
  if (a.addr.family !== b.addr.family) return a.addr.family - b.addr.family;
  let r = 0;
  if (a.addr.family === 4) r = (a.addr.w[0] - b.addr.w[0]) | 0;
  else {
    for (let k = 0; k < 4 && r === 0; k++) r = a.addr.w[k] === b.addr.w[k] ? 0 : a.addr.w[k] < b.addr.w[k] ? -1 : 1;
  }
  return r !== 0 ? r : a.port - b.port;
}

/** 'kernel' when some list is out of ipvsadm's sorted order (the dump was taken with --nosort). */
function realOrder(state: IpvsState): 'kernel' | 'sorted' {
  let ambiguous = false;
  for (const s of state.services) {
    for (let i = 1; i < s.reals.length; i++) {
      if (ipvsadmCompare(s.reals[i - 1], s.reals[i]) > 0) return 'kernel';
      ambiguous = true;
    }
  }
  return ambiguous ? 'sorted' : 'kernel';
}

/** Parses `ipvsadm-save -n` or `ipvsadm -Ln [--stats|--rate]` text; throws ParseError (source "ipvs"). */
export function parseIpvs(text: string): IpvsState {
  const state = parseText(text);
  if (realOrder(state) === 'sorted') state.realOrder = 'sorted';
  return state;
}

/** A shell prompt and the ipvsadm command people paste above its output: `[root@n1 ~]# ipvsadm -Ln`. */
const PROMPT = /^(?:(?:\[[^\]]*\]|[\w.@:~/-]*)\s*[$#%>]\s*)?(?:sudo\s+)?ipvsadm(?:-save)?(?:\s+-\S+)*\s*$/;

function parseText(text: string): IpvsState {
  // Blank out prompt lines (keeping line numbers) so both formats read what follows.
  const lines = text.split(/\r?\n/).map((l) => (PROMPT.test(l.trim()) ? '' : l));
  const first = lines.find((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  if (first !== undefined && /^\s*(IP Virtual Server|Prot\s+LocalAddress|TCP\s|UDP\s|SCTP\s|FWM\s)/.test(first)) {
    return parseListing(lines);
  }
  const state: IpvsState = { services: [] };
  const byKey = new Map<string, VirtualService>();
  for (let n = 0; n < lines.length; n++) {
    const t = lines[n].trim();
    if (t === '' || t.startsWith('#')) continue;
    parseSaveLine(lines[n], n + 1, state, byKey);
  }
  return state;
}
