import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { openDatabase } from '@sovereign/server-kit/sql';
import type { TestDatabase } from '@sovereign/server-kit/testing';

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
  if (dataDir !== undefined) parts.push(await dumpFiles(dataDir));
  return parts.join('\n');
}

/**
 * Every byte of every file under a directory, as text to search; a gzipped file (a
 * stored bundle) is searched unpacked too, since its compressed bytes hide its text.
 */
export async function dumpFiles(dir: string): Promise<string> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name)).catch(() => undefined);
    if (bytes === undefined) continue; // removed meanwhile
    out.push(`-- ${join(entry.parentPath, entry.name)}`, bytes.toString('latin1'));
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        out.push(gunzipSync(bytes).toString('latin1'));
      } catch {
        // not gzip after all
      }
    }
    // Zstandard: archived log lines and packed environments.
    if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0xfd2fb528) {
      try {
        out.push(zstdDecompressSync(bytes).toString('latin1'));
      } catch {
        // not Zstandard after all
      }
    }
  }
  return out.join('\n');
}
