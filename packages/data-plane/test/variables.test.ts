import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { open, seal } from '@sovereign/server-kit/keys';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { type DatabaseTarget, databaseTargets, type TestDatabase } from '@sovereign/server-kit/testing';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import {
  loadMasterKey,
  type MasterKey,
  MasterKeyFileInsecureError,
  MasterKeyInvalidError,
  MasterKeyMissingError,
  masterKeyFrom,
  SecretUnreadableError,
  VariableNameReservedProblem,
  VariableNotFoundProblem,
  Variables,
  WrongMasterKeyError,
} from '../src/variables/index.ts';

const newKey = (): MasterKey => masterKeyFrom(randomBytes(32));
const marker = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

async function migrated(target: DatabaseTarget, persistent = false): Promise<{ db: Database; test: TestDatabase }> {
  const test = await target.create(persistent);
  const db = await openDatabase(test.options);
  await migrateDataPlane(db);
  return { db, test };
}

/** Every row of every user table, as JSON text (bytea shows as \x hex). */
async function dump(db: Database): Promise<string> {
  const tables = await db.query<{ schemaname: string; tablename: string }>(
    "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
  );
  assert.ok(tables.some((t) => t.tablename === 'variables'));
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const parts: string[] = [];
  for (const t of tables) {
    const rows = await db.query<{ j: string }>(
      `SELECT row_to_json(t)::text AS j FROM ${quote(t.schemaname)}.${quote(t.tablename)} t`,
    );
    for (const row of rows) parts.push(row.j);
  }
  return parts.join('\n');
}

/** Every byte of every file under `dir`. */
async function rawFiles(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      out.push(await readFile(join(entry.parentPath, entry.name)));
    } catch {
      // a file the server removed meanwhile
    }
  }
  return out;
}

const contains = (haystacks: Buffer[], needle: string) => haystacks.some((b) => b.includes(Buffer.from(needle)));

function isProblem(status: number, code: string) {
  return (error: unknown) => {
    const problem = error as { status?: number; code?: string };
    assert.equal(problem.status, status);
    assert.equal(problem.code, code);
    return true;
  };
}

for (const target of databaseTargets()) {
  describe(`variables [${target.name}]`, () => {
    let db: Database;
    let test: TestDatabase;
    let variables: Variables;
    const master = newKey();

    before(async () => {
      ({ db, test } = await migrated(target));
      variables = await Variables.open(db, master);
    });
    after(async () => {
      await db.close();
      await test.drop();
    });

    it('round-trips plain and secret values', async () => {
      const ws = randomUUID();
      const plain = await variables.set(ws, 'GREETING', 'hello, world', false);
      assert.equal(plain.value, 'hello, world');
      const secret = await variables.set(ws, 'API_TOKEN', 'tok-ünïcødé-🔑', true);
      assert.equal(secret.secret, true);
      assert.equal('value' in secret, false);
      assert.deepEqual(await variables.resolve(ws), { API_TOKEN: 'tok-ünïcødé-🔑', GREETING: 'hello, world' });
      assert.deepEqual(await variables.secretValues(ws), ['tok-ünïcødé-🔑']);
      await variables.set(ws, 'EMPTY', '', true);
      assert.equal((await variables.resolve(ws)).EMPTY, '');
    });

    it('lists names sorted, values of plain ones only, never a secret value', async () => {
      const ws = randomUUID();
      const secretValue = marker('listed-secret');
      await variables.set(ws, 'b', 'plain-b', false);
      await variables.set(ws, 'SECRET', secretValue, true);
      await variables.set(ws, 'A', 'plain-A', false);
      await variables.set(ws, '_x', 'plain-x', false);
      const listed = await variables.list(ws);
      assert.deepEqual(
        listed.map((v) => v.name),
        ['A', 'SECRET', '_x', 'b'],
      );
      const secret = listed.find((v) => v.name === 'SECRET');
      assert.deepEqual(Object.keys(secret ?? {}).sort(), ['name', 'secret', 'updatedAt']);
      assert.equal(listed.find((v) => v.name === 'A')?.value, 'plain-A');
      assert.ok(!JSON.stringify(listed).includes(secretValue));
      assert.ok(!Number.isNaN(Date.parse(listed[0]?.updatedAt ?? '')));
      assert.deepEqual(await variables.list(randomUUID()), []);
    });

    it('keeps a secret secret when only its value is written, and switches kind only when asked', async () => {
      const ws = randomUUID();
      const first = marker('first');
      const second = marker('second');
      await variables.set(ws, 'TOKEN', first, true);
      const kept = await variables.set(ws, 'TOKEN', second);
      assert.equal(kept.secret, true);
      assert.equal('value' in kept, false);
      assert.equal((await variables.resolve(ws)).TOKEN, second);
      assert.equal((await variables.set(ws, 'NEW', 'v')).secret, false, 'a new variable is plain by default');

      // secret -> plain: the ciphertext is gone from the row.
      const plain = await variables.set(ws, 'TOKEN', 'now-public', false);
      assert.equal(plain.value, 'now-public');
      const [asPlain] = await db.query<{ sealed_value: unknown; key_version: unknown; plain_value: string }>(
        'SELECT sealed_value, key_version, plain_value FROM variables WHERE workspace_id = $1 AND name = $2',
        [ws, 'TOKEN'],
      );
      assert.deepEqual({ ...asPlain }, { sealed_value: null, key_version: null, plain_value: 'now-public' });

      // plain -> secret: the plain text is gone from the row and from the database.
      const third = marker('third');
      await variables.set(ws, 'LATER', third, false);
      await variables.set(ws, 'LATER', third, true);
      const [asSecret] = await db.query<{ plain_value: unknown; sealed_value: unknown }>(
        'SELECT plain_value, sealed_value FROM variables WHERE workspace_id = $1 AND name = $2',
        [ws, 'LATER'],
      );
      assert.equal(asSecret?.plain_value, null);
      assert.ok(asSecret?.sealed_value instanceof Uint8Array);
      assert.ok(!(await dump(db)).includes(third));
      assert.equal((await variables.resolve(ws)).LATER, third);
      assert.deepEqual((await variables.secretValues(ws)).sort(), [third]);
    });

    it('stores no secret in plain text: a dump of every table holds neither it nor its hex', async () => {
      const ws = randomUUID();
      const secretValue = marker('dumped-secret');
      const plainValue = marker('dumped-plain');
      await variables.set(ws, 'DB_PASSWORD', secretValue, true);
      await variables.set(ws, 'REGION', plainValue, false);
      await variables.rotateDataKey(ws);
      const all = await dump(db);
      assert.ok(all.includes(plainValue), 'the dump sees stored values (control)');
      assert.ok(!all.includes(secretValue));
      assert.ok(!all.includes(Buffer.from(secretValue).toString('hex')));
      assert.ok(!all.includes(Buffer.from(secretValue).toString('base64')));
    });

    it('a ciphertext moved to another name, or a data key moved to another workspace, fails to decrypt', async () => {
      const ws = randomUUID();
      await variables.set(ws, 'ALPHA', 'alpha-value', true);
      await variables.set(ws, 'BETA', 'beta-value', true);
      await db.query(
        `UPDATE variables SET sealed_value = (SELECT sealed_value FROM variables WHERE workspace_id = $1 AND name = 'ALPHA')
         WHERE workspace_id = $1 AND name = 'BETA'`,
        [ws],
      );
      await assert.rejects(variables.resolve(ws), SecretUnreadableError);
      await assert.rejects(variables.secretValues(ws), SecretUnreadableError);
      await assert.rejects(variables.rotateDataKey(ws), SecretUnreadableError);

      // Same name, same key version, other workspace: both the value and its data key are copied over.
      const from = randomUUID();
      const to = randomUUID();
      await variables.set(from, 'SHARED', 'from-value', true);
      await variables.set(to, 'SHARED', 'to-value', true);
      await db.query(
        `UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE workspace_id = $1 AND version = 1)
         WHERE workspace_id = $2 AND version = 1`,
        [from, to],
      );
      await db.query(
        `UPDATE variables SET sealed_value = (SELECT sealed_value FROM variables WHERE workspace_id = $1 AND name = 'SHARED')
         WHERE workspace_id = $2 AND name = 'SHARED'`,
        [from, to],
      );
      await assert.rejects(variables.resolve(to), SecretUnreadableError);
      assert.deepEqual(await variables.resolve(from), { SHARED: 'from-value' });
    });

    it('rotates a data key: values and updatedAt kept, ciphertexts changed, the old key retired', async () => {
      const ws = randomUUID();
      await variables.set(ws, 'ONE', 'one-value', true);
      await variables.set(ws, 'TWO', 'two-value', true);
      await variables.set(ws, 'PLAIN', 'plain-value', false);
      const before = await variables.list(ws);
      const sealed = async () =>
        db.query<{ name: string; sealed_value: Uint8Array; key_version: number }>(
          'SELECT name, sealed_value, key_version FROM variables WHERE workspace_id = $1 AND secret ORDER BY name',
          [ws],
        );
      const old = await sealed();
      assert.deepEqual(
        old.map((r) => r.key_version),
        [1, 1],
      );

      assert.equal(await variables.rotateDataKey(ws), 2);
      const rotated = await sealed();
      assert.deepEqual(
        rotated.map((r) => r.key_version),
        [2, 2],
      );
      for (const [i, row] of rotated.entries()) {
        assert.ok(!Buffer.from(row.sealed_value).equals(Buffer.from(old[i]?.sealed_value ?? [])));
      }
      assert.deepEqual(await variables.resolve(ws), { ONE: 'one-value', PLAIN: 'plain-value', TWO: 'two-value' });
      assert.deepEqual(await variables.list(ws), before);
      const keys = await db.query<{ version: number; active: boolean }>(
        'SELECT version, active FROM data_keys WHERE workspace_id = $1 ORDER BY version',
        [ws],
      );
      assert.deepEqual(
        keys.map((k) => ({ ...k })),
        [
          { version: 1, active: false },
          { version: 2, active: true },
        ],
      );
      await variables.set(ws, 'THREE', 'three-value', true);
      const [three] = await db.query<{ key_version: number }>(
        "SELECT key_version FROM variables WHERE workspace_id = $1 AND name = 'THREE'",
        [ws],
      );
      assert.equal(three?.key_version, 2);
      assert.equal(await variables.rotateDataKey(ws), 3);
      assert.equal((await variables.resolve(ws)).THREE, 'three-value');
    });

    it('a data key rotation that cannot finish changes nothing', async () => {
      const ws = randomUUID();
      await variables.set(ws, 'GOOD', 'good-value', true);
      await variables.set(ws, 'BAD', 'bad-value', true);
      // Flip one byte of one ciphertext: its authentication fails mid-rotation.
      await db.query(
        "UPDATE variables SET sealed_value = set_byte(sealed_value, 30, get_byte(sealed_value, 30) # 1) WHERE workspace_id = $1 AND name = 'BAD'",
        [ws],
      );
      const before = await db.query('SELECT name, sealed_value, key_version FROM variables WHERE workspace_id = $1', [
        ws,
      ]);
      await assert.rejects(variables.rotateDataKey(ws), SecretUnreadableError);
      assert.deepEqual(
        await db.query('SELECT name, sealed_value, key_version FROM variables WHERE workspace_id = $1', [ws]),
        before,
      );
      const keys = await db.query('SELECT version, active FROM data_keys WHERE workspace_id = $1', [ws]);
      assert.deepEqual(
        keys.map((k) => ({ ...k })),
        [{ version: 1, active: true }],
      );
    });

    it('makes one data key per workspace, lazily, even for concurrent first secrets', async () => {
      const ws = randomUUID();
      await variables.set(ws, 'PLAIN_ONLY', 'x', false);
      const none = await db.query('SELECT 1 FROM data_keys WHERE workspace_id = $1', [ws]);
      assert.equal(none.length, 0, 'no data key before the first secret');
      await Promise.all(Array.from({ length: 8 }, (_, i) => variables.set(ws, `S${i}`, `value-${i}`, true)));
      const keys = await db.query('SELECT version FROM data_keys WHERE workspace_id = $1', [ws]);
      assert.equal(keys.length, 1);
      const resolved = await variables.resolve(ws);
      for (let i = 0; i < 8; i++) assert.equal(resolved[`S${i}`], `value-${i}`);
    });

    it('refuses reserved and malformed names, and values a process cannot hold', async () => {
      const ws = randomUUID();
      for (const name of ['SOV_RUN_ID', 'SOV_', 'SOV_ANYTHING', 'PATH', 'HOME', 'LANG', 'PORT']) {
        await assert.rejects(variables.set(ws, name, 'x', false), VariableNameReservedProblem);
        await assert.rejects(variables.set(ws, name, 'x', true), isProblem(400, 'variable_name_reserved'));
      }
      for (const name of ['', '1ABC', 'A-B', 'A=B', 'A B', 'É', 'x'.repeat(129)]) {
        await assert.rejects(variables.set(ws, name, 'x', false), isProblem(400, 'validation_failed'));
      }
      await assert.rejects(variables.set(ws, 'NUL', 'a\0b', true), isProblem(400, 'validation_failed'));
      assert.deepEqual(await variables.list(ws), []);
      // Look-alikes are the workspace's own: env names are case-sensitive.
      for (const name of ['MY_PATH', 'Path', 'sov_x', 'PORTS', 'x'.repeat(128)]) await variables.set(ws, name, 'ok');
      assert.equal((await variables.list(ws)).length, 5);
    });

    it('removes a variable, and answers not found for one that is not there', async () => {
      const ws = randomUUID();
      const secretValue = marker('removed');
      await variables.set(ws, 'GONE', secretValue, true);
      await variables.remove(ws, 'GONE');
      assert.deepEqual(await variables.list(ws), []);
      assert.deepEqual(await variables.resolve(ws), {});
      assert.ok(!(await dump(db)).includes(secretValue));
      await assert.rejects(variables.remove(ws, 'GONE'), VariableNotFoundProblem);
      await assert.rejects(variables.remove(ws, 'NEVER'), isProblem(404, 'variable_not_found'));
    });

    it('treats a workspace id in any letter case as one workspace, and __proto__ as a name', async () => {
      const ws = randomUUID();
      await variables.set(ws.toUpperCase(), 'CASED', 'cased-value', true);
      assert.deepEqual(await variables.resolve(ws), { CASED: 'cased-value' });
      await variables.set(ws, '__proto__', 'proto-value', true);
      const resolved = await variables.resolve(ws);
      assert.equal(Object.getOwnPropertyDescriptor(resolved, '__proto__')?.value, 'proto-value');
      await assert.rejects(variables.list('not-a-uuid'), /not a UUID/);
    });
  });

  describe(`master key checks and rotation [${target.name}]`, () => {
    it('refuses the wrong master key at startup, loudly, naming both key ids', async () => {
      const { db, test } = await migrated(target);
      try {
        const right = newKey();
        const wrong = newKey();
        const variables = await Variables.open(db, right);
        await variables.set(randomUUID(), 'S', 'sealed', true);
        await assert.rejects(Variables.open(db, wrong), (error: unknown) => {
          assert.ok(error instanceof WrongMasterKeyError);
          assert.equal(
            error.message,
            `the master key does not match the one this data plane's secrets were sealed with (key id ${right.keyId} expected, ${wrong.keyId} given)`,
          );
          return true;
        });
        await Variables.open(db, right);

        // Without the check record (a partial restore), the key is proven against a data key.
        await db.query('DELETE FROM master_key_check');
        await assert.rejects(Variables.open(db, wrong), WrongMasterKeyError);
        await Variables.open(db, right);
        await assert.rejects(Variables.open(db, wrong), WrongMasterKeyError);
      } finally {
        await db.close();
        await test.drop();
      }
    });

    it('two first starts with different keys: exactly one is accepted', async () => {
      const { db, test } = await migrated(target);
      try {
        const results = await Promise.allSettled([Variables.open(db, newKey()), Variables.open(db, newKey())]);
        assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const refused = results.find((r) => r.status === 'rejected');
        assert.ok(refused?.reason instanceof WrongMasterKeyError);
      } finally {
        await db.close();
        await test.drop();
      }
    });

    it('rotates the master key: values kept, the old key refused after, the new one accepted', async () => {
      const { db, test } = await migrated(target);
      try {
        const oldKey = newKey();
        const nextKey = newKey();
        const variables = await Variables.open(db, oldKey);
        const other = await Variables.open(db, oldKey); // another instance on the same database
        const a = randomUUID();
        const b = randomUUID();
        await variables.set(a, 'A_SECRET', 'a-secret', true);
        await variables.set(a, 'A_PLAIN', 'a-plain', false);
        await variables.set(b, 'B_SECRET', 'b-secret', true);
        await variables.rotateDataKey(b); // a retired key is rewrapped too
        const wrappedBefore = await db.query<{ wrapped: Uint8Array }>('SELECT wrapped FROM data_keys ORDER BY 1');

        assert.deepEqual(await variables.rotateMasterKey(nextKey), { dataKeys: 3 });
        assert.equal(variables.masterKeyId, nextKey.keyId);
        assert.deepEqual(await variables.resolve(a), { A_PLAIN: 'a-plain', A_SECRET: 'a-secret' });
        assert.deepEqual(await variables.resolve(b), { B_SECRET: 'b-secret' });
        const ids = await db.query<{ master_key_id: string }>(
          'SELECT master_key_id FROM data_keys UNION ALL SELECT master_key_id FROM master_key_check',
        );
        assert.deepEqual(new Set(ids.map((r) => r.master_key_id)), new Set([nextKey.keyId]));
        const wrappedAfter = await db.query<{ wrapped: Uint8Array }>('SELECT wrapped FROM data_keys ORDER BY 1');
        for (const row of wrappedAfter) {
          assert.ok(!wrappedBefore.some((old) => Buffer.from(old.wrapped).equals(Buffer.from(row.wrapped))));
        }

        await assert.rejects(Variables.open(db, oldKey), WrongMasterKeyError);
        const restarted = await Variables.open(db, nextKey);
        assert.deepEqual(await restarted.resolve(a), { A_PLAIN: 'a-plain', A_SECRET: 'a-secret' });
        await restarted.set(a, 'A_SECRET', 'a-secret-2');
        assert.deepEqual(await restarted.secretValues(a), ['a-secret-2']);

        // An instance still holding the old key is refused on its next use of a secret, never served garbage.
        await assert.rejects(other.resolve(a), WrongMasterKeyError);
        await assert.rejects(other.set(a, 'A_SECRET', 'x', true), WrongMasterKeyError);
        await assert.rejects(other.set(randomUUID(), 'FIRST', 'x', true), WrongMasterKeyError);
        await assert.rejects(other.rotateMasterKey(newKey()), WrongMasterKeyError);
        assert.deepEqual(await restarted.resolve(a), { A_PLAIN: 'a-plain', A_SECRET: 'a-secret-2' });
      } finally {
        await db.close();
        await test.drop();
      }
    });

    it('a master key rotation that cannot finish changes nothing', async () => {
      const { db, test } = await migrated(target);
      try {
        const oldKey = newKey();
        const variables = await Variables.open(db, oldKey);
        await variables.set(randomUUID(), 'FINE', 'fine', true);
        const broken = randomUUID();
        await variables.set(broken, 'BROKEN', 'broken', true);
        await db.query(
          // Flip a bit, so the byte changes whatever it was.
          'UPDATE data_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) WHERE workspace_id = $1',
          [broken],
        );
        const before = await db.query('SELECT * FROM data_keys ORDER BY workspace_id, version');
        await assert.rejects(variables.rotateMasterKey(newKey()), SecretUnreadableError);
        assert.deepEqual(await db.query('SELECT * FROM data_keys ORDER BY workspace_id, version'), before);
        assert.equal(variables.masterKeyId, oldKey.keyId);
        await Variables.open(db, oldKey);
      } finally {
        await db.close();
        await test.drop();
      }
    });

    it('leaves no secret in plain text in the database files', async (t) => {
      const { db, test } = await migrated(target, true);
      const secretValue = marker('on-disk-secret');
      const plainValue = marker('on-disk-plain');
      let closed = false;
      try {
        const variables = await Variables.open(db, newKey());
        const ws = randomUUID();
        await variables.set(ws, 'SECRET', secretValue, true);
        await variables.set(ws, 'PLAIN', plainValue, false);
        await variables.rotateDataKey(ws);
        let dir = test.options.dataDir;
        if (target.name === 'postgres') {
          // Only when this machine can read the server's files (a local test server, as superuser).
          const [row] = await db.query<{ setting: string }>("SELECT current_setting('data_directory') AS setting");
          await db.query('CHECKPOINT').catch(() => {});
          dir = row?.setting;
          try {
            accessSync(dir ?? '', constants.R_OK);
          } catch {
            dir = undefined;
          }
        } else {
          await db.close(); // PGlite writes everything out as it closes
          closed = true;
        }
        if (dir === undefined) {
          t.diagnostic('the server files cannot be read from here: only the table dump was checked');
          return;
        }
        const files = await rawFiles(dir);
        t.diagnostic(`read ${files.length} files under ${dir}`);
        assert.ok(contains(files, plainValue), 'the files hold stored values (control)');
        assert.ok(!contains(files, secretValue));
      } finally {
        if (!closed) await db.close();
        await test.drop();
      }
    });
  });
}

describe('AES-256-GCM sealing', () => {
  const key = randomBytes(32);

  it('opens what it sealed, with a fresh IV each time', () => {
    const one = seal(key, Buffer.from('value'), 'variable:w:N');
    const two = seal(key, Buffer.from('value'), 'variable:w:N');
    assert.ok(!one.subarray(0, 12).equals(two.subarray(0, 12)));
    assert.equal(open(key, one, 'variable:w:N').toString(), 'value');
    assert.equal(open(key, new Uint8Array(two), 'variable:w:N').toString(), 'value');
  });

  it('refuses another place, another key, an altered or a truncated blob', () => {
    const sealed = seal(key, Buffer.from('value'), 'variable:w1:N');
    assert.throws(() => open(key, sealed, 'variable:w2:N'));
    assert.throws(() => open(key, sealed, 'variable:w1:M'));
    assert.throws(() => open(randomBytes(32), sealed, 'variable:w1:N'));
    for (const at of [0, 12, 28, sealed.length - 1]) {
      const altered = Buffer.from(sealed);
      altered[at] = (altered[at] ?? 0) ^ 1;
      assert.throws(() => open(key, altered, 'variable:w1:N'), `altered at ${at}`);
    }
    assert.throws(() => open(key, sealed.subarray(0, 20), 'variable:w1:N'));
  });
});

describe('master key loading', () => {
  let dir: string;
  const raw = randomBytes(32);
  const expectedId = masterKeyFrom(raw).keyId;
  const devPath = () => join(dir, `dev-${randomUUID()}`, 'keys', 'master.key');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sov-master-key-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function keyFile(mode: number, content = `${raw.toString('base64')}\n`): Promise<string> {
    const path = join(dir, `key-${randomUUID()}`);
    await writeFile(path, content, { mode: 0o600 });
    await chmod(path, mode);
    return path;
  }

  it('takes SOV_MASTER_KEY as base64, base64url or hex, with a short fingerprint as id', async () => {
    for (const text of [
      raw.toString('base64'),
      raw.toString('base64url'),
      raw.toString('hex'),
      ` ${raw.toString('hex').toUpperCase()}\n`,
    ]) {
      const loaded = await loadMasterKey({ key: text, dev: false, devKeyPath: devPath() });
      assert.ok(loaded.key.equals(raw));
      assert.equal(loaded.keyId, expectedId);
      assert.equal(loaded.source, 'SOV_MASTER_KEY');
    }
    assert.match(expectedId, /^[0-9a-f]{16}$/);
    assert.ok(!raw.toString('hex').includes(expectedId));
  });

  it('never shows the key when the loaded key is logged or serialized', async () => {
    const loaded = await loadMasterKey({ key: raw.toString('base64'), dev: false, devKeyPath: devPath() });
    for (const shown of [JSON.stringify(loaded), inspect(loaded, { depth: 5 }), `${Object.values(loaded)}`]) {
      assert.ok(!shown.includes(raw.toString('base64')));
      assert.ok(!shown.includes(raw.toString('hex')));
      assert.ok(!shown.includes(inspect(raw)));
      assert.ok(shown.includes(expectedId));
    }
  });

  it('refuses a key of the wrong length or form, without echoing it', async () => {
    const candidates = [
      randomBytes(16).toString('base64'),
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('base64'),
      `${randomBytes(32).toString('base64').slice(0, 40)}!!!!`,
      'not a key',
    ];
    for (const text of candidates) {
      await assert.rejects(loadMasterKey({ key: text, dev: false, devKeyPath: devPath() }), (error: unknown) => {
        assert.ok(error instanceof MasterKeyInvalidError);
        assert.ok(!error.message.includes(text));
        return true;
      });
    }
    await assert.rejects(
      loadMasterKey({ file: await keyFile(0o600, randomBytes(16).toString('hex')), dev: false, devKeyPath: devPath() }),
      MasterKeyInvalidError,
    );
  });

  it('takes SOV_MASTER_KEY_FILE of mode 0600 or 0400, and SOV_MASTER_KEY before it', async () => {
    for (const mode of [0o600, 0o400]) {
      const loaded = await loadMasterKey({ file: await keyFile(mode), dev: false, devKeyPath: devPath() });
      assert.equal(loaded.keyId, expectedId);
      assert.equal(loaded.source, 'SOV_MASTER_KEY_FILE');
    }
    const other = randomBytes(32);
    const fromEnv = await loadMasterKey({
      key: other.toString('hex'),
      file: await keyFile(0o600),
      dev: true,
      devKeyPath: devPath(),
    });
    assert.equal(fromEnv.keyId, masterKeyFrom(other).keyId);
  });

  it('refuses a key file others can read, with the chmod that fixes it', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o700, 0o660]) {
      const path = await keyFile(mode);
      await assert.rejects(loadMasterKey({ file: path, dev: false, devKeyPath: devPath() }), (error: unknown) => {
        assert.ok(error instanceof MasterKeyFileInsecureError);
        assert.match(error.message, new RegExp(`mode 0${mode.toString(8)}`));
        assert.ok(error.message.includes(`chmod 600 ${path}`));
        return true;
      });
    }
  });

  it('refuses a key file that is not a regular file, is missing, or belongs to someone else', async (t) => {
    await assert.rejects(loadMasterKey({ file: dir, dev: false, devKeyPath: devPath() }), /not a regular file/);
    await assert.rejects(
      loadMasterKey({ file: join(dir, 'missing'), dev: true, devKeyPath: devPath() }),
      MasterKeyInvalidError,
    );
    const fifo = join(dir, 'fifo');
    try {
      execFileSync('mkfifo', ['-m', '600', fifo]);
      await assert.rejects(
        loadMasterKey({ file: fifo, dev: false, devKeyPath: devPath() }),
        MasterKeyFileInsecureError,
      );
    } catch (error) {
      if (!(error instanceof Error && 'status' in error)) throw error;
      t.diagnostic('mkfifo unavailable: FIFO case not checked');
    }
    if (process.getuid?.() !== 0) {
      t.diagnostic('not root: cannot give a file to another user, ownership case not checked');
      return;
    }
    const foreign = await keyFile(0o600);
    await chown(foreign, 65534, 65534);
    await assert.rejects(loadMasterKey({ file: foreign, dev: false, devKeyPath: devPath() }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyFileInsecureError);
      assert.match(error.message, /owned by uid 65534/);
      assert.ok(error.message.includes(`chown 0 ${foreign}`));
      return true;
    });
  });

  it('refuses to start outside dev mode with no key, naming both variables', async () => {
    const path = devPath();
    await assert.rejects(loadMasterKey({ dev: false, devKeyPath: path }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyMissingError);
      assert.match(error.message, /refuses to start without a master key/);
      assert.match(error.message, /SOV_MASTER_KEY /);
      assert.match(error.message, /SOV_MASTER_KEY_FILE/);
      return true;
    });
    await assert.rejects(stat(path), /ENOENT/);
    await assert.rejects(loadMasterKey({ key: '', file: '', dev: false, devKeyPath: path }), MasterKeyMissingError);
  });

  it('in dev mode, generates a 0600 key in a 0700 directory once, and reuses it', async () => {
    const path = devPath();
    const first = await loadMasterKey({ dev: true, devKeyPath: path });
    assert.equal(first.source, 'dev key file');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(path, '..'))).mode & 0o777, 0o700);
    const again = await loadMasterKey({ dev: true, devKeyPath: path });
    assert.equal(again.keyId, first.keyId);
    assert.ok(again.key.equals(first.key));

    await chmod(path, 0o644);
    await assert.rejects(loadMasterKey({ dev: true, devKeyPath: path }), MasterKeyFileInsecureError);
  });

  it('in dev mode, processes starting together agree on one key and leave no temporary files', async () => {
    const path = devPath();
    const loaded = await Promise.all(Array.from({ length: 6 }, () => loadMasterKey({ dev: true, devKeyPath: path })));
    assert.equal(new Set(loaded.map((k) => k.keyId)).size, 1);
    assert.deepEqual(await readdir(join(path, '..')), ['master.key']);
  });

  it('in dev mode, an existing parent directory is used as it is', async () => {
    const parent = join(dir, `existing-${randomUUID()}`);
    await mkdir(parent, { mode: 0o755 });
    const loaded = await loadMasterKey({ dev: true, devKeyPath: join(parent, 'master.key') });
    assert.match(loaded.keyId, /^[0-9a-f]{16}$/);
    assert.equal((await stat(join(parent, 'master.key'))).mode & 0o777, 0o600);
  });
});
