// The library under test, loaded lazily: the kernel tests skip (with the reason) rather than fail
// to import while the library entry is missing or broken.
import type { ExplainResult, NodeInput, Query } from '../../src/model/result.js';

export interface ExplainingRuleset {
  explain(query: Query): ExplainResult;
}
type LoadRuleset = (bundle: { iptables: string; ip6tables?: string; node?: NodeInput }, opts?: { engine?: 'wasm' | 'reference' }) => ExplainingRuleset;

export type Library = { ok: true; loadRuleset: LoadRuleset } | { ok: false; reason: string };

/**
 * The entry DESIGN.md names (src/index.ts); while it is still being written, src/ruleset.ts (which it
 * re-exports) stands in. The specifiers are variables so a missing module is a skip, not a type error.
 */
const ENTRIES = ['../../src/index.js', '../../src/ruleset.js'];

export async function loadLibrary(): Promise<Library> {
  const reasons: string[] = [];
  for (const entry of ENTRIES) {
    try {
      const mod = (await import(entry)) as { loadRuleset?: LoadRuleset };
      if (typeof mod.loadRuleset === 'function') return { ok: true, loadRuleset: mod.loadRuleset };
      reasons.push(`${entry} does not export loadRuleset`);
    } catch (e) {
      reasons.push(`cannot import ${entry}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

/** Each dump loaded into every engine that loads; the reference engine must. */
export function loadVariants(lib: Extract<Library, { ok: true }>, dumps: Record<string, { iptables: string; ip6tables?: string }>, node: NodeInput): { variants: Array<{ name: string; rs: ExplainingRuleset }>; notes: string[] } {
  const variants: Array<{ name: string; rs: ExplainingRuleset }> = [];
  const notes: string[] = [];
  for (const [dumpName, dump] of Object.entries(dumps))
    for (const engine of ['reference', 'wasm'] as const) {
      try {
        variants.push({ name: `${dumpName} / ${engine}`, rs: lib.loadRuleset({ ...dump, node }, { engine }) });
      } catch (e) {
        if (engine === 'reference') throw e;
        notes.push(`${dumpName} / ${engine} not compared: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  return { variants, notes };
}
