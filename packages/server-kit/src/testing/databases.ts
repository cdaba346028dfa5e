import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
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

/**
 * One target for a suite of whole flows whose storage the per-database suites already
 * cover (a client, a guide followed end to end, most of tests/e2e): PostgreSQL when there
 * is one, as in production and CI, else PGlite. Each run of such a suite costs a whole
 * platform; a suite whose subject is the database's files or failure modes (isolation,
 * residency, resilience) takes databaseTargets() instead.
 */
export function flowTarget(): DatabaseTarget {
  return databaseTargets().at(-1) ?? pgliteTarget;
}

/**
 * In a suite run on every database, `it` for a test whose subject is not the database (a
 * refused flag, a file's mode, a usage line): it runs once, on flowTarget(), and on the
 * other targets it is not declared at all. The suite's storage tests keep `it`.
 */
export function itOnce(target: DatabaseTarget): typeof it {
  return target.name === flowTarget().name ? it : notDeclared;
}

const notDeclared = (() => {}) as unknown as typeof it;

export const pgliteTarget: DatabaseTarget = {
  name: 'pglite',
  async create(persistent = false): Promise<TestDatabase> {
    if (!persistent) return { options: {}, env: {}, drop: async () => {} };
    const dir = await mkdtemp(join(tmpdir(), 'sov-pglite-'));
    const dataDir = join(dir, 'db');
    await emptyPgliteDir(dataDir);
    return {
      options: { dataDir },
      env: { SOV_DATABASE_DIR: dataDir },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

/**
 * Puts an empty PGlite database in `dataDir`, as PGlite's initdb leaves one, copied from a
 * template made once per machine and PGlite version: the way PostgreSQL's CREATE DATABASE
 * copies template1. PGlite's initdb on disk costs seconds of CPU, and suites start dozens
 * of processes on fresh databases; what a process does on its database (migrations
 * included) is unchanged.
 */
export async function emptyPgliteDir(dataDir: string): Promise<void> {
  // As openPglite makes it: the process finds its database's directory as it would have made it.
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o700 });
  await cp(await pgliteTemplate(), dataDir, { recursive: true });
}

let template: Promise<string> | undefined;

function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const require = createRequire(import.meta.url);
    // Its entry point is dist/index: the package's own description is two levels up.
    const packageJson = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
    const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
    const path = join(tmpdir(), `sov-pglite-template-${version}`);
    if (
      await stat(join(path, 'PG_VERSION')).then(
        () => true,
        () => false,
      )
    )
      return path;
    // Made beside it and renamed into place: test processes that start together each
    // make one, the first rename wins and the others throw theirs away.
    const making = await mkdtemp(join(dirname(path), 'sov-pglite-template-making-'));
    try {
      const db = await PGlite.create(join(making, 'db'));
      await db.close();
      await rename(join(making, 'db'), path).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(making, { recursive: true, force: true });
    }
    return path;
  })();
  return template;
}

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
