// A node snapshot (src/model/snapshot.ts) → the inputs loadRuleset reads: the rule sources as they
// are, `addresses`/`routes`/`rules` onto the node context's raw iproute2 JSON (ipAddr, ipRoute,
// ipRule), and the collector's notes as warnings. Validation errors name the field.

import { Value } from 'typebox/value';
import type { NodeInput } from '../model/contracts.js';
import { NodeSnapshot, SNAPSHOT_FORMAT, type NodeSnapshotT } from '../model/snapshot.js';
import { ParseError } from './errors.js';

export interface SnapshotInputs {
  iptables?: string;
  ip6tables?: string;
  nftables?: string;
  ipvs?: string;
  ipsets?: string;
  node: Pick<NodeInput, 'ipAddr' | 'ipRoute' | 'ipRule'>;
  /** The collector's notes and what the snapshot lacks, as warnings. */
  warnings: string[];
}

/** Line and column of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Where V8's JSON.parse error points: "at position N", or (Node 20) a quoted window of ten
 * characters either side of the bad token, "Unexpected token 'x', ...\"ab\": x}\" is not valid JSON".
 */
function errorOffset(text: string, msg: string): number {
  const at = /position (\d+)/.exec(msg);
  if (at) return Number(at[1]);
  if (/Unexpected end of JSON input/.test(msg)) return text.length;
  const m = /^Unexpected token '([\s\S])', (\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(msg);
  if (!m) return 0;
  const [, token, cut, window] = m;
  const start = text.indexOf(window);
  if (start < 0) return 0;
  return cut ? start + 10 : start + Math.max(0, window.indexOf(token));
}

/** Parses snapshot JSON text; a syntax error names its line and column. */
export function parseSnapshotJson(text: string, source = 'snapshot'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const offset = errorOffset(text, msg);
    const { line, column } = position(text, offset);
    const what = msg.replace(/ in JSON at position \d+.*$/, '').replace(/^(Unexpected token '.'), [\s\S]*$/, '$1');
    throw new ParseError(`not valid JSON: ${what}`, line, column, source);
  }
}

/** True when a value is (meant to be) a node snapshot: it says its format. */
export function isSnapshot(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { format?: unknown }).format === 'string';
}

/** Checks a snapshot against the schema; the first problem names its field and, for `format`, the one allowed value. */
export function validateSnapshot(v: unknown, source = 'snapshot'): NodeSnapshotT {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ParseError('a node snapshot is a JSON object', 1, 1, source);
  const fmt = (v as { format?: unknown }).format;
  if (fmt !== SNAPSHOT_FORMAT) {
    throw new ParseError(`${source}.format must be ${JSON.stringify(SNAPSHOT_FORMAT)}, got ${JSON.stringify(fmt ?? null)?.slice(0, 60)}`, 1, 1, source);
  }
  if (!Value.Check(NodeSnapshot, v)) {
    const errs = [...Value.Errors(NodeSnapshot, v)];
    const extra = errs.find((e) => e.keyword === 'additionalProperties');
    if (extra) {
      const names = (extra.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      const allowed = Object.keys(NodeSnapshot.properties).join(', ');
      throw new ParseError(`${source} has unknown field${names.length > 1 ? 's' : ''} ${names.map((n) => JSON.stringify(n)).join(', ')} (allowed: ${allowed})`, 1, 1, source);
    }
    const e = errs[0];
    const field = `${source}${e.instancePath.replace(/\//g, '.')}`;
    const want = e.keyword === 'type' ? `a ${(e.params as { type?: string }).type}` : e.message;
    throw new ParseError(`${field} must be ${want}`, 1, 1, source);
  }
  return v as NodeSnapshotT;
}

/** A validated snapshot → loadRuleset's inputs. */
export function snapshotInputs(snap: NodeSnapshotT): SnapshotInputs {
  const out: SnapshotInputs = { node: {}, warnings: [] };
  for (const k of ['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets'] as const) {
    // A collector writes "" for a tool that printed nothing (no rules): not an input.
    const s = snap[k];
    if (s !== undefined && s.trim() !== '') out[k] = s;
  }
  if (snap.addresses !== undefined) out.node.ipAddr = snap.addresses;
  if (snap.routes !== undefined) out.node.ipRoute = snap.routes;
  if (snap.rules !== undefined) out.node.ipRule = snap.rules;
  const who = snap.hostname ? `snapshot of ${snap.hostname}` : 'snapshot';
  for (const n of snap.notes ?? []) out.warnings.push(`${who}: ${n}`);
  if (snap.addresses === undefined) out.warnings.push(`${who}: no addresses (ip -j addr): whether a destination is the node's own is assumed, not known`);
  if (snap.routes === undefined) out.warnings.push(`${who}: no routes (ip -j route show table all): the outgoing interface and masquerade source use the interface defaults`);
  return out;
}
