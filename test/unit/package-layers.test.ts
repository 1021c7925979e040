// The source tree is layered so that each package can be read, tested and replaced
// without the ones above it:
//
//   plan ← archive ← sources, inspect ← compile ← commands ← cli
//
// (paths.ts and terminal-style.ts are leaves anyone may use.) An import that points up
// a layer, or any cycle between files, fails here with the import that causes it.
//
// Inside sources/, each source kind is a folder (sources/<kind>/) behind the one
// ArchiveReader interface: only the registry, sources/open.ts, reaches into a kind's
// folder, and no kind's folder reaches into another's.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

const LAYERS: Record<string, number> = {
  'paths.ts': 0,
  'terminal-style.ts': 0,
  plan: 1,
  archive: 2,
  sources: 3,
  inspect: 3,
  compile: 4,
  commands: 5,
  'cli.ts': 6,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of one file (static, re-exports and dynamic), as absolute .ts paths. */
export function localImports(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

function packageOf(file: string): string {
  return relative(SRC, file).split('/')[0];
}

/** `s3` for src/sources/s3/reader.ts; null for a file not inside a source kind's folder. */
export function sourceKindOf(file: string): string | null {
  const parts = relative(SRC, file).split('/');
  return parts[0] === 'sources' && parts.length > 2 ? parts[1] : null;
}

/** Imports into a source kind's folder from anywhere but the registry or that folder. */
export function sourceKindLeaks(graph: Map<string, string[]>): string[] {
  const registry = join(SRC, 'sources', 'open.ts');
  return [...graph].flatMap(([from, targets]) =>
    targets
      .filter((to) => sourceKindOf(to) !== null && from !== registry && sourceKindOf(from) !== sourceKindOf(to))
      .map((to) => `${relative(SRC, from)} imports ${relative(SRC, to)}`),
  );
}

function layerOf(file: string): number {
  const layer = LAYERS[packageOf(file)];
  if (layer === undefined) throw new Error(`${relative(SRC, file)}: its package has no layer in package-layers.test.ts`);
  return layer;
}

/** Every cycle's files, each found once from its first file in sorted order. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

const files = sourceFiles(SRC).sort();
const graph = new Map(files.map((f) => [f, localImports(f, readFileSync(f, 'utf8'))]));

describe('package layers', () => {
  it('every package has a layer', () => {
    for (const f of files) expect(() => layerOf(f)).not.toThrow();
  });

  it('no import points from a lower package up to a higher one', () => {
    const upward = [...graph].flatMap(([from, targets]) =>
      targets
        .filter((to) => packageOf(to) !== packageOf(from) && layerOf(to) >= layerOf(from))
        .map((to) => `${relative(SRC, from)} imports ${relative(SRC, to)}`),
    );
    expect(upward).toEqual([]);
  });

  it('source kinds are reached only through sources/open.ts', () => {
    expect(sourceKindLeaks(graph)).toEqual([]);
  });

  it('no file imports itself back through others (no cycles)', () => {
    expect(findCycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '))).toEqual([]);
  });

  it('the checks find what they are meant to find', () => {
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
    const s3 = join(SRC, 'sources', 's3', 'reader.ts');
    const local = join(SRC, 'sources', 'local', 'reader.ts');
    const resolveCommand = join(SRC, 'commands', 'resolve.ts');
    expect(sourceKindLeaks(new Map([[join(SRC, 'sources', 'open.ts'), [s3, local]], [local, [join(SRC, 'sources', 'archive-reader.ts')]]]))).toEqual([]);
    expect(sourceKindLeaks(new Map([[resolveCommand, [s3]], [local, [s3]]]))).toEqual([
      'commands/resolve.ts imports sources/s3/reader.ts',
      'sources/local/reader.ts imports sources/s3/reader.ts',
    ]);
    expect(localImports('/x/src/archive/a.ts', "import { b } from '../compile/b.js';\nconst c = await import('./c.js');")).toEqual([
      '/x/src/compile/b.ts',
      '/x/src/archive/c.ts',
    ]);
  });
});
