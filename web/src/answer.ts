// Reading an explain answer: cases (outcomes sharing assumptions), the hook each path step runs
// at, and how a question is asked again as curl or as the CLI.
import { apiBase, token, type Assumption, type ExplainResult, type Outcome, type PathStep, type Query } from './api.js';
import type { KnownRuleset } from './inputs.js';

export interface Case {
  key: string;
  assumes: Assumption[];
  /** Conditions an outcome lists both ways: it lands there whichever holds. */
  either: Assumption[];
  outcomes: { o: Outcome; index: number }[];
}

const condKey = (a: Assumption): string => `${a.line}:${a.condition}`;

/** Splits an outcome's assumptions into the ones it rests on and the ones listed both ways. */
function splitAssumptions(list: Assumption[]): { rests: Assumption[]; either: Assumption[] } {
  const values = new Map<string, Set<boolean>>();
  for (const a of list) {
    const k = condKey(a);
    if (!values.has(k)) values.set(k, new Set());
    values.get(k)!.add(a.holds);
  }
  const rests: Assumption[] = [];
  const either: Assumption[] = [];
  const seen = new Set<string>();
  for (const a of list) {
    const k = condKey(a);
    if (seen.has(k)) continue;
    seen.add(k);
    (values.get(k)!.size > 1 ? either : rests).push(a);
  }
  return { rests, either };
}

/** Outcomes grouped by their assumptions, in first-seen order; probabilities sort within a case. */
export function casesOf(r: ExplainResult): Case[] {
  const byKey = new Map<string, Case>();
  r.outcomes.forEach((o, index) => {
    const sorted = [...o.assumes].sort((x, y) => x.line - y.line || (x.condition < y.condition ? -1 : 1));
    const { rests: a, either } = splitAssumptions(sorted);
    const key = a.map((x) => `${x.line}:${x.condition}:${x.holds}`).join('|');
    let c = byKey.get(key);
    if (!c) byKey.set(key, (c = { key, assumes: a, either: [], outcomes: [] }));
    for (const e of either) if (!c.either.some((x) => condKey(x) === condKey(e))) c.either.push(e);
    c.outcomes.push({ o, index });
  });
  const cases = [...byKey.values()];
  for (const c of cases) c.outcomes.sort((x, y) => y.o.probability - x.o.probability || x.index - y.index);
  return cases;
}

const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
const IPT_TABLES = new Set(['raw', 'mangle', 'nat', 'filter', 'security']);

/**
 * The netfilter hook a step's base chain hangs on, when its name says so: iptables' built-in
 * chains exactly (cali-INPUT is a user chain); nft base chains by the hook in their name
 * (kube-proxy's nat-prerouting, filter-forward, …).
 */
function hookName(step: PathStep): string | null {
  if (HOOKS.includes(step.chain)) return step.chain;
  if (!isNft(step)) return null;
  const m = /(prerouting|input|forward|output|postrouting)/i.exec(step.chain);
  return m ? m[1].toUpperCase() : null;
}

export function isNft(s: PathStep): boolean {
  return s.handle !== undefined || s.family === 'inet' || !IPT_TABLES.has(s.table);
}

export interface ChainRun {
  table: string;
  family: string;
  chain: string;
  steps: { step: PathStep; i: number }[];
}
export interface HookGroup {
  hook: string;
  runs: ChainRun[];
}

/**
 * The path drawn hook by hook, then chain by chain: a step on a base chain named for a hook starts
 * (or continues) that hook; a user chain belongs to the hook it was jumped to from; an IPVS step
 * is its own stage.
 */
export function groupPath(path: PathStep[]): HookGroup[] {
  const groups: HookGroup[] = [];
  let hook = '';
  path.forEach((step, i) => {
    const h = step.ipvs !== undefined ? 'IPVS' : (hookName(step) ?? (hook || 'path'));
    let g = groups[groups.length - 1];
    if (!g || g.hook !== h || (h === 'IPVS') !== (hook === 'IPVS')) {
      g = { hook: h, runs: [] };
      groups.push(g);
    }
    hook = h;
    const family = step.family ?? '';
    let run = g.runs[g.runs.length - 1];
    if (!run || run.chain !== step.chain || run.table !== step.table || run.family !== family) {
      run = { table: step.table, family, chain: step.chain, steps: [] };
      g.runs.push(run);
    }
    run.steps.push({ step, i });
  });
  return groups;
}

/** The step that set the destination (DNAT, IPVS) and the one that set the source (SNAT/MASQUERADE). */
export function keySteps(path: PathStep[]): { dnat: number; snat: number; last: number } {
  let dnat = -1;
  let snat = -1;
  path.forEach((s, i) => {
    if (s.ipvs !== undefined || /(-j DNAT|\bdnat (ip6? )?to\b|-j REDIRECT|\bredirect\b)/i.test(s.rule)) dnat = i;
    if (/(-j (SNAT|MASQUERADE)|\b(snat|masquerade)\b)/i.test(s.rule)) snat = i;
  });
  return { dnat, snat, last: path.length - 1 };
}

export function natKind(o: Outcome): string | null {
  if (!o.masquerade) return null;
  return o.path.some((s) => /-j SNAT|\bsnat\b/i.test(s.rule)) ? 'SNAT' : 'masquerade';
}

// ---- the same question elsewhere

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function curlFor(rs: string, q: Query): string {
  const auth = token.get() ? ` -H "authorization: Bearer $LANDFALL_TOKEN"` : '';
  return `curl -sS -X POST ${shq(`${apiBase()}/v1/rulesets/${rs}/explain`)} -H 'content-type: application/json'${auth} -d ${shq(JSON.stringify(q))}`;
}

const FILE_FLAGS: [keyof KnownRuleset['files'], string, string][] = [
  ['iptables', '--iptables', 'iptables-save.txt'],
  ['ip6tables', '--ip6tables', 'ip6tables-save.txt'],
  ['nftables', '--nftables', 'nft-ruleset.txt'],
  ['ipvs', '--ipvs', 'ipvsadm-save.txt'],
  ['ipsets', '--ipsets', 'ipset-save.txt'],
  ['node', '--node', 'node.json'],
  ['snapshot', '--snapshot', 'snapshot.json'],
];

export function cliFor(rs: string, q: Query, known: KnownRuleset | undefined, aliases: string[]): string {
  const parts = ['landfall', 'explain'];
  if (rs === 'example' || aliases.includes('example')) parts.push('--example', 'kube-node');
  else {
    const files = known?.files ?? {};
    const given = FILE_FLAGS.filter(([k]) => files[k]);
    if (given.length === 0) parts.push('--iptables', 'iptables-save.txt');
    for (const [k, flag] of given) parts.push(flag, shq(files[k]!));
  }
  const dst = q.destination.includes(':') ? `[${q.destination}]` : q.destination;
  parts.push('--proto', q.protocol, '--dst', q.port !== undefined ? `${dst}:${q.port}` : dst);
  if (q.source) parts.push('--src', q.source);
  if (q.sourcePort !== undefined) parts.push('--sport', String(q.sourcePort));
  if (q.origin) parts.push('--origin', q.origin);
  if (q.inInterface) parts.push('--in', shq(q.inInterface));
  if (q.outInterface) parts.push('--out', shq(q.outInterface));
  parts.push('--json');
  return parts.join(' ');
}
