// Human-readable tables for the CLI (the --json output is the library JSON itself).

import type { Assumption, ExplainResult, Outcome } from './model/contracts.js';
import { negatedCondition } from './engine/assume.js';

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatProbability(p: number): string {
  const pct = p * 100;
  return pct >= 99.99995 ? '100%' : `${pct.toFixed(pct < 1 ? 4 : 2)}%`;
}

export function renderExplain(r: ExplainResult, opts: { path: boolean }): string {
  const q = r.query;
  let out = `${q.protocol} ${q.source}${q.sourcePort !== undefined ? ':' + q.sourcePort : ''} -> ${q.destination}${q.port !== undefined ? ':' + q.port : ''} (origin ${q.origin}${q.inInterface ? ', in ' + q.inInterface : ''})\n\n`;
  // Outcomes come grouped by case (explain.ts); each case's probabilities are given its assumptions.
  const groups: { assumes: Assumption[]; outcomes: Outcome[] }[] = [];
  for (const o of r.outcomes) {
    const last = groups[groups.length - 1];
    if (last && sameCase(last.assumes, o.assumes)) last.outcomes.push(o);
    else groups.push({ assumes: o.assumes, outcomes: [o] });
  }
  groups.forEach((g, gi) => {
    if (groups.length > 1 || g.assumes.length > 0) out += `${gi > 0 ? '\n' : ''}${caseHeading(g.assumes)}\n`;
    const rows = [['PROBABILITY', 'VERDICT', 'ENDPOINT', 'SOURCE', 'MASQUERADE', 'RULES WALKED']];
    for (const o of g.outcomes) {
      rows.push([formatProbability(o.probability), o.verdict + (o.rejectWith ? ` (${o.rejectWith})` : ''), o.endpoint, o.source, o.masquerade ? 'yes' : 'no', String(o.rulesEvaluated)]);
    }
    const table = pad(rows);
    out += groups.length > 1 || g.assumes.length > 0 ? `${table.trimEnd().replace(/^/gm, '  ')}\n` : table;
  });
  if (opts.path) {
    r.outcomes.forEach((o, i) => {
      out += `\n#${i + 1} ${formatProbability(o.probability)} ${o.verdict} ${o.endpoint}\n`;
      for (const s of o.path) {
        const where = `${s.table}/${s.chain}${s.index !== undefined ? '#' + s.index : ''}`;
        // nft JSON input: the rule's handle says more than the object's index in the document.
        const at = s.handle !== undefined ? `handle ${String(s.handle).padStart(3)}` : `line ${String(s.line).padStart(5)}`;
        out += `  ${at}  ${where.padEnd(36)} ${s.rule}\n`;
      }
      for (const n of o.notes ?? []) out += `  note: ${n}\n`;
    });
  }
  if (r.uncertain.length) {
    out += '\nUnknown conditions (each case above assumes a value for them):\n';
    for (const u of r.uncertain) out += `  line ${u.line} ${u.table}/${u.chain}: ${u.reason}\n${u.rule ? `    ${u.rule}\n` : ''}`;
  }
  if (r.warnings.length) out += '\nWarnings:\n' + r.warnings.map((w) => `  ${w}\n`).join('');
  return out;
}

function sameCase(a: Assumption[], b: Assumption[]): boolean {
  return a.length === b.length && a.every((x, i) => x.line === b[i].line && x.condition === b[i].condition && x.holds === b[i].holds);
}

/** "if 10.0.0.5 in set A (src) and …:" — the case an outcome group assumes. */
function caseHeading(as: Assumption[]): string {
  if (as.length === 0) return 'in every case:';
  return `if ${as.map((a) => `${a.holds ? a.condition : negatedCondition(a.condition)}${a.line ? ` (line ${a.line})` : ''}`).join(' and ')}:`;
}

interface ServiceLike {
  name: string;
  protocol: string;
  clusterIP?: string | null;
  port?: number;
  nodePort?: number | null;
  externalTrafficPolicy?: string;
  endpoints: { endpoint: string; probability: number; local?: boolean }[];
}

export function renderServices(services: ServiceLike[]): string {
  const rows = [['SERVICE', 'PROTO', 'CLUSTER IP', 'NODE PORT', 'ETP', 'ENDPOINTS']];
  for (const s of services) {
    const eps = s.endpoints.length ? s.endpoints.map((e) => `${e.endpoint} ${formatProbability(e.probability)}`).join(', ') : '(none)';
    // IPVS records no names and a NodePort-only service has no cluster IP: '-' rather than an empty cell.
    rows.push([s.name || '-', s.protocol, s.clusterIP ? `${s.clusterIP}${s.port ? ':' + s.port : ''}` : '-', s.nodePort ? String(s.nodePort) : '-', s.externalTrafficPolicy ?? '-', eps]);
  }
  return pad(rows);
}
