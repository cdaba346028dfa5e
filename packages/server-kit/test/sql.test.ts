import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Database, MigrationChangedError, migrate, openDatabase, splitStatements } from '../src/sql/index.ts';
import { databaseTargets, type TestDatabase } from '../src/testing/index.ts';

for (const target of databaseTargets()) {
  describe(`SQL storage [${target.name}]`, () => {
    let database: TestDatabase;
    let db: Database;
    let dir: string;

    before(async () => {
      database = await target.create();
      db = await openDatabase(database.options);
      dir = await mkdtemp(join(tmpdir(), 'sov-migrations-'));
    });
    after(async () => {
      await db.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('runs on the driver it was asked for', () => {
      assert.equal(db.driver, target.name);
    });

    it('applies each migration once, in order, and refuses an applied one that changed', async () => {
      await writeFile(join(dir, '001_first.sql'), 'CREATE TABLE things (id int PRIMARY KEY, name text);\n');
      await writeFile(
        join(dir, '002_second.sql'),
        "-- a comment\nALTER TABLE things ADD COLUMN size int;\nINSERT INTO things VALUES (1, 'a;b', 3);\n",
      );
      assert.deepEqual(await migrate(db, dir, 42), ['001_first.sql', '002_second.sql']);
      assert.deepEqual(await migrate(db, dir, 42), []);
      assert.deepEqual(await db.query('SELECT id, name, size FROM things'), [{ id: 1, name: 'a;b', size: 3 }]);
      await writeFile(join(dir, '001_first.sql'), 'CREATE TABLE things (id bigint PRIMARY KEY);\n');
      await assert.rejects(migrate(db, dir, 42), MigrationChangedError);
    });

    it('rolls back every write of a failed transaction', async () => {
      await db.exec('CREATE TABLE ledger (id int PRIMARY KEY)');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO ledger VALUES (1)');
          await tx.query('INSERT INTO ledger VALUES (1)');
        }),
      );
      assert.deepEqual(await db.query('SELECT * FROM ledger'), []);
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO ledger VALUES (2)');
      });
      assert.deepEqual(await db.query('SELECT * FROM ledger'), [{ id: 2 }]);
    });

    it('delivers NOTIFY to listeners', async () => {
      const received: string[] = [];
      const unlisten = await db.listen('sov_test', (payload) => received.push(payload));
      await db.notify('sov_test', 'hello');
      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await unlisten();
      assert.deepEqual(received, ['hello']);
    });
  });
}

describe('migration files', () => {
  it('split into statements at line-ending semicolons, without comments', () => {
    assert.deepEqual(splitStatements("-- c\nSELECT 1;\nSELECT ';';\n\n"), ['SELECT 1', "SELECT ';'"]);
  });
});

describe('database targets', () => {
  it('include PostgreSQL whenever SOV_TEST_DATABASE_URL is set, so no suite skips it silently', () => {
    const names = databaseTargets().map((t) => t.name);
    assert.equal(names[0], 'pglite');
    assert.equal(names.includes('postgres'), Boolean(process.env.SOV_TEST_DATABASE_URL));
  });

  it('fail, not skip, when the PostgreSQL server cannot be reached', async () => {
    const saved = process.env.SOV_TEST_DATABASE_URL;
    process.env.SOV_TEST_DATABASE_URL = 'postgres://sov@127.0.0.1:1/postgres';
    try {
      const postgres = databaseTargets().find((t) => t.name === 'postgres');
      assert.ok(postgres);
      await assert.rejects(postgres.create(), /ECONNREFUSED|connect/);
    } finally {
      if (saved === undefined) delete process.env.SOV_TEST_DATABASE_URL;
      else process.env.SOV_TEST_DATABASE_URL = saved;
    }
  });
});
