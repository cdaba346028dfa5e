import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type LoadedMasterKey, masterKeyFrom } from '@sovereign/server-kit/keys';
import { type DatabaseOptions, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, itOnce, type TestDatabase } from '@sovereign/server-kit/testing';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { migrateControlPlane } from '../src/app.ts';
import { WrongMasterKeyError } from '../src/signing/errors.ts';
import { SigningKeys } from '../src/signing/keys.ts';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

/** `sov-control-plane master-key ...` as an operator runs it; resolves to its exit code and output. */
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

const ringOf = (key: Buffer) => ({
  current: Object.assign(masterKeyFrom(key), { source: 'test' }) as LoadedMasterKey,
  previous: [],
});

for (const target of databaseTargets()) {
  describe(`sov-control-plane master-key, a real process [${target.name}]`, () => {
    let home: string;
    let test: TestDatabase;
    let database: DatabaseOptions;
    let env: Record<string, string>;
    const oldKey = randomBytes(32);
    let token: string;
    let jwks: { keys: unknown[] };

    before(async () => {
      home = await mkdtemp(join(tmpdir(), 'sov-cp-master-key-'));
      test = await target.create(true);
      database = test.options;
      env = { SOV_HOME: home, ...test.env };
      const db = await openDatabase(database);
      try {
        await migrateControlPlane(db);
        const keys = new SigningKeys(db, ringOf(oldKey));
        await keys.open();
        token = await keys.sign({ sub: 'before-rotation', exp: Math.floor(Date.now() / 1000) + 600 }, 'test');
        jwks = await keys.jwks();
      } finally {
        await db.close();
      }
    });
    after(async () => {
      await test.drop();
      await rm(home, { recursive: true, force: true });
    });

    itOnce(target)('names the current key by its fingerprint, never by its bytes', async () => {
      const { code, output } = await command(['id'], { ...env, SOV_MASTER_KEY: oldKey.toString('base64') });
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`^${masterKeyFrom(oldKey).keyId}\\t\\(from SOV_MASTER_KEY\\)`));
      assert.ok(!output.includes(oldKey.toString('base64')));
    });

    itOnce(target)(
      'refuses to run without a master key outside dev mode, and to rotate without a new key',
      async () => {
        const none = await command(['id'], env);
        assert.equal(none.code, 1);
        assert.match(
          none.output,
          /^master-key: the control plane refuses to start without a master key: set SOV_MASTER_KEY/m,
        );
        const { code, output } = await command(['rotate'], { ...env, SOV_MASTER_KEY: oldKey.toString('base64') });
        assert.notEqual(code, 0);
        assert.match(output, /no new key: set SOV_NEW_MASTER_KEY/);
        const wrong = await command(['rotate'], {
          ...env,
          SOV_MASTER_KEY: oldKey.toString('base64'),
          SOV_NEW_MASTER_KEY: 'not-a-key',
        });
        assert.equal(wrong.code, 1);
        assert.match(
          wrong.output,
          /^master-key: the new master key is unusable: it decodes to 6 bytes, a master key is 32/m,
        );
        assert.ok(!wrong.output.includes(oldKey.toString('base64')), 'the key is never printed');
      },
    );

    it('seals every private key again under the new key: the old key is refused, tokens still verify and are signed', async () => {
      const newKey = randomBytes(32);
      const { code, output } = await command(['rotate'], {
        ...env,
        SOV_MASTER_KEY: oldKey.toString('hex'),
        SOV_NEW_MASTER_KEY: newKey.toString('base64'),
      });
      assert.equal(code, 0, output);
      assert.match(
        output,
        new RegExp(
          `sealed 1 private signing key\\(s\\) again, from ${masterKeyFrom(oldKey).keyId} to ${masterKeyFrom(newKey).keyId}`,
        ),
      );
      assert.ok(!output.includes(newKey.toString('base64')) && !output.includes(oldKey.toString('hex')));

      const db = await openDatabase(database);
      try {
        await assert.rejects(new SigningKeys(db, ringOf(oldKey)).open(), WrongMasterKeyError);
        const keys = new SigningKeys(db, ringOf(newKey));
        await keys.open();
        assert.deepEqual(await keys.jwks(), jwks, 'the same signing keys');
        const published = createLocalJWKSet((await keys.jwks()) as Parameters<typeof createLocalJWKSet>[0]);
        await jwtVerify(token, published);
        await jwtVerify(await keys.sign({ sub: 'after-rotation' }, 'test'), published);
      } finally {
        await db.close();
      }
    });

    itOnce(target)('prints its usage for an unknown action', async () => {
      const { code, output } = await command(['shred'], env);
      assert.equal(code, 2);
      assert.match(output, /usage: sov-control-plane master-key id\|rotate/);
    });
  });
}
