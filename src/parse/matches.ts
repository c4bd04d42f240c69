// `-m module` option tables and builders: each module's options, how many words each takes, and
// how the collected options become typed Match records. An option a module does not model is kept
// as an `unknown` match (so the walk reports it), never dropped.

import { parseAddr, parseCidr } from '../model/addr.js';
import { ColumnError } from './errors.js';
import type { Match, PortRange } from '../model/rule.js';
import { PROTO } from '../model/rule.js';
import {
  parseAddrTypes,
  parseCtStates,
  parseIcmpType,
  parseMarkMask,
  parsePortRange,
  parseProbability,
  parseProto,
  parseTcpFlags,
  parseU32,
} from './values.js';

/** One option as written: `[!] --name arg…`. */
export interface OptWord {
  name: string;
  args: string[];
  invert: boolean;
  col: number;
  argCols: number[];
}

interface ModuleSpec {
  /** Option name (without leading dashes) → number of argument words. */
  options: Record<string, number>;
  build(opts: OptWord[], family: 4 | 6): Match[];
}

function bad(o: OptWord, what: string, i = 0): never {
  throw new ColumnError(`invalid ${what} ${JSON.stringify(o.args[i] ?? '')} for --${o.name}`, o.argCols[i] ?? o.col);
}

/** Port ranges by text, shared between rules (immutable): kube-proxy repeats the same ports a lot. */
const RANGES = new Map<string, PortRange>();
function range(o: OptWord, i = 0): PortRange {
  const s = o.args[i];
  let r = RANGES.get(s);
  if (!r) {
    r = parsePortRange(s) ?? bad(o, 'port or port range', i);
    if (RANGES.size < 100_000) RANGES.set(s, r);
  }
  return r;
}

function cidr(o: OptWord, i = 0) {
  return parseCidr(o.args[i]) ?? bad(o, 'address', i);
}

function unknownOpt(module: string, o: OptWord): Match {
  const text = `${o.invert ? '! ' : ''}--${o.name}${o.args.length ? ' ' + o.args.join(' ') : ''}`;
  return { kind: 'unknown', module, text, reason: `option --${o.name} of match "${module}" is not modelled` };
}

/**
 * Shared --sport/--dport records (immutable), by kind and sense, keyed by their interned range: a
 * kube-proxy dump writes a service's port in several rules and a few hundred ports thousands of
 * times, and every record a rule keeps is one more object the GC copies.
 */
const PORT_MATCHES = [new Map<PortRange, Match>(), new Map<PortRange, Match>(), new Map<PortRange, Match>(), new Map<PortRange, Match>()];
function portMatch(dst: boolean, invert: boolean, r: PortRange): Match {
  const shared = PORT_MATCHES[(dst ? 2 : 0) + (invert ? 1 : 0)]!;
  let m = shared.get(r);
  if (!m) {
    m = dst ? { kind: 'dport', invert, range: r } : { kind: 'sport', invert, range: r };
    if (shared.size < 100_000) shared.set(r, m);
  }
  return m;
}

/** Shared statistic --mode random records by sense and threshold: endpoint counts repeat 1/n. */
const RANDOM_MATCHES = new Map<number, Match>();
function randomMatch(invert: boolean, threshold: number): Match {
  const key = invert ? -1 - threshold : threshold;
  let m = RANDOM_MATCHES.get(key);
  if (!m) {
    m = { kind: 'random', invert, threshold };
    if (RANDOM_MATCHES.size < 100_000) RANDOM_MATCHES.set(key, m);
  }
  return m;
}

const ports: ModuleSpec['build'] = (opts) => {
  const out: Match[] = [];
  for (const o of opts) {
    if (o.name === 'sport' || o.name === 'source-port') out.push(portMatch(false, o.invert, range(o)));
    else if (o.name === 'dport' || o.name === 'destination-port') out.push(portMatch(true, o.invert, range(o)));
    else if (o.name === 'tcp-flags') {
      const mask = parseTcpFlags(o.args[0]) ?? bad(o, 'TCP flags', 0);
      const comp = parseTcpFlags(o.args[1]) ?? bad(o, 'TCP flags', 1);
      out.push({ kind: 'tcpFlags', invert: o.invert, mask, comp });
    } else if (o.name === 'syn') out.push({ kind: 'tcpFlags', invert: o.invert, mask: 0x17, comp: 0x02 });
    else out.push(unknownOpt('tcp', o));
  }
  return out;
};

const portOpts = { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1 };

const SPECS: Record<string, ModuleSpec> = {
  tcp: { options: { ...portOpts, 'tcp-flags': 2, syn: 0, 'tcp-option': 1 }, build: ports },
  udp: { options: portOpts, build: ports },
  udplite: { options: portOpts, build: ports },
  sctp: { options: { ...portOpts, 'chunk-types': 2 }, build: ports },
  dccp: { options: { ...portOpts, 'dccp-types': 1, 'dccp-option': 1 }, build: ports },
  multiport: {
    options: { sports: 1, 'source-ports': 1, dports: 1, 'destination-ports': 1, ports: 1 },
    build(opts) {
      return opts.map((o): Match => {
        const dir = o.name.startsWith('s') ? 'src' : o.name.startsWith('d') ? 'dst' : 'any';
        const list = o.args[0].split(',').map((p) => parsePortRange(p) ?? bad(o, 'port list'));
        if (list.length > 15) bad(o, 'port list (more than 15 ports)');
        return { kind: 'multiport', invert: o.invert, dir, ports: list };
      });
    },
  },
  icmp: {
    options: { 'icmp-type': 1 },
    build(opts) {
      return opts.map((o): Match => {
        const t = parseIcmpType(o.args[0], false) ?? bad(o, 'ICMP type');
        return { kind: 'icmpType', invert: o.invert, v6: false, type: t[0], code: t[1] };
      });
    },
  },
  icmp6: {
    options: { 'icmpv6-type': 1 },
    build(opts) {
      return opts.map((o): Match => {
        const t = parseIcmpType(o.args[0], true) ?? bad(o, 'ICMPv6 type');
        return { kind: 'icmpType', invert: o.invert, v6: true, type: t[0], code: t[1] };
      });
    },
  },
  mark: {
    options: { mark: 1 },
    build(opts) {
      return opts.map((o): Match => {
        const m = parseMarkMask(o.args[0]) ?? bad(o, 'mark');
        return { kind: 'mark', invert: o.invert, value: m.value, mask: m.mask };
      });
    },
  },
  connmark: {
    options: { mark: 1 },
    build(opts) {
      return opts.map((o): Match => {
        const m = parseMarkMask(o.args[0]) ?? bad(o, 'mark');
        return { kind: 'connmark', invert: o.invert, value: m.value, mask: m.mask };
      });
    },
  },
  conntrack: {
    options: {
      ctstate: 1, ctproto: 1, ctorigsrc: 1, ctorigdst: 1, ctreplsrc: 1, ctrepldst: 1,
      ctorigsrcport: 1, ctorigdstport: 1, ctreplsrcport: 1, ctrepldstport: 1, ctstatus: 1,
      ctexpire: 1, ctdir: 1,
    },
    build(opts) {
      return opts.map((o): Match => {
        switch (o.name) {
          case 'ctstate':
            return { kind: 'ctstate', invert: o.invert, states: parseCtStates(o.args[0]) ?? bad(o, 'conntrack state') };
          case 'ctproto':
            return { kind: 'ctproto', invert: o.invert, proto: parseProto(o.args[0]) ?? bad(o, 'protocol') };
          case 'ctorigsrc':
          case 'ctorigdst':
          case 'ctreplsrc':
          case 'ctrepldst':
            return { kind: 'ctaddr', invert: o.invert, field: o.name.slice(2) as 'origsrc', cidr: cidr(o) };
          case 'ctorigsrcport':
          case 'ctorigdstport':
          case 'ctreplsrcport':
          case 'ctrepldstport':
            return { kind: 'ctport', invert: o.invert, field: o.name.slice(2, -4) as 'origsrc', range: range(o) };
          case 'ctdir': {
            const d = o.args[0].toUpperCase();
            if (d !== 'ORIGINAL' && d !== 'REPLY') bad(o, 'direction');
            return { kind: 'ctdir', invert: o.invert, reply: d === 'REPLY' };
          }
          default:
            return unknownOpt('conntrack', o);
        }
      });
    },
  },
  state: {
    options: { state: 1 },
    build(opts) {
      return opts.map((o): Match => ({ kind: 'ctstate', invert: o.invert, states: parseCtStates(o.args[0]) ?? bad(o, 'state') }));
    },
  },
  addrtype: {
    options: { 'src-type': 1, 'dst-type': 1, 'limit-iface-in': 0, 'limit-iface-out': 0 },
    build(opts) {
      const m: Extract<Match, { kind: 'addrtype' }> = { kind: 'addrtype', limitIfaceIn: false, limitIfaceOut: false };
      for (const o of opts) {
        if (o.name === 'src-type') m.src = { invert: o.invert, types: parseAddrTypes(o.args[0]) ?? bad(o, 'address type') };
        else if (o.name === 'dst-type') m.dst = { invert: o.invert, types: parseAddrTypes(o.args[0]) ?? bad(o, 'address type') };
        else if (o.name === 'limit-iface-in') m.limitIfaceIn = true;
        else m.limitIfaceOut = true;
      }
      return [m];
    },
  },
  statistic: {
    options: { mode: 1, probability: 1, every: 1, packet: 1 },
    build(opts) {
      const get = (n: string) => opts.find((o) => o.name === n);
      const mode = get('mode');
      if (!mode) throw new ColumnError('statistic needs --mode', opts[0]?.col ?? 1);
      const invert = opts.some((o) => o.invert);
      if (mode.args[0] === 'random') {
        const p = get('probability');
        if (!p) throw new ColumnError('statistic --mode random needs --probability', mode.col);
        return [randomMatch(invert, parseProbability(p.args[0]) ?? bad(p, 'probability'))];
      }
      if (mode.args[0] === 'nth') {
        const e = get('every');
        if (!e) throw new ColumnError('statistic --mode nth needs --every', mode.col);
        const every = parseU32(e.args[0]);
        if (!every) bad(e, 'count');
        const pk = get('packet');
        const packet = pk ? parseU32(pk.args[0]) ?? bad(pk, 'packet') : 0;
        if (packet >= every) throw new ColumnError('--packet must be less than --every', pk!.col);
        return [{ kind: 'nth', invert, every, packet }];
      }
      return bad(mode, 'mode');
    },
  },
  recent: {
    options: { name: 1, set: 0, rcheck: 0, update: 0, remove: 0, seconds: 1, hitcount: 1, reap: 0, rttl: 0, rsource: 0, rdest: 0, mask: 1 },
    build(opts) {
      const m: Extract<Match, { kind: 'recent' }> = { kind: 'recent', invert: false, name: 'DEFAULT', op: 'set', reap: false, rttl: false, side: 'src' };
      let sawOp = false;
      for (const o of opts) {
        switch (o.name) {
          case 'name': m.name = o.args[0]; break;
          case 'set': case 'rcheck': case 'update': case 'remove':
            if (sawOp) throw new ColumnError('recent takes one of --set, --rcheck, --update, --remove', o.col);
            sawOp = true;
            m.op = o.name;
            m.invert = o.invert;
            break;
          case 'seconds': m.seconds = parseU32(o.args[0]) ?? bad(o, 'seconds'); break;
          case 'hitcount': m.hitcount = parseU32(o.args[0]) ?? bad(o, 'hit count'); break;
          case 'reap': m.reap = true; break;
          case 'rttl': m.rttl = true; break;
          case 'rsource': m.side = 'src'; break;
          case 'rdest': m.side = 'dst'; break;
          case 'mask': m.mask = parseAddr(o.args[0]) ?? bad(o, 'mask'); break;
        }
      }
      if (!sawOp) throw new ColumnError('recent needs one of --set, --rcheck, --update, --remove', opts[0]?.col ?? 1);
      return [m];
    },
  },
  set: {
    options: {
      'match-set': 2, set: 2, 'return-nomatch': 0, 'update-counters': 0, 'update-subcounters': 0,
      'packets-eq': 1, 'packets-lt': 1, 'packets-gt': 1, 'bytes-eq': 1, 'bytes-lt': 1, 'bytes-gt': 1,
    },
    build(opts) {
      const out: Match[] = [];
      let cur: Extract<Match, { kind: 'set' }> | undefined;
      for (const o of opts) {
        if (o.name === 'match-set' || o.name === 'set') {
          const dirs = o.args[1].split(',').map((d) => (d === 'src' ? 'src' : d === 'dst' ? 'dst' : bad(o, 'set direction', 1)));
          if (dirs.length > 6) bad(o, 'set direction list', 1);
          cur = { kind: 'set', invert: o.invert, name: o.args[0], dirs, returnNomatch: false };
          out.push(cur);
        } else if (o.name === 'return-nomatch') {
          if (cur) cur.returnNomatch = true;
        } else if (o.name === 'update-counters' || o.name === 'update-subcounters') {
          // Counter bookkeeping only: does not change whether the set matches.
        } else out.push(unknownOpt('set', o));
      }
      return out;
    },
  },
  comment: {
    options: { comment: 1 },
    build: (opts) => opts.map((o): Match => ({ kind: 'comment', text: o.args[0] })),
  },
  nfacct: {
    options: { 'nfacct-name': 1 },
    build: (opts) => opts.map((o): Match => ({ kind: 'nfacct', name: o.args[0] })),
  },
  iprange: {
    options: { 'src-range': 1, 'dst-range': 1 },
    build(opts) {
      return opts.map((o): Match => {
        const [a, b] = o.args[0].split('-');
        const lo = parseAddr(a ?? '') ?? bad(o, 'address range');
        const hi = b === undefined ? lo : parseAddr(b) ?? bad(o, 'address range');
        if (lo.family !== hi.family) bad(o, 'address range');
        return { kind: 'iprange', invert: o.invert, dir: o.name === 'src-range' ? 'src' : 'dst', lo, hi };
      });
    },
  },
  physdev: {
    options: { 'physdev-in': 1, 'physdev-out': 1, 'physdev-is-in': 0, 'physdev-is-out': 0, 'physdev-is-bridged': 0 },
    build(opts) {
      const m: Extract<Match, { kind: 'physdev' }> = { kind: 'physdev' };
      for (const o of opts) {
        const iface = () => {
          const n = o.args[0];
          return n.endsWith('+') ? { invert: o.invert, name: n.slice(0, -1), prefix: true } : { invert: o.invert, name: n, prefix: false };
        };
        if (o.name === 'physdev-in') m.in = iface();
        else if (o.name === 'physdev-out') m.out = iface();
        else if (o.name === 'physdev-is-in') m.isIn = { invert: o.invert };
        else if (o.name === 'physdev-is-out') m.isOut = { invert: o.invert };
        else m.isBridged = { invert: o.invert };
      }
      return [m];
    },
  },
  owner: {
    options: { 'uid-owner': 1, 'gid-owner': 1, 'socket-exists': 0, 'suppl-groups': 0 },
    build(opts) {
      const m: Extract<Match, { kind: 'owner' }> = { kind: 'owner' };
      const idRange = (o: OptWord) => {
        const [a, b] = o.args[0].split('-');
        const lo = parseU32(a ?? '');
        // Names need the node's passwd file: keep them as an unmodelled range.
        if (lo === null) return { invert: o.invert, lo: -1, hi: -1 };
        const hi = b === undefined ? lo : parseU32(b) ?? bad(o, 'id range');
        return { invert: o.invert, lo, hi };
      };
      for (const o of opts) {
        if (o.name === 'uid-owner') m.uid = idRange(o);
        else if (o.name === 'gid-owner') m.gid = idRange(o);
        else if (o.name === 'socket-exists') m.socketExists = { invert: o.invert };
      }
      return [m];
    },
  },
  limit: {
    options: { limit: 1, 'limit-burst': 1 },
    build: (opts) => [{ kind: 'limit', module: 'limit', text: optsText(opts) }],
  },
  hashlimit: {
    options: {
      hashlimit: 1, 'hashlimit-upto': 1, 'hashlimit-above': 1, 'hashlimit-burst': 1, 'hashlimit-mode': 1,
      'hashlimit-srcmask': 1, 'hashlimit-dstmask': 1, 'hashlimit-name': 1, 'hashlimit-htable-size': 1,
      'hashlimit-htable-max': 1, 'hashlimit-htable-expire': 1, 'hashlimit-htable-gcinterval': 1,
      'hashlimit-rate-match': 0, 'hashlimit-rate-interval': 1,
    },
    build: (opts) => [{ kind: 'limit', module: 'hashlimit', text: optsText(opts) }],
  },
  policy: {
    options: { dir: 1, pol: 1, strict: 0, reqid: 1, spi: 1, proto: 1, mode: 1, 'tunnel-src': 1, 'tunnel-dst': 1, next: 0 },
    build(opts) {
      let dir: 'in' | 'out' = 'in';
      let pol: 'none' | 'ipsec' = 'none';
      let strict = false;
      let unmodelled = false;
      for (const o of opts) {
        if (o.name === 'dir') dir = o.args[0] === 'out' ? 'out' : o.args[0] === 'in' ? 'in' : bad(o, 'direction');
        else if (o.name === 'pol') pol = o.args[0] === 'ipsec' ? 'ipsec' : o.args[0] === 'none' ? 'none' : bad(o, 'policy');
        else if (o.name === 'strict') strict = true;
        else unmodelled = true;
      }
      return [{ kind: 'policy', dir, pol, strict, invert: false, unmodelled }];
    },
  },
  ipvs: {
    options: { ipvs: 0, vaddr: 1, vproto: 1, vport: 1, vdir: 1, vmethod: 1, vportctl: 1 },
    build(opts) {
      const m: Extract<Match, { kind: 'ipvs' }> = { kind: 'ipvs', unmodelled: false };
      for (const o of opts) {
        if (o.name === 'ipvs') m.ipvs = { invert: o.invert };
        else if (o.name === 'vaddr') m.vaddr = { invert: o.invert, cidr: cidr(o) };
        else if (o.name === 'vproto') m.vproto = { invert: o.invert, proto: parseProto(o.args[0]) ?? bad(o, 'protocol') };
        else if (o.name === 'vport') {
          const r = range(o);
          m.vport = { invert: o.invert, port: r.lo };
        } else if (o.name === 'vdir') m.vdir = { invert: o.invert, reply: o.args[0].toUpperCase() === 'REPLY' };
        else m.unmodelled = true;
      }
      return [m];
    },
  },
};
SPECS.icmpv6 = SPECS.icmp6;

function optsText(opts: OptWord[]): string {
  return opts.map((o) => `${o.invert ? '! ' : ''}--${o.name}${o.args.length ? ' ' + o.args.join(' ') : ''}`).join(' ');
}

/** The implicit module loaded by `-p tcp|udp|sctp|icmp|icmpv6` (iptables loads it without -m). */
export function protoModule(proto: number): string | null {
  switch (proto) {
    case PROTO.tcp: return 'tcp';
    case PROTO.udp: return 'udp';
    case PROTO.sctp: return 'sctp';
    case PROTO.icmp: return 'icmp';
    case PROTO.icmpv6: return 'icmp6';
    case 136: return 'udplite';
    case 33: return 'dccp';
    default: return null;
  }
}

export function moduleSpec(name: string): ModuleSpec | undefined {
  return Object.prototype.hasOwnProperty.call(SPECS, name) ? SPECS[name] : undefined;
}

/** Arity of an option for a known module, or undefined when the module does not know it. */
export function optionArity(module: string, option: string): number | undefined {
  const s = moduleSpec(module);
  if (!s) return undefined;
  return Object.prototype.hasOwnProperty.call(s.options, option) ? s.options[option] : undefined;
}

/** Builds the Match records of one module instance. Unknown modules become one `unknown` match. */
export function buildModule(module: string, opts: OptWord[], family: 4 | 6): Match[] {
  const s = moduleSpec(module);
  if (!s) {
    return [{ kind: 'unknown', module, text: `-m ${module}${opts.length ? ' ' + optsText(opts) : ''}`, reason: `match "${module}" is not modelled` }];
  }
  if (opts.length === 0 && module !== 'addrtype' && module !== 'physdev' && module !== 'owner' && module !== 'ipvs') return [];
  return s.build(opts, family);
}
