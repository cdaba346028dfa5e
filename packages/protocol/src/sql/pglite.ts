import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './database.ts';

/** PGlite (PostgreSQL compiled to WebAssembly) in this process. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  if (dataDir !== undefined) await mkdir(dirname(dataDir), { recursive: true, mode: 0o700 });
  const pg = await PGlite.create(dataDir);
  const queryable = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await q.query<Row>(text, params as unknown[] | undefined);
      return result.rows;
    },
  });
  const root = queryable(pg);
  return {
    driver: 'pglite',
    query: root.query,
    transaction: (fn) => pg.transaction((tx) => fn(queryable(tx))),
    exec: async (text) => {
      await pg.exec(text);
    },
    listen: async (channel, onPayload) => {
      const unsubscribe = await pg.listen(channel, onPayload);
      return async () => unsubscribe();
    },
    notify: async (channel, payload) => {
      await pg.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    close: () => pg.close(),
  };
}
