// The library under test. Imported statically: a broken library entry must fail these tests,
// never turn them into skips. (Only the kernel lab's availability — root, netns, iptables — skips.)
import { loadRuleset } from '../../src/index.js';
import type { ExplainResult, NodeInput, Query } from '../../src/model/contracts.js';

export interface ExplainingRuleset {
  explain(query: Query): ExplainResult;
}
type LoadRuleset = (bundle: { iptables: string; ip6tables?: string; node?: NodeInput }, opts?: { engine?: 'wasm' | 'reference' }) => ExplainingRuleset;

export type Library = { ok: true; loadRuleset: LoadRuleset } | { ok: false; reason: string };

export async function loadLibrary(): Promise<Library> {
  return { ok: true, loadRuleset };
}

export function loadVariants(lib: Extract<Library, { ok: true }>, dumps: Record<string, { iptables: string; ip6tables?: string }>, node: NodeInput): { variants: Array<{ name: string; rs: ExplainingRuleset }>; notes: string[] } {
  const variants: Array<{ name: string; rs: ExplainingRuleset }> = [];
  const notes: string[] = [];
  // Both engines must load: a failure of either is a test failure, not a note.
  for (const [dumpName, dump] of Object.entries(dumps))
    for (const engine of ['reference', 'wasm'] as const) variants.push({ name: `${dumpName} / ${engine}`, rs: lib.loadRuleset({ ...dump, node }, { engine }) });
  return { variants, notes };
}
