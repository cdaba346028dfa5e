import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The contract is what a browser and the `sov` command can depend on: no database driver,
 * no server, no metrics. What `npm ls --workspace @sovereign/cli` shows is read here from
 * package-lock.json (as npm resolves it), so a dependency that creeps in fails a test.
 */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const serverOnly = ['pg', '@electric-sql/pglite', 'fastify', 'prom-client', '@sovereign/server-kit'];

interface LockEntry {
  resolved?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** Where npm installed `name` for the package at `from`: the nearest node_modules up the tree. */
function resolve(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(dir.lastIndexOf('/node_modules/'), 0))) {
    const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    const entry = lock.packages[key];
    if (entry !== undefined) return entry.link === true && entry.resolved !== undefined ? entry.resolved : key;
    if (dir === '') return undefined;
  }
}

/** Every package a workspace pulls in (its dev dependencies too, as npm ls lists them), by name. */
function closure(workspace: string): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const pending = [{ at: workspace, dev: true }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const entry = lock.packages[next.at];
    assert.ok(entry !== undefined, `${next.at} is in package-lock.json`);
    const wanted = {
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
      ...(next.dev ? entry.devDependencies : {}),
    };
    for (const name of Object.keys(wanted)) {
      const at = resolve(next.at, name);
      if (at === undefined) continue; // an optional or peer dependency nobody installed
      names.add(name);
      if (!seen.has(at)) {
        seen.add(at);
        pending.push({ at, dev: false });
      }
    }
  }
  return names;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The packages a workspace's sources import, by package name (`a/b` of `a/b/c`, `@s/a` of `@s/a/b`). */
async function importedPackages(workspace: string): Promise<Map<string, string>> {
  const imported = new Map<string, string>();
  for (const file of await sourceFiles(join(root, workspace, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
      const specifier = match[1] ?? '';
      if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      const parts = specifier.split('/');
      const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
      imported.set(name, relative(root, file));
    }
  }
  return imported;
}

describe('what the clients pull in', () => {
  for (const workspace of ['packages/cli', 'packages/dashboard', 'packages/client', 'packages/contract']) {
    it(`${workspace} pulls in no database driver, server or metrics package`, () => {
      const names = closure(workspace);
      assert.ok(names.size > 0, `${workspace} has dependencies in package-lock.json`);
      assert.deepEqual(
        serverOnly.filter((name) => names.has(name)),
        [],
      );
    });
  }

  for (const workspace of ['packages/cli', 'packages/dashboard', 'packages/client', 'packages/contract']) {
    it(`${workspace} imports only what its package.json declares, so hoisting cannot hide a server package`, async () => {
      const manifest = JSON.parse(await readFile(join(root, workspace, 'package.json'), 'utf8')) as LockEntry & {
        name: string;
      };
      const declared = new Set([
        manifest.name,
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.devDependencies ?? {}),
      ]);
      const undeclared = [...(await importedPackages(workspace))].filter(([name]) => !declared.has(name));
      assert.deepEqual(undeclared, []);
    });
  }

  for (const workspace of ['packages/cli', 'packages/dashboard']) {
    it(`${workspace} calls the public APIs through the one client, @sovereign/client`, async () => {
      assert.ok(closure(workspace).has('@sovereign/client'), `${workspace} depends on @sovereign/client`);
      assert.ok((await importedPackages(workspace)).has('@sovereign/client'), `${workspace} imports it`);
    });
  }
});
