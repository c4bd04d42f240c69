// What people paste instead of a clean iptables-save: `iptables -S` / `iptables -t nat -S` output
// (no `*table` header: the table is the command's, or inferred), shell prompts and the commands
// they ran, `grep`ped fragments, elision lines (`...`, `---`, `[...]`), prose and Markdown fences
// between the rules. This pre-pass classifies every line once and decides the table of each
// headerless ("loose") command line; the iptables parser then follows the plan, so rule line
// numbers stay those of the paste. Listings that are not iptables-save at all (`iptables -L`,
// `nft list ruleset`) are refused here with what to run instead.

import type { Family } from '../model/addr.js';
import { BUILTIN_CHAINS, TABLES } from '../model/rule.js';
import type { ParseWarning, TableName } from '../model/rule.js';
import { ParseError } from './errors.js';
import { tokenize } from './tokenize.js';

export interface PastePlan {
  /** Lines to skip; the string is the warning to give (lenient), null skips silently. */
  skip: Map<number, string | null>;
  /** Lines strict mode refuses (prose, elisions, loose rules without a known table): message and column. */
  fatal: Map<number, { message: string; column: number }>;
  /** Headerless command lines → their table. */
  table: Map<number, TableName>;
  /** Headerless command lines → their section (a new section commits the tables of the previous one). */
  section: Map<number, number>;
  /** A section's family, when its command (`ip6tables -S`) says. */
  sectionFamily: Map<number, Family>;
  /** Statements of what was inferred, given as warnings. */
  notes: ParseWarning[];
  /** A `# Warning: iptables-legacy tables present` or `# Table ... is incompatible` line was seen. */
}

export interface PasteOptions {
  lenient: boolean;
  /** The table of headerless rules (a --table option); otherwise from prompts, -P lines or inference. */
  table?: TableName;
  source: string;
}

const COMMAND = /^(?:-[AINPXFDRZ](?:\s|$)|--(?:append|insert|new-chain|policy|delete-chain|flush)(?:\s|=|$))/;
const COUNTED = /^\[\d+:\d+\]\s+-/;
const ELISION = /^(?:\.{2,}|…+|-{3,}|={3,}|\[\s*(?:\.{2,}|…|snip|truncated|omitted)\s*\]|\(\s*(?:\.{2,}|…|snip|truncated|omitted)\s*\)|<\s*(?:snip|\.{3}|…)\s*>|(?:\.{3}|…)\s*\(?[^()]*\)?\s*(?:\.{3}|…)?|\(?\s*\d+\s+more\s+(?:lines|rules)\b.*\)?|snip)$/i;
/** A shell prompt (optional) and an iptables command. */
const PROMPT = /^(?:(?:\[[^\]]*\]|[\w.@:~/-]*)\s*[$#%>]\s*)?(?:sudo\s+(?:-\S+\s+)*)?(?:\/\S*\/)?(ip6?tables(?:-legacy|-nft)?(?:-save)?)(?=\s|$)(.*)$/;
const LISTING = /^Chain\s+\S+\s+\((?:policy\s+\w+|\d+\s+references?)/;
const LISTING_HEADER = /^\s*(?:pkts\s+bytes\s+)?target\s+prot\s+opt\s/;
const NFT_TEXT = /^\s*table\s+(?:ip|ip6|inet|arp|bridge|netdev)\s+\S+\s*\{/;
const NFT_JSON = /^\s*\{\s*"nftables"\s*:/;

const NAT_TARGETS = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP']);
const FILTER_TARGETS = new Set(['REJECT']);
const RAW_TARGETS = new Set(['CT', 'NOTRACK']);
const MANGLE_TARGETS = new Set(['TPROXY', 'TTL', 'HL', 'DSCP', 'TOS', 'CLASSIFY', 'ECN']);

/** Chain names that live in one table only (kube-proxy, CNIs, Docker). Ambiguous names are absent. */
const CHAIN_TABLE: [RegExp, TableName][] = [
  [/^KUBE-(?:SVC|SEP|SVL|EXT|FW|XLB)-/, 'nat'],
  [/^KUBE-(?:MARK-MASQ|MARK-DROP|POSTROUTING|LOAD-BALANCER|NODE-PORT|PORTALS-\w+|NODEPORT-\w+)$/, 'nat'],
  [/^(?:cali-nat-|cali-fip-)/, 'nat'],
  [/^CNI-(?:HOSTPORT-|DN-)/, 'nat'],
  [/^CNI-[0-9a-f]{24}$/, 'nat'],
  [/^AWS-(?:SNAT|CONNMARK)-CHAIN-\d+$/, 'nat'],
  [/^(?:FLANNEL-POSTRTG|KIND-MASQ-AGENT|IP-MASQ(?:-AGENT)?|WEAVE|POSTROUTING)$/, 'nat'],
  [/^CILIUM_\w+_nat$/, 'nat'],
  [/^CILIUM_\w+_mangle$/, 'mangle'],
  [/^CILIUM_\w+_raw$/, 'raw'],
  [/^CILIUM_(?:INPUT|FORWARD|OUTPUT)$/, 'filter'],
  // (KUBE-FIREWALL is absent: IPVS mode has one in nat too.)
  [/^KUBE-(?:FORWARD|PROXY-FIREWALL|EXTERNAL-SERVICES|IPVS-FILTER|IPVS-OUT-FILTER|SOURCE-RANGES-FIREWALL|NODE-PORT-FILTER)$/, 'filter'],
  [/^KUBE-(?:ROUTER-\w+|POD-FW-\w+|NWPLCY-\w+)$/, 'filter'],
  [/^WEAVE-(?:NPC|EXPOSE)/, 'filter'],
  [/^DOCKER-(?:USER|ISOLATION)/, 'filter'],
  [/^(?:FLANNEL-FWD|FORWARD)$/, 'filter'],
  [/^cali-(?:fw|tw|pi|po|pri|pro|from|to|wl)-/, 'filter'],
  [/^cali-(?:FORWARD|INPUT)$/, 'filter'],
  [/^KUBE-IPTABLES-HINT$/, 'mangle'],
];

export function chainTable(name: string): TableName | undefined {
  for (const [re, t] of CHAIN_TABLE) if (re.test(name)) return t;
  return undefined;
}

type Kind = 'blank' | 'comment' | 'header' | 'commit' | 'decl' | 'command' | 'elision' | 'prompt' | 'prose';

function classify(t: string): Kind {
  if (t === '') return 'blank';
  const c = t.charCodeAt(0);
  // The common lines first, without regular expressions.
  if (c === 45 /* - */) return COMMAND.test(t) ? 'command' : ELISION.test(t) ? 'elision' : 'prose';
  if (c === 58 /* : */) return t.length > 1 && t[1] !== ' ' ? 'decl' : 'prose';
  if (c === 35 /* # */) return /^#\s*(?:sudo\s|ip6?tables)/.test(t) && PROMPT.test(t) ? 'prompt' : 'comment';
  if (c === 42 /* * */ && /^\*[a-z]+$/.test(t)) return 'header';
  if (t === 'COMMIT') return 'commit';
  if (c === 91 /* [ */ && COUNTED.test(t)) return 'command';
  if (PROMPT.test(t)) return 'prompt';
  if (ELISION.test(t)) return 'elision';
  return 'prose';
}

interface Prompt {
  table?: TableName;
  family: Family;
}

/** The table and family an iptables command line names: `iptables -t nat -S`, `ip6tables-save -t filter`. */
function promptOf(t: string): Prompt | null {
  const m = PROMPT.exec(t);
  if (!m) return null;
  // `iptables rules of the nat table` is prose: a command has options (or nothing) after it.
  if (!/^\s*(?:$|[-|])/.test(m[2])) return null;
  const family: Family = m[1].startsWith('ip6') ? 6 : 4;
  const save = m[1].endsWith('-save');
  // Stop at a pipe: `iptables-save | grep KUBE` keeps iptables-save's options only.
  const args = m[2].split('|')[0].trim().split(/\s+/).filter((w) => w !== '');
  let table: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-t' || a === '--table') table = args[++i];
    else if (a.startsWith('--table=')) table = a.slice(8);
    else if (/^-t\w+$/.test(a)) table = a.slice(2);
    else if (/^-\w*t$/.test(a) && a.length > 2 && !a.startsWith('--')) table = args[++i]; // -nt nat
  }
  if (table !== undefined && !(TABLES as readonly string[]).includes(table)) return { family };
  // Without -t, `iptables -S` lists the filter table; iptables-save prints its own headers.
  return { table: (table as TableName | undefined) ?? (save ? undefined : 'filter'), family };
}

/**
 * True when a text is nftables output (`nft list ruleset` or `nft -j list ruleset`) rather than
 * iptables: its first line that is not blank or a comment opens a table, or the JSON document.
 * (A text/plain upload is told apart this way.)
 */
export function looksLikeNft(text: string): boolean {
  let start = 0;
  for (let n = 0; n < 10_000 && start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const t = text.slice(start, end).trim();
    start = end + 1;
    if (t === '' || t.startsWith('#')) continue;
    return NFT_TEXT.test(t) || NFT_JSON.test(t);
  }
  return false;
}

/** Refuses what is not iptables-save at all, naming what it is and what to run instead. */
function refuseForeign(t: string, n: number, prev: string, firstLine: boolean, source: string, raw: string): void {
  if (LISTING.test(t) || (LISTING_HEADER.test(t) && LISTING.test(prev))) {
    throw new ParseError(
      `this is an \`iptables -L\` listing, not iptables-save: a listing abbreviates matches and drops options the walk needs. Run \`${source === 'ip6tables' ? 'ip6tables-save' : 'iptables-save'}\` (or \`iptables -S\`) on the node, or \`landfall collect\` for everything at once`,
      n, 1, source, raw,
    );
  }
  const json = firstLine && NFT_JSON.test(t);
  if (json || NFT_TEXT.test(t)) {
    throw new ParseError(
      `this is nftables output (\`nft ${json ? '-j ' : ''}list ruleset\`), not iptables-save: pass it as \`nftables\` (CLI: --nftables FILE)`,
      n, 1, source, raw,
    );
  }
}

interface LooseLine {
  n: number; // 1-based line
  cmd: string;
  chain?: string;
  target?: string;
  policy: boolean;
}

interface Section {
  id: number;
  lines: LooseLine[];
  table?: TableName;
  tableFrom?: string;
  family?: Family;
}

function looseLine(n: number, t: string, kind: Kind): LooseLine {
  if (kind === 'decl') {
    const name = t.slice(1).split(/\s+/)[0];
    return { n, cmd: ':', chain: name, policy: false };
  }
  let words: string[];
  try {
    words = tokenize(t.replace(/^\[\d+:\d+\]\s+/, '')).words;
  } catch {
    return { n, cmd: '?', policy: false };
  }
  const cmd = words[0];
  let target: string | undefined;
  for (let i = 2; i < words.length - 1; i++) if (['-j', '--jump', '-g', '--goto'].includes(words[i])) target = words[i + 1];
  return { n, cmd, chain: words[1], target, policy: cmd === '-P' || cmd === '--policy' };
}

/** The table whose built-in chains are exactly the `-P` lines of an `iptables -S` section. */
function tableFromPolicies(chains: Set<string>): TableName | undefined {
  const key = [...chains].sort().join(',');
  for (const t of ['raw', 'mangle', 'nat', 'filter'] as const) if ([...BUILTIN_CHAINS[t]].sort().join(',') === key) return t;
  if (key === 'OUTPUT,POSTROUTING,PREROUTING') return 'nat'; // kernels before 2.6.36 had no nat INPUT
  return undefined;
}

/** The table one rule's own words settle (its target, the chain it jumps to, the chain it is in), and the word that settled it. */
function ruleVote(l: LooseLine): { table: TableName; by: string } | undefined {
  const t = l.target;
  if (t !== undefined) {
    if (NAT_TARGETS.has(t)) return { table: 'nat', by: t };
    if (FILTER_TARGETS.has(t)) return { table: 'filter', by: t };
    if (RAW_TARGETS.has(t)) return { table: 'raw', by: t };
    if (MANGLE_TARGETS.has(t)) return { table: 'mangle', by: t };
    const jt = chainTable(t);
    if (jt) return { table: jt, by: t };
  }
  const ct = l.chain !== undefined ? chainTable(l.chain) : undefined;
  return ct ? { table: ct, by: l.chain! } : undefined;
}

/** Decides the table of every line of a section without a table, from the rules themselves. */
function inferSection(s: Section, plan: PastePlan): void {
  const policies = new Set(s.lines.filter((l) => l.policy && l.chain).map((l) => l.chain!));
  const allowed = (TABLES as readonly TableName[]).filter((t) => [...policies].every((c) => BUILTIN_CHAINS[t].includes(c)));
  const decided = new Map<number, TableName>();
  const byChain = new Map<string, Map<TableName, number>>();
  const vote = (chain: string, t: TableName) => {
    let m = byChain.get(chain);
    if (!m) byChain.set(chain, (m = new Map()));
    m.set(t, (m.get(t) ?? 0) + 1);
  };
  const evidence = new Map<TableName, Set<string>>();
  for (const l of s.lines) {
    const rv = l.policy ? undefined : ruleVote(l);
    const v = rv?.table;
    if (v && allowed.includes(v)) {
      decided.set(l.n, v);
      let ev = evidence.get(v);
      if (!ev) evidence.set(v, (ev = new Set()));
      ev.add(rv!.by);
      if (l.chain) vote(l.chain, v);
      // A jump stays in its table: the target chain is in the same one.
      if (l.target && /^[A-Za-z]/.test(l.target) && !NAT_TARGETS.has(l.target)) vote(l.target, v);
    }
  }
  // Propagate along jumps until nothing changes: a chain jumped to from a nat chain is nat.
  for (let round = 0; round < 8; round++) {
    let changed = false;
    for (const l of s.lines) {
      if (!l.chain || !l.target) continue;
      const from = best(byChain.get(l.chain));
      const to = best(byChain.get(l.target));
      if (from && !to && /^[A-Za-z]/.test(l.target) && !isTargetName(l.target)) {
        vote(l.target, from);
        changed = true;
      } else if (to && !from && !isTargetName(l.target)) {
        vote(l.chain, to);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const fallback: TableName = allowed.includes('filter') ? 'filter' : allowed[0] ?? 'filter';
  const used = new Map<TableName, { first: number; assumed: boolean }>();
  for (const l of s.lines) {
    let t = decided.get(l.n) ?? (l.chain ? best(byChain.get(l.chain)) : undefined);
    let assumed = false;
    if (!t || !allowed.includes(t)) {
      t = fallback;
      assumed = true;
    }
    plan.table.set(l.n, t);
    const u = used.get(t);
    if (!u) used.set(t, { first: l.n, assumed });
    else if (assumed) u.assumed = true;
  }
  for (const [t, u] of used) {
    plan.notes.push({
      line: u.first,
      column: 1,
      message: u.assumed
        ? `rules without a *table header: some placed in the ${t} table by default (nothing in them names a table); give the table (--table ${t}) or paste iptables-save output`
        : `rules without a *table header: placed in the ${t} table (inferred from ${reason(evidence.get(t))}); give the table (--table) or paste iptables-save output`,
    });
  }
}

/** "DNAT, KUBE-SVC-X and 3 more": the words that settled a table, for the warning. */
function reason(ev: Set<string> | undefined): string {
  const words = [...(ev ?? [])];
  if (words.length === 0) return 'the chains its rules jump to';
  const shown = words.slice(0, 3).join(', ');
  return words.length > 3 ? `${shown} and ${words.length - 3} more` : shown;
}

function isTargetName(t: string): boolean {
  return /^[A-Z]+$/.test(t) && (NAT_TARGETS.has(t) || FILTER_TARGETS.has(t) || RAW_TARGETS.has(t) || MANGLE_TARGETS.has(t) || ['ACCEPT', 'DROP', 'RETURN', 'MARK', 'CONNMARK', 'LOG', 'NFLOG', 'TRACE', 'QUEUE', 'NFQUEUE', 'TCPMSS'].includes(t));
}

function best(m: Map<TableName, number> | undefined): TableName | undefined {
  if (!m) return undefined;
  let out: TableName | undefined;
  let n = 0;
  for (const [t, c] of m) if (c > n) [out, n] = [t, c];
  return out;
}

/**
 * Classifies every line and decides the table of headerless command lines. Throws ParseError for
 * an empty dump, an `iptables -L` listing or nftables output; records (does not throw) what strict
 * mode refuses, so the parser can report the first bad line first.
 */
export function planPaste(text: string, opts: PasteOptions): PastePlan {
  const plan: PastePlan = { skip: new Map(), fatal: new Map(), table: new Map(), section: new Map(), sectionFamily: new Map(), notes: [] };
  if (text.trim() === '') {
    throw new ParseError(
      `empty ${opts.source} dump: nothing to load. Run \`${opts.source === 'ip6tables' ? 'ip6tables-save' : 'iptables-save'}\` on the node (or \`landfall collect\`) and give its output`,
      1, 1, opts.source, '',
    );
  }
  const sections: Section[] = [];
  let inTable = false;
  let current: Section | null = null;
  let prompt: Prompt | null = null;
  let prev = '';
  let seen = false;
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    const t = raw.trim();
    const kind = classify(t);
    if (kind === 'prose') refuseForeign(t, n, prev, !seen, opts.source, raw);
    if (kind !== 'blank') {
      prev = t;
      seen = true;
    }
    switch (kind) {
      case 'blank':
      case 'comment':
        continue;
      case 'header':
        inTable = true;
        current = null;
        continue;
      case 'commit':
        inTable = false;
        continue;
      case 'prompt': {
        const p = promptOf(t);
        if (!p) {
          plan.skip.set(n, `skipped ${JSON.stringify(t.slice(0, 60))} (not an iptables-save line)`);
          plan.fatal.set(n, { message: `${JSON.stringify(t.slice(0, 60))}: not an iptables-save line (lenient mode skips such lines with a warning)`, column: 1 });
          continue;
        }
        prompt = p;
        current = null;
        plan.skip.set(n, null);
        // A prompt line is the reader's help, not a rule: fine in strict mode too.
        continue;
      }
      case 'elision':
      case 'prose': {
        const what = kind === 'elision' ? 'elision' : t.startsWith('```') || t.startsWith('~~~') ? 'Markdown fence' : 'a line that is not iptables-save:';
        const msg = kind === 'elision'
          ? `skipped elision ${JSON.stringify(t.slice(0, 40))}: the paste leaves rules out here, so answers may miss them`
          : `skipped ${what} ${JSON.stringify(t.slice(0, 60))}`;
        plan.skip.set(n, msg);
        plan.fatal.set(n, {
          message: `${kind === 'elision' ? 'elision' : what} ${JSON.stringify(t.slice(0, 60))}: expected iptables-save output (${kind === 'elision' ? 'the paste is incomplete; ' : ''}lenient mode skips such lines with a warning; \`iptables-save\` on the node gives a complete dump)`,
          column: raw.length - raw.trimStart().length + 1,
        });
        continue;
      }
      case 'decl':
      case 'command': {
        if (inTable) continue;
        const l = looseLine(n, t, kind);
        if (!current || (l.policy && current.lines.some((x) => !x.policy))) {
          current = { id: sections.length + 1, lines: [], family: prompt?.family };
          if (prompt?.table) {
            current.table = prompt.table;
            current.tableFrom = 'the command line';
          } else if (opts.table) {
            current.table = opts.table;
            current.tableFrom = 'the table option';
          }
          if (prompt && prompt.family === 6) plan.sectionFamily.set(current.id, 6);
          sections.push(current);
        }
        current.lines.push(l);
        plan.section.set(n, current.id);
        continue;
      }
    }
  }
  for (const s of sections) {
    if (s.table) {
      for (const l of s.lines) plan.table.set(l.n, s.table);
      continue;
    }
    const policies = new Set(s.lines.filter((l) => l.policy && l.chain).map((l) => l.chain!));
    const fromP = tableFromPolicies(policies);
    if (fromP) {
      for (const l of s.lines) plan.table.set(l.n, fromP);
      plan.notes.push({
        line: s.lines[0].n,
        column: 1,
        message: `\`iptables -S\` output without its table: taken as the ${fromP} table from its built-in chains (${[...policies].join(', ')})${fromP === 'filter' ? '; the security table has the same chains' : ''}`,
      });
      continue;
    }
    if (!opts.lenient) {
      const first = s.lines[0];
      plan.fatal.set(first.n, {
        message: 'rule outside any *table: iptables -S output and grep fragments do not say their table. Give the table (--table nat), paste `iptables-save` output, or use lenient mode to infer it',
        column: 1,
      });
      continue;
    }
    inferSection(s, plan);
  }
  return plan;
}
