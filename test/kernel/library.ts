// The library under test. Imported statically: a broken library entry must fail these tests,
// never turn them into skips. (Only the kernel lab's availability — root, netns, iptables — skips.)
import { loadRuleset } from '../../src/index.js';
import type { ExplainResult, NodeInput, Query, RulesetBundle, Service } from '../../src/model/contracts.js';

export interface ExplainingRuleset {
  explain(query: Query): ExplainResult;
  services(): Service[];
}
/** A node's dumps without the node context (iptables-save, ip6tables-save, nft listings…). */
export type Dumps = Omit<RulesetBundle, 'node' | 'snapshot'>;
type LoadRuleset = (bundle: RulesetBundle, opts?: { engine?: 'wasm' | 'reference' }) => ExplainingRuleset;

export type Library = { ok: true; loadRuleset: LoadRuleset } | { ok: false; reason: string };

export async function loadLibrary(): Promise<Library> {
  return { ok: true, loadRuleset };
}

export function loadVariants(lib: Extract<Library, { ok: true }>, dumps: Record<string, Dumps>, node: NodeInput): { variants: Array<{ name: string; rs: ExplainingRuleset }>; notes: string[] } {
  const variants: Array<{ name: string; rs: ExplainingRuleset }> = [];
  const notes: string[] = [];
  // Both engines must load: a failure of either is a test failure, not a note.
  for (const [dumpName, dump] of Object.entries(dumps))
    for (const engine of ['reference', 'wasm'] as const) variants.push({ name: `${dumpName} / ${engine}`, rs: lib.loadRuleset({ ...dump, node }, { engine }) });
  return { variants, notes };
}
