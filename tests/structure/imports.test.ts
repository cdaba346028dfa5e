import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * How the repository's modules import each other, read from their source: no module
 * imports itself through others (an import circle makes load order matter and areas
 * inseparable), and the two planes share nothing but the contract and the server kit.
 * Type-only imports count: a circle of types is a circle of areas all the same.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const packagesDir = join(root, 'packages');

/** Every TypeScript source file of every package's src/. */
function sources(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sources(path));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

/** The folder and exports of each workspace package, by its name. */
const workspaces = new Map<string, { dir: string; exports: Record<string, string> }>();
for (const name of readdirSync(packagesDir)) {
  const file = join(packagesDir, name, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; exports?: Record<string, string> | string };
  const exports = typeof pkg.exports === 'string' ? { '.': pkg.exports } : (pkg.exports ?? {});
  workspaces.set(pkg.name, { dir: join(packagesDir, name), exports });
}

const importPattern =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The source files a module imports: relative paths, and our own packages through their exports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? '';
    if (specifier.startsWith('.')) {
      found.push(resolve(dirname(file), specifier));
      continue;
    }
    const [scope, name, ...rest] = specifier.split('/');
    const workspace = workspaces.get(`${scope}/${name}`);
    if (workspace === undefined) continue;
    const target = workspace.exports[rest.length === 0 ? '.' : `./${rest.join('/')}`];
    assert.ok(target !== undefined, `${relative(root, file)} imports ${specifier}, which its package does not export`);
    found.push(join(workspace.dir, target));
  }
  return found;
}

const files = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name, 'src'))
  .filter((dir) => existsSync(dir))
  .flatMap(sources);
const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => target !== file)]));

/** Strongly connected components of more than one module (Tarjan): each is an import circle. */
function circles(): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file) as number, low.get(target) as number));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file) as number, index.get(target) as number));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
        onStack.delete(member);
        component.push(relative(root, member));
        if (member === file) break;
      }
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe('how the modules import each other', () => {
  it('reads every package’s sources and what they import', () => {
    assert.ok(files.length > 100, `${files.length} source files`);
    const imports = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
    assert.ok(imports > files.length, `${imports} imports between them`);
  });

  it('has no import circle', () => {
    assert.deepEqual(circles(), []);
  });

  it('keeps the planes apart: neither imports the other, nor does the contract import either', () => {
    const planeOf = (file: string) => relative(packagesDir, file).split('/')[0];
    const crossings: string[] = [];
    for (const [file, targets] of graph) {
      const from = planeOf(file);
      for (const target of targets) {
        const to = planeOf(target);
        const apart =
          (from === 'control-plane' && to === 'data-plane') ||
          (from === 'data-plane' && to === 'control-plane') ||
          (['contract', 'server-kit'].includes(from ?? '') && ['control-plane', 'data-plane'].includes(to ?? ''));
        if (apart) crossings.push(`${relative(root, file)} -> ${relative(root, target)}`);
      }
    }
    assert.deepEqual(crossings, []);
  });
});
