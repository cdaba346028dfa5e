import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseOptions } from '../sql/database.ts';

/**
 * The databases every storage suite runs on: PGlite always, and the PostgreSQL
 * server at SOV_TEST_DATABASE_URL when it is set. When it is set and the server is
 * unreachable, creating a database throws and the suite fails: it never skips.
 */
export interface DatabaseTarget {
  readonly name: 'pglite' | 'postgres';
  /** A fresh, empty database. `persistent` puts PGlite on disk so a process can open it. */
  create(persistent?: boolean): Promise<TestDatabase>;
}

export interface TestDatabase {
  readonly options: DatabaseOptions;
  /** What to put in SOV_DATABASE_URL for a process (a URL, or empty for PGlite). */
  readonly env: Record<string, string>;
  drop(): Promise<void>;
}

export function databaseTargets(): DatabaseTarget[] {
  const targets: DatabaseTarget[] = [pgliteTarget];
  const url = process.env.SOV_TEST_DATABASE_URL;
  if (url !== undefined && url !== '') targets.push(postgresTarget(url));
  return targets;
}

export const pgliteTarget: DatabaseTarget = {
  name: 'pglite',
  async create(persistent = false): Promise<TestDatabase> {
    if (!persistent) return { options: {}, env: {}, drop: async () => {} };
    const dir = await mkdtemp(join(tmpdir(), 'sov-pglite-'));
    const dataDir = join(dir, 'db');
    return {
      options: { dataDir },
      env: { SOV_DATABASE_DIR: dataDir },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

/** Fresh databases on the PostgreSQL server at `adminUrl` (a role that may create databases). */
export function postgresTarget(adminUrl: string): DatabaseTarget {
  return {
    name: 'postgres',
    async create() {
      const name = `sov_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        options: { url: url.toString() },
        env: { SOV_DATABASE_URL: url.toString() },
        async drop() {
          const client = new pg.Client({ connectionString: adminUrl });
          await client.connect();
          try {
            await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}
