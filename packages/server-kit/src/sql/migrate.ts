import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from './database.ts';

export class MigrationChangedError extends Error {
  constructor(name: string) {
    super(`migration ${name} was changed after it was applied; add a new migration instead`);
    this.name = 'MigrationChangedError';
  }
}

/**
 * Applies the plain SQL files of `dir` (named `NNN_what.sql`) in name order, each in
 * its own transaction, once. An advisory lock keeps replicas that start together
 * from applying the same file twice.
 */
export async function migrate(db: Database, dir: string, lockKey: number): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  for (const name of files) {
    const sql = await readFile(join(dir, name), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
      const [row] = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = $1', [
        name,
      ]);
      if (row !== undefined) {
        if (row.checksum !== checksum) throw new MigrationChangedError(name);
        return;
      }
      // Statements run one by one: the extended protocol (needed inside a
      // transaction on both drivers) takes a single statement per call.
      for (const statement of splitStatements(sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [name, checksum]);
      applied.push(name);
    });
  }
  return applied;
}

/**
 * Splits a migration into statements at semicolons that end a line. Migrations keep
 * to that form (no function bodies with inner `;\n`), which keeps this trivial.
 */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) =>
      s
        .split('\n')
        .filter((line) => !line.trim().startsWith('--'))
        .join('\n')
        .trim(),
    )
    .filter((s) => s.length > 0);
}
