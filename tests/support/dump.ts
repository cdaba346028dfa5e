import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '@sovereign/protocol/sql';
import type { TestDatabase } from '@sovereign/protocol/testing';

/**
 * Everything a database holds, as text to search: every row of every table in every
 * user schema (a logical dump), and for PGlite also the raw bytes of its data
 * directory (WAL included). For PGlite the owning process must have stopped.
 */
export async function dumpDatabase(database: TestDatabase): Promise<string> {
  const db = await openDatabase(database.options);
  const parts: string[] = [];
  try {
    const tables = await db.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
        ORDER BY 1, 2`,
    );
    if (tables.length === 0) throw new Error('the dump found no tables: wrong database?');
    for (const table of tables) {
      const rows = await db.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM "${table.schema}"."${table.name}" t`,
      );
      parts.push(`-- ${table.schema}.${table.name}`, ...rows.map((r) => r.row));
    }
  } finally {
    await db.close();
  }
  const dataDir = database.options.dataDir;
  if (dataDir !== undefined) parts.push(await rawFiles(dataDir));
  return parts.join('\n');
}

async function rawFiles(dir: string): Promise<string> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push((await readFile(join(entry.parentPath, entry.name))).toString('latin1'));
  }
  return out.join('\n');
}
