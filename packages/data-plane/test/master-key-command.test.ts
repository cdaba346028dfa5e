import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type DatabaseOptions, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, itOnce, type TestDatabase } from '@sovereign/server-kit/testing';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import { masterKeyFrom, Variables, WrongMasterKeyError } from '../src/variables/index.ts';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

/** `sov-data-plane master-key ...` as an operator runs it; resolves to its exit code and output. */
async function command(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, 'master-key', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

for (const target of databaseTargets()) {
  describe(`sov-data-plane master-key, a real process [${target.name}]`, () => {
    let dataDir: string;
    let test: TestDatabase;
    let database: DatabaseOptions;
    let env: Record<string, string>;
    const oldKey = randomBytes(32);
    const workspaceId = randomUUID();
    const secret = `secret-${randomBytes(8).toString('hex')}`;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'sov-master-key-'));
      test = await target.create(true);
      // The data plane keeps PGlite under its data directory; PostgreSQL is at its URL.
      database = test.options.url === undefined ? { dataDir: join(dataDir, 'db') } : test.options;
      env = {
        SOV_DATA_DIR: dataDir,
        ...(test.options.url === undefined ? {} : { SOV_DATABASE_URL: test.options.url }),
      };
      const db = await openDatabase(database);
      try {
        await migrateDataPlane(db);
        const variables = await Variables.open(db, masterKeyFrom(oldKey));
        await variables.set(workspaceId, 'API_TOKEN', secret, true);
        await variables.set(workspaceId, 'REGION', 'eu', false);
      } finally {
        await db.close();
      }
    });
    after(async () => {
      await test.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    itOnce(target)('names the current key by its fingerprint, never by its bytes', async () => {
      const { code, output } = await command(['id'], { ...env, SOV_MASTER_KEY: oldKey.toString('base64') });
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`^${masterKeyFrom(oldKey).keyId}\\t\\(from SOV_MASTER_KEY\\)`));
      assert.ok(!output.includes(oldKey.toString('base64')));
    });

    itOnce(target)('refuses to rotate without a new key, and says where to put it', async () => {
      const { code, output } = await command(['rotate'], { ...env, SOV_MASTER_KEY: oldKey.toString('base64') });
      assert.notEqual(code, 0);
      assert.match(output, /no new key: set SOV_NEW_MASTER_KEY/);
      assert.ok(!output.includes(oldKey.toString('base64')), 'the key is never printed');
      const wrong = await command(['rotate'], {
        ...env,
        SOV_MASTER_KEY: oldKey.toString('base64'),
        SOV_NEW_MASTER_KEY: 'not-a-key',
      });
      assert.equal(wrong.code, 1);
      assert.match(
        wrong.output,
        /^master-key: the new key: the master key is unusable: it decodes to 6 bytes, a master key is 32/m,
      );
    });

    it('rotates to the new key: secrets read with it, the old key is refused', async () => {
      const newKey = randomBytes(32);
      const { code, output } = await command(['rotate'], {
        ...env,
        SOV_MASTER_KEY: oldKey.toString('hex'),
        SOV_NEW_MASTER_KEY: newKey.toString('base64'),
      });
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`rotated 1 data key\\(s\\) from \\w+ to ${masterKeyFrom(newKey).keyId}`));
      assert.ok(!output.includes(newKey.toString('base64')) && !output.includes(oldKey.toString('hex')));

      const db = await openDatabase(database);
      try {
        await assert.rejects(Variables.open(db, masterKeyFrom(oldKey)), WrongMasterKeyError);
        const variables = await Variables.open(db, masterKeyFrom(newKey));
        assert.deepEqual(await variables.resolve(workspaceId), { API_TOKEN: secret, REGION: 'eu' });
      } finally {
        await db.close();
      }
    });

    itOnce(target)('prints its usage for an unknown action', async () => {
      const { code, output } = await command(['shred'], env);
      assert.equal(code, 2);
      assert.match(output, /usage: sov-data-plane master-key id\|rotate/);
    });
  });
}
