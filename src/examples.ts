// The bundled example nodes (examples/<name>/): one reader for the CLI (`--example NAME`) and the
// server (preloaded as the alias `example`). A directory holds iptables.txt, ip6tables.txt and/or
// nftables.txt (`nft list ruleset` text), optionally ipvs.txt, ipsets.txt and node.json.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeInput, RulesetBundle } from './model/contracts.js';

/** examples/ relative to this module, from both src/ and dist/. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../examples/', import.meta.url));

/** The directory of a bundled example, or null for a name that is not one. */
export function exampleDir(name: string): string | null {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return null;
  const dir = join(EXAMPLES_DIR, name);
  return existsSync(dir) ? dir : null;
}

/** Reads a node directory laid out like examples/; null when it holds no dump. */
export function readNodeDir(dir: string): RulesetBundle | null {
  const opt = (f: string): string | undefined => {
    const p = join(dir, f);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  };
  const iptables = opt('iptables.txt');
  const ip6tables = opt('ip6tables.txt');
  const nftables = opt('nftables.txt');
  if (iptables === undefined && ip6tables === undefined && nftables === undefined) return null;
  const bundle: RulesetBundle = {};
  if (iptables !== undefined) bundle.iptables = iptables;
  if (ip6tables !== undefined) bundle.ip6tables = ip6tables;
  if (nftables !== undefined) bundle.nftables = nftables;
  const ipvs = opt('ipvs.txt');
  if (ipvs !== undefined) bundle.ipvs = ipvs;
  const ipsets = opt('ipsets.txt');
  if (ipsets !== undefined) bundle.ipsets = ipsets;
  const node = opt('node.json');
  if (node !== undefined) bundle.node = JSON.parse(node) as NodeInput;
  return bundle;
}
