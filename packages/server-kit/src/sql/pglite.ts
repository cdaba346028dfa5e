import { EventEmitter } from 'node:events';
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
  const notifications = new EventEmitter().setMaxListeners(0);
  let closed = false;
  return {
    driver: 'pglite',
    query: root.query,
    transaction: (fn) => pg.transaction((tx) => fn(queryable(tx))),
    exec: async (text) => {
      await pg.exec(text);
    },
    // PGlite belongs to this process alone, so a NOTIFY could only reach listeners here:
    // they hear it without a turn of the database's one connection, which is on the
    // start path of every run.
    listen: async (channel, onPayload) => {
      notifications.on(channel, onPayload);
      return async () => {
        notifications.off(channel, onPayload);
      };
    },
    notify: async (channel, payload) => {
      if (closed) throw new Error('the database is closed');
      setImmediate(() => notifications.emit(channel, payload));
    },
    close: async () => {
      closed = true;
      notifications.removeAllListeners();
      await pg.close();
    },
  };
}
