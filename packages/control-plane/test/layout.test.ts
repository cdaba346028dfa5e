import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The control plane's house plan (docs/layout.md), read from its sources: routes hold no
 * SQL and each statement is written once (import circles, across every package, are
 * tests/structure/imports.test.ts's).
 * Checked on the text, as a reviewer would, so a change that breaks the plan fails here.
 */
const src = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(src);
const read = (path: string) => readFileSync(path, 'utf8');
const name = (path: string) => relative(src, path);
const sqlStatement = /\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM)\b/;

/** The string and template literals of a source that hold a statement, whitespace folded. */
function statementsOf(text: string): string[] {
  return [...text.matchAll(/`[^`]*`|'[^'\n]*'/g)]
    .map((m) => m[0].slice(1, -1).split(/\s+/).join(' ').trim())
    .filter((literal) => sqlStatement.test(literal));
}

describe('the control plane’s layout', () => {
  it('keeps SQL out of its routes: they parse, call a store and shape the answer', () => {
    const routes = files.filter((path) => path.endsWith('/routes.ts'));
    assert.ok(routes.length >= 10, `found only ${routes.length} route modules`);
    const withSql = routes.filter((path) => statementsOf(read(path)).length > 0).map(name);
    assert.deepEqual(withSql, []);
  });

  it('writes each statement once in the package', () => {
    const seen = new Map<string, string[]>();
    for (const path of files) {
      for (const statement of statementsOf(read(path)))
        seen.set(statement, [...(seen.get(statement) ?? []), name(path)]);
    }
    const twice = [...seen].filter(([, where]) => where.length > 1).map(([statement, where]) => ({ statement, where }));
    assert.deepEqual(twice, []);
  });
});
