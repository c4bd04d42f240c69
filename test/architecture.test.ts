// The one-way order of src/ (README "Architecture"): every import of every module under src/
// points to its own layer or one below, and imports (value or type-only) form no cycle. The
// import specifiers are read with the TypeScript parser (static, `export … from`, dynamic import(), and
// `new URL('./x.js', import.meta.url)` worker entries), so a new upward import fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Layers, lowest first: a module may import from its own layer and the ones before it. */
const LAYERS: string[][] = [
  ['model'], // kernel facts, the semantic model, TypeBox contracts, errors table
  ['parse'], // text → model
  ['compile'], // model → flat binary ruleset (the layout shared with assembly/)
  ['engine'], // the walks (reference and wasm) and explain/trace
  ['kube'], // kube-proxy knowledge: service discovery, generators
  ['ruleset.ts', 'shared-ruleset.ts', 'index.ts', 'examples.ts'], // the library entry (and its shared-memory form)
  ['lab', 'collect'], // on a real node or a throwaway one: the kernel lab, `landfall collect`
  ['scale'], // the chain-scaling lab
  ['service'], // HTTP
  ['cli.ts', 'cli-render.ts'], // the command
];

/** "model", "ruleset.ts", … : the folder (or top-level file) a path under src/ belongs to. */
function unitOf(file: string): string {
  return relative(SRC, file).split('/')[0];
}

function rankOf(file: string): number {
  const unit = unitOf(file);
  const rank = LAYERS.findIndex((l) => l.includes(unit));
  if (rank < 0) throw new Error(`src/${unit} has no layer: add it to LAYERS here and to README "Architecture"`);
  return rank;
}

/** Every .ts file under dir, sorted (readdir order differs between file systems; cycles are reported in walk order). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
    .sort();
}

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Relative imports of one module, resolved to .ts files under src/. */
function importsOf(file: string): Edge[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    out.push({ from: file, to: resolve(dirname(file), spec).replace(/\.js$/, '.ts'), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const allTypes =
        !!c &&
        (c.isTypeOnly ||
          (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, allTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL') {
      const [spec, base] = node.arguments ?? [];
      if (spec && ts.isStringLiteral(spec) && base?.getText(sf) === 'import.meta.url' && /\.[jt]s$/.test(spec.text)) add(spec.text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  // Only modules under src/ (worker URLs may name ../build/… assets).
  return out.filter((e) => e.to.startsWith(SRC) && e.to.endsWith('.ts'));
}

const files = sources(SRC);
const edges = files.flatMap(importsOf);
const short = (f: string) => relative(SRC, f);

describe('architecture', () => {
  it('reads the imports it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    // Sanity: known edges of each kind are seen, so the parser cannot silently read nothing.
    const seen = (from: string, to: string) => edges.some((e) => short(e.from) === from && short(e.to) === to);
    expect(seen('engine/explain.ts', 'model/contracts.ts')).toBe(true); // import type
    expect(seen('cli.ts', 'scale/cli.ts')).toBe(true); // dynamic import()
    expect(seen('scale/run.ts', 'scale/worker.ts')).toBe(true); // new URL(…, import.meta.url)
  });

  it('every module belongs to a layer and imports nothing from a layer above it', () => {
    for (const f of files) rankOf(f);
    const upward = edges
      .filter((e) => rankOf(e.to) > rankOf(e.from))
      .map((e) => `${short(e.from)} → ${short(e.to)} (${unitOf(e.from)} may not import from ${unitOf(e.to)})`);
    expect(upward).toEqual([]);
  });

  it('nothing below service/ imports fastify or piscina', () => {
    const service = rankOf(join(SRC, 'service/app.ts'));
    const offenders = files.filter((f) => {
      if (rankOf(f) >= service) return false;
      const text = readFileSync(f, 'utf8');
      return /from ['"](fastify|@fastify\/[^'"]+|piscina)['"]/.test(text);
    });
    expect(offenders.map(short)).toEqual([]);
  });

  /** Cycles of the import graph made of the edges `keep` lets through, one line each. */
  function cyclesOf(keep: (e: Edge) => boolean): string[] {
    const graph = new Map<string, string[]>();
    for (const e of edges) if (keep(e)) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const walk = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].map(short).join(' → '));
        else if (!state.has(t)) walk(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) walk(f);
    return cycles;
  }

  it('value imports form no cycle', () => {
    expect(cyclesOf((e) => !e.typeOnly)).toEqual([]);
  });

  it('type-only imports form no cycle either (a shared type lives in the module it belongs to)', () => {
    expect(cyclesOf(() => true)).toEqual([]);
  });
});
