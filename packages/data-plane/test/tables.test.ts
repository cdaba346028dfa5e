import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, type TestDatabase } from '@sovereign/server-kit/testing';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import { type ColumnType, type SqlType, tables } from '../src/storage/tables.ts';

/** information_schema's names of the SQL types tables.ts uses. */
const sqlTypes: Record<string, SqlType> = {
  text: 'text',
  uuid: 'uuid',
  integer: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  'timestamp with time zone': 'timestamptz',
  jsonb: 'jsonb',
  bytea: 'bytea',
};

for (const target of databaseTargets()) {
  describe(`the data plane's table types, against its migrated database [${target.name}]`, () => {
    let test: TestDatabase;
    let db: Database;

    before(async () => {
      test = await target.create();
      db = await openDatabase(test.options);
      await migrateDataPlane(db);
    });

    after(async () => {
      await db?.close();
      await test?.drop();
    });

    it('name every table and column the migrations make, with its type and whether it may be null', async () => {
      const columns = await db.query<{
        table_name: string;
        column_name: string;
        data_type: string;
        is_nullable: string;
      }>(
        `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'
          ORDER BY table_name, ordinal_position`,
      );
      const migrated: Record<string, Record<string, ColumnType>> = {};
      for (const column of columns) {
        const type = sqlTypes[column.data_type] ?? column.data_type;
        migrated[column.table_name] ??= {};
        (migrated[column.table_name] as Record<string, string>)[column.column_name] =
          column.is_nullable === 'YES' ? `${type} null` : type;
      }
      const sorted = (described: Record<string, Record<string, string>>) =>
        Object.fromEntries(Object.entries(described).sort(([a], [b]) => a.localeCompare(b)));
      assert.deepEqual(sorted(migrated), sorted(tables));
    });
  });
}
