// `landfall collect`: runs on a node (as root) and writes a node snapshot (src/model/snapshot.ts)
// of everything landfall reads. collect.sh, shipped beside this file, writes the same document
// with POSIX sh and awk for nodes without Node.js; keep the two in step (test/collect checks it).
// Tools the node lacks, IPVS when it is not loaded (asking ipvsadm would load the module), and
// commands that fail are left out with a note.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SNAPSHOT_FORMAT, type NodeSnapshotT } from '../model/snapshot.js';

type Field = 'iptables' | 'ip6tables' | 'nftables' | 'ipvs' | 'ipsets' | 'addresses' | 'routes' | 'rules';

interface Step {
  field: Field;
  /** Commands whose outputs are concatenated; a later one runs only when the earlier succeeded. */
  commands: string[][];
  /** A kernel facility that must already be there (asking the tool could load its module). */
  needs?: { path: string; note: string };
}

const STEPS: Step[] = [
  { field: 'iptables', commands: [['iptables-save']] },
  { field: 'ip6tables', commands: [['ip6tables-save']] },
  { field: 'nftables', commands: [['nft', '-j', 'list', 'ruleset']] },
  { field: 'ipvs', commands: [['ipvsadm-save', '-n']], needs: { path: '/proc/net/ip_vs', note: 'IPVS is not loaded (no /proc/net/ip_vs)' } },
  { field: 'ipsets', commands: [['ipset', 'save']] },
  { field: 'addresses', commands: [['ip', '-j', 'addr']] },
  { field: 'routes', commands: [['ip', '-j', '-4', 'route', 'show', 'table', 'all'], ['ip', '-j', '-6', 'route', 'show', 'table', 'all']] },
  { field: 'rules', commands: [['ip', '-j', '-4', 'rule'], ['ip', '-j', '-6', 'rule']] },
];

/** `command -v`: the tool's path on PATH, or null. */
function which(tool: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface CollectOptions {
  /** Run a command (tests substitute one); default spawns it with LC_ALL=C. */
  exec?: (argv: string[]) => { status: number | null; stdout: string; stderr: string };
  exists?: (path: string) => boolean;
  which?: (tool: string) => string | null;
  now?: () => Date;
}

function spawn(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' }, timeout: 120_000 });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : '') };
}

/** Gathers the snapshot of the node this runs on. */
export function collectSnapshot(opts: CollectOptions = {}): NodeSnapshotT {
  const exec = opts.exec ?? spawn;
  const exists = opts.exists ?? existsSync;
  const find = opts.which ?? ((t: string) => which(t));
  const notes: string[] = [];
  const fields: Partial<Record<Field, string>> = {};
  for (const step of STEPS) {
    if (step.needs && !exists(step.needs.path)) {
      notes.push(`${step.field}: ${step.needs.note}; left out`);
      continue;
    }
    let out = '';
    let ok = false;
    for (const argv of step.commands) {
      if (!find(argv[0])) {
        notes.push(`${step.field}: ${argv[0]} not found; left out`);
        break;
      }
      const r = exec(argv);
      out += r.stdout;
      if (r.status !== 0) {
        notes.push(`${step.field}: \`${argv.join(' ')}\` failed: ${r.stderr.split('\n')[0]}`);
        break;
      }
      ok = true;
    }
    if (ok) fields[step.field] = out;
  }
  const taken = (opts.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const snap: NodeSnapshotT = { format: SNAPSHOT_FORMAT };
  const host = hostname();
  if (host) snap.hostname = host;
  const kernel = release();
  if (kernel) snap.kernel = kernel;
  snap.takenAt = taken;
  for (const step of STEPS) if (fields[step.field] !== undefined) snap[step.field] = fields[step.field];
  if (notes.length) snap.notes = notes;
  return snap;
}

/** The document as both collectors print it. */
export function formatSnapshot(snap: NodeSnapshotT): string {
  return JSON.stringify(snap, null, 2) + '\n';
}

/** collect.sh: beside this module in src/, and shipped at the same path in the package. */
export const COLLECT_SCRIPT = fileURLToPath(new URL('../../src/collect/collect.sh', import.meta.url));

export function collectScript(): string {
  return readFileSync(COLLECT_SCRIPT, 'utf8');
}
