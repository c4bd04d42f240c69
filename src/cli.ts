#!/usr/bin/env node
// The `landfall` command: explain, services, generate, serve (scale and bench come from their
// own modules). `--json` prints exactly the library/HTTP JSON on stdout and nothing else; human
// tables and progress go to stdout/stderr as noted. Bad input exits 2 with a clear message.

import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadRuleset, ParseError, QueryError, PathExplosionError } from './index.js';
import type { ExplainResult, NodeInput, Query, RulesetBundle } from './index.js';
import { exampleDir, readNodeDir } from './examples.js';
import { generateIptables } from './kube/generate.js';
import { renderExplain, renderServices } from './cli-render.js';
import { TABLES, type TableName } from './model/rule.js';
import { parseSnapshotJson } from './parse/snapshot.js';

const USAGE = `landfall — where does this packet land?

Usage:
  landfall explain  --iptables FILE [--ip6tables FILE] [--nft FILE] [--ipvs FILE] [--ipsets FILE] [--node FILE]
                    [--snapshot FILE] [--table raw|mangle|nat|filter|security]
                    [--node-ip IP]… [--pod-cidr CIDR]… [--uplink IF] [--pods-iface IF]
                    --proto tcp|udp|sctp|icmp --dst IP[:PORT] [--src IP] [--sport N]
                    [--origin external|pod|host] [--in IF] [--out IF] [--mark N] [--state S]
                    [--engine wasm|reference] [--lenient] [--path] [--json]
  landfall services --iptables FILE [...ruleset options] [--json]
  landfall generate --services N --endpoints M [--mode iptables|ipvs|nftables] [--seed S]
                    [--style save|restore] (iptables) [--shape v1.35|v1.36|v1.37] [--style list|script] (nftables)
                    [--out-dir DIR]          (iptables and nftables modes print the rules on stdout)
  landfall serve    [--port N] [--host H]
  landfall collect  [-o FILE] [--print-script]   (on a node, as root: writes a node snapshot)
  landfall scale    --services 1000,4000 --endpoints 5 --modes iptables,ipvs,nftables [--packets N] [--seed S]
                    [--mix clusterip=..,nodeport=..,lb=..,etplocal=..,affinity=..]
                    [--kernel] [--kernel-connects N] [--json] [--svg FILE]

FILE may be "-" for standard input. --nft (or --nftables) takes \`nft list ruleset\` text or \`nft -j list ruleset\` JSON
(with or without --iptables; iptables-nft tables an iptables-save dump holds come from it). --snapshot reads what
\`landfall collect\` writes; --table gives the table of rules pasted without a *table header
(iptables -t nat -S output). --example NAME loads a bundled example node
(kube-node, eks-node, calico-node, ipv6-node, ipvs-node) instead of --iptables/--node.
Exit codes: 0 answered, 1 internal error, 2 bad input.`;

class UsageError extends Error {}

const rulesetOptions = {
  iptables: { type: 'string' },
  ip6tables: { type: 'string' },
  nft: { type: 'string' },
  ipvs: { type: 'string' },
  ipsets: { type: 'string' },
  nftables: { type: 'string' },
  snapshot: { type: 'string' },
  table: { type: 'string' },
  node: { type: 'string' },
  example: { type: 'string' },
  'node-ip': { type: 'string', multiple: true },
  'pod-cidr': { type: 'string', multiple: true },
  uplink: { type: 'string' },
  'pods-iface': { type: 'string' },
  engine: { type: 'string' },
  lenient: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Values = Record<string, string | boolean | string[] | undefined>;

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function readExample(name: string): RulesetBundle {
  const dir = exampleDir(name);
  const bundle = dir ? readNodeDir(dir) : null;
  if (!bundle) throw new UsageError(`unknown example ${JSON.stringify(name)} (see examples/README.md)`);
  return bundle;
}

/** Input name in the library's errors → the file it came from, so errors read `node.iptables:127:16`. */
const inputFiles = new Map<string, string>();

function fileLabel(f: string): string {
  return f === '-' ? '<stdin>' : f;
}

function loadFrom(v: Values) {
  const b: RulesetBundle = v.example ? readExample(String(v.example)) : {};
  inputFiles.clear();
  if (v.nft && !v.nftables) v.nftables = v.nft; // --nft is the documented name; --nftables the bundle field's
  for (const k of ['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets'] as const) {
    if (!v[k]) continue;
    b[k] = readInput(String(v[k]));
    inputFiles.set(k, fileLabel(String(v[k])));
  }
  if (v.snapshot) {
    const f = fileLabel(String(v.snapshot));
    inputFiles.set('snapshot', f);
    for (const k of ['iptables', 'ip6tables', 'nftables', 'ipvs', 'ipsets']) inputFiles.set(`snapshot.${k}`, `${f}#${k}`);
    b.snapshot = parseSnapshotJson(readInput(String(v.snapshot)), 'snapshot') as RulesetBundle['snapshot'];
  }
  if (!v.example && !v.iptables && !v.ip6tables && !v.nftables && !v.ipvs && !v.snapshot) {
    throw new UsageError('--iptables FILE (or --ip6tables, --nft, --ipvs, --snapshot FILE, or --example NAME) is required');
  }
  const table = v.table === undefined ? undefined : String(v.table);
  if (table !== undefined && !(TABLES as readonly string[]).includes(table)) throw new UsageError(`--table must be one of ${TABLES.join(', ')}`);
  let node: NodeInput = b.node ?? {};
  if (v.node) {
    try {
      node = JSON.parse(readInput(String(v.node))) as NodeInput;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--node ${v.node}: not valid JSON (${(e as Error).message})`);
    }
  }
  const ips = v['node-ip'] as string[] | undefined;
  const cidrs = v['pod-cidr'] as string[] | undefined;
  if (ips?.length) node = { ...node, addresses: ips };
  if (cidrs?.length) node = { ...node, podCIDRs: cidrs };
  if (v.uplink || v['pods-iface']) {
    node = { ...node, interfaces: { ...node.interfaces, ...(v.uplink ? { uplink: String(v.uplink) } : {}), ...(v['pods-iface'] ? { pods: String(v['pods-iface']) } : {}) } };
  }
  b.node = node;
  const engine = v.engine === undefined ? undefined : String(v.engine);
  if (engine !== undefined && engine !== 'wasm' && engine !== 'reference') throw new UsageError('--engine must be wasm or reference');
  const rs = loadRuleset(b, { engine: engine as 'wasm' | 'reference' | undefined, lenient: !!v.lenient, table: table as TableName | undefined });
  // Load warnings (skipped lines, inferred tables, what the snapshot lacks) go to stderr, named by file.
  for (const w of rs.warnings) process.stderr.write(`landfall: warning: ${relabel(w)}\n`);
  return rs;
}

function relabel(w: string): string {
  const m = /^([\w.]+):(\d+:\d+: .*)$/s.exec(w);
  return m && inputFiles.has(m[1]) ? `${inputFiles.get(m[1])}:${m[2]}` : w;
}

/** `IP`, `IP:PORT`, `[IP6]:PORT`, or a bare IPv6 address. */
export function parseDst(s: string): { destination: string; port?: number } {
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m6) return { destination: m6[1], port: m6[2] === undefined ? undefined : Number(m6[2]) };
  const parts = s.split(':');
  if (parts.length === 2) {
    if (!/^\d+$/.test(parts[1])) throw new UsageError(`--dst ${s}: port must be a number`);
    return { destination: parts[0], port: Number(parts[1]) };
  }
  return { destination: s };
}

/** A closed choice: the error lists what is allowed. */
function oneOf(flag: string, value: string | undefined, allowed: string[]): void {
  if (value !== undefined && !allowed.includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
}

function intOpt(v: Values, name: string): number | undefined {
  const x = v[name];
  if (x === undefined) return undefined;
  const s = String(x);
  const n = s.startsWith('0x') ? parseInt(s, 16) : Number(s);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

function explainCmd(args: string[]): void {
  const { values: v } = parseArgs({
    args,
    options: {
      ...rulesetOptions,
      proto: { type: 'string' },
      dst: { type: 'string' },
      port: { type: 'string' },
      src: { type: 'string' },
      sport: { type: 'string' },
      origin: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      mark: { type: 'string' },
      state: { type: 'string' },
      path: { type: 'boolean' },
    },
    strict: true,
  });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  if (!v.dst) throw new UsageError('--dst IP[:PORT] is required');
  oneOf('--proto', v.proto, ['tcp', 'udp', 'sctp', 'icmp']);
  oneOf('--origin', v.origin, ['external', 'pod', 'host']);
  oneOf('--state', v.state?.toUpperCase(), ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED']);
  const dst = parseDst(v.dst);
  const query: Query = {
    protocol: (v.proto ?? 'tcp') as Query['protocol'],
    destination: dst.destination,
    ...(dst.port !== undefined ? { port: dst.port } : {}),
    ...(v.port !== undefined ? { port: intOpt(v, 'port') } : {}),
    ...(v.src ? { source: v.src } : {}),
    ...(v.sport !== undefined ? { sourcePort: intOpt(v, 'sport') } : {}),
    ...(v.origin ? { origin: v.origin as Query['origin'] } : {}),
    ...(v.in ? { inInterface: v.in } : {}),
    ...(v.out ? { outInterface: v.out } : {}),
    ...(v.mark !== undefined ? { mark: intOpt(v, 'mark') } : {}),
    ...(v.state ? { state: v.state.toUpperCase() as Query['state'] } : {}),
  };
  const rs = loadFrom(v);
  const result: ExplainResult = rs.explain(query);
  if (v.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(renderExplain(result, { path: !!v.path }));
}

function servicesCmd(args: string[]): void {
  const { values: v } = parseArgs({ args, options: rulesetOptions, strict: true });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  const services = loadFrom(v).services();
  if (v.json) process.stdout.write(JSON.stringify({ services }) + '\n');
  else process.stdout.write(renderServices(services));
}

async function generateCmd(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      services: { type: 'string' },
      endpoints: { type: 'string' },
      mode: { type: 'string' },
      seed: { type: 'string' },
      style: { type: 'string' },
      shape: { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  const services = intOpt(v, 'services');
  const endpoints = intOpt(v, 'endpoints');
  if (services === undefined || endpoints === undefined) throw new UsageError('--services N and --endpoints M are required');
  if (services > 100_000 || endpoints > 1000) throw new UsageError('at most 100,000 services and 1,000 endpoints per service');
  const seed = intOpt(v, 'seed') ?? 1;
  const mode = v.mode ?? 'iptables';
  if (mode === 'nftables') {
    const { generateNftables, NFT_SHAPES } = await import('./kube/generate-nft.js');
    const shape = v.shape ?? 'v1.35';
    if (!(NFT_SHAPES as readonly string[]).includes(shape)) throw new UsageError(`--shape must be one of ${NFT_SHAPES.join(', ')}`);
    const nftStyle = v.style ?? 'list';
    if (nftStyle !== 'list' && nftStyle !== 'script') throw new UsageError('--style must be list or script in nftables mode');
    const g = generateNftables({ services, endpoints, seed, shape: shape as (typeof NFT_SHAPES)[number] });
    // 'list': what `nft list ruleset` prints (and `nft -f` loads); 'script': kube-proxy's transaction.
    const text = nftStyle === 'script' ? g.text : g.listing;
    if (v['out-dir']) await writeBundle(String(v['out-dir']), { 'nftables.txt': text, 'node.json': JSON.stringify(g.node, null, 2) + '\n' });
    else process.stdout.write(text);
    return;
  }
  if (v.shape !== undefined) throw new UsageError('--shape applies to --mode nftables');
  const style = (v.style ?? 'save') as 'save' | 'restore';
  if (style !== 'save' && style !== 'restore') throw new UsageError('--style must be save or restore');
  if (mode === 'iptables') {
    const g = generateIptables({ services, endpoints, seed, style });
    if (v['out-dir']) await writeBundle(String(v['out-dir']), { 'iptables.txt': g.text, 'node.json': JSON.stringify(g.node, null, 2) + '\n' });
    else process.stdout.write(g.text);
    return;
  }
  if (mode === 'ipvs') {
    const { generateIpvs } = await import('./kube/generate-ipvs.js');
    const g = generateIpvs({ services, endpoints, seed });
    const dir = v['out-dir'];
    if (!dir) throw new UsageError('--mode ipvs writes three files: give --out-dir DIR');
    await writeBundle(String(dir), { 'iptables.txt': g.iptables, 'ipvs.txt': g.ipvs, 'ipsets.txt': g.ipsets, 'node.json': JSON.stringify(g.node, null, 2) + '\n' });
    return;
  }
  throw new UsageError('--mode must be iptables, ipvs or nftables');
}

async function writeBundle(dir: string, files: Record<string, string>): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(`${dir}/${name}`, text);
  process.stderr.write(`wrote ${Object.keys(files).join(', ')} to ${dir}\n`);
}

async function serveCmd(args: string[]): Promise<void> {
  const { values: v } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  const bundled = (await import('./service/bundles.js')).serverBundleUrl();
  const { startServer } = bundled ? ((await import(bundled)) as typeof import('./service/server.js')) : await import('./service/server.js');
  const overrides: { port?: number; host?: string } = {};
  if (v.port !== undefined) {
    const p = intOpt(v, 'port')!;
    if (p > 65535) throw new UsageError('--port must be 0..65535');
    overrides.port = p;
  }
  if (v.host) overrides.host = v.host;
  const { url } = await startServer({ overrides });
  process.stderr.write(`landfall listening on ${url} (docs at ${url}/docs)\n`);
}

async function collectCmd(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: { output: { type: 'string', short: 'o' }, 'print-script': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  const { collectScript, collectSnapshot, formatSnapshot } = await import('./collect/collect.js');
  if (v['print-script']) return void process.stdout.write(collectScript());
  const snap = collectSnapshot();
  for (const n of snap.notes ?? []) process.stderr.write(`landfall collect: ${n}\n`);
  const text = formatSnapshot(snap);
  if (v.output) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(v.output, text, { mode: 0o600 });
    process.stderr.write(`wrote ${v.output}\n`);
  } else process.stdout.write(text);
}

async function scaleCmd(args: string[]): Promise<void> {
  const { runScaleCli } = await import('./scale/cli.js');
  await runScaleCli(args);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'explain':
        explainCmd(rest);
        return 0;
      case 'services':
        servicesCmd(rest);
        return 0;
      case 'generate':
        await generateCmd(rest);
        return 0;
      case 'serve':
        await serveCmd(rest);
        return 0;
      case 'scale':
        await scaleCmd(rest);
        return 0;
      case 'collect':
        await collectCmd(rest);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    if (e instanceof ParseError) {
      const where = inputFiles.get(e.source) ?? e.source;
      process.stderr.write(`landfall: ${where}:${e.line}:${e.column}: ${e.detail}\n${e.text !== undefined ? `  ${e.text.slice(0, 200)}\n  ${' '.repeat(Math.max(0, Math.min(e.column - 1, 200)))}^\n` : ''}`);
      return 2;
    }
    if (e instanceof UsageError || e instanceof QueryError || e instanceof PathExplosionError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`landfall: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}

// Run when executed directly (bin or `node dist/cli.js`), not when imported by tests.
function invokedDirectly(): boolean {
  try {
    return !!process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`landfall: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
