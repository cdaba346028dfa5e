import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InternalPaths, signingAlgorithm } from '@sovereign/contract';
import { masterKeyFrom } from '@sovereign/server-kit/keys';
import { migrate, openDatabase } from '@sovereign/server-kit/sql';
import {
  databaseTargets,
  freePort,
  itOnce,
  type Service,
  startService,
  type TestDatabase,
} from '@sovereign/server-kit/testing';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  jwtVerify,
  SignJWT,
} from 'jose';
import { migrateControlPlane } from '../src/app.ts';
import { SigningKeys } from '../src/signing/keys.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const migrations = fileURLToPath(new URL('../src/migrations', import.meta.url));
const adminPassword = 'master-key-test-admin-password';

/** The control plane's migrations from before its private keys were sealed (001 to 010). */
async function migrationsBeforeSealing(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sov-old-migrations-'));
  for (const name of await readdir(migrations)) {
    if (/^\d+_/.test(name) && Number.parseInt(name, 10) < 11) await copyFile(join(migrations, name), join(dir, name));
  }
  return dir;
}

for (const target of databaseTargets()) {
  describe(`the control plane's master key, real processes [${target.name}]`, () => {
    let database: TestDatabase;
    let home: string;
    before(async () => {
      database = await target.create(true);
      home = await mkdtemp(join(tmpdir(), 'sov-cp-master-key-'));
    });
    after(async () => {
      await database.drop();
      await rm(home, { recursive: true, force: true });
    });

    async function start(env: Record<string, string>): Promise<Service> {
      const port = await freePort();
      return startService({
        args: [main],
        url: `http://127.0.0.1:${port}`,
        env: {
          SOV_PORT: String(port),
          SOV_HOME: home,
          SOV_ADMIN_PASSWORD: adminPassword,
          SOV_PASSWORD_COST_LOG2: '12',
          SOV_LOG_LEVEL: 'info',
          SOV_MASTER_KEY: '',
          SOV_MASTER_KEY_FILE: '',
          SOV_DEV: '',
          ...database.env,
          ...env,
        },
      });
    }

    async function refused(env: Record<string, string>): Promise<string> {
      const service = await start(env).catch((error: unknown) => error);
      if (!(service instanceof Error)) {
        await (service as Service).stop();
        assert.fail('the control plane started');
      }
      return service.message;
    }

    it('seals the plaintext private key of a database from before at its first start with a key; tokens it signed still verify', async () => {
      // A database as the control plane left it before sealing: its private key in plaintext.
      const db = await openDatabase(database.options);
      const oldMigrations = await migrationsBeforeSealing();
      let kid: string;
      let oldToken: string;
      try {
        await migrate(db, oldMigrations, 0x50_56_01);
        const { publicKey, privateKey } = await generateKeyPair(signingAlgorithm, {
          crv: 'Ed25519',
          extractable: true,
        });
        const publicJwk = await exportJWK(publicKey);
        kid = await calculateJwkThumbprint(publicJwk);
        await db.query(`INSERT INTO signing_keys (kid, state, public_jwk, private_jwk) VALUES ($1, 'active', $2, $3)`, [
          kid,
          JSON.stringify({ ...publicJwk, kid, alg: signingAlgorithm, use: 'sig' }),
          JSON.stringify(await exportJWK(privateKey)),
        ]);
        oldToken = await new SignJWT({ sub: 'issued-before' })
          .setProtectedHeader({ alg: signingAlgorithm, kid, typ: 'at+jwt' })
          .setExpirationTime('10m')
          .sign(privateKey);
      } finally {
        await db.close();
        await rm(oldMigrations, { recursive: true, force: true });
      }

      const key = randomBytes(32).toString('hex');
      const service = await start({ SOV_MASTER_KEY: key });
      try {
        const jwks = createLocalJWKSet(
          (await (await fetch(`${service.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet,
        );
        await jwtVerify(oldToken, jwks);
        // The key still signs: a data plane's token from its client credentials.
        const admin = await call(service, 'POST', '/api/public/v1/auth/login', undefined, {
          email: 'admin@localhost',
          password: adminPassword,
        });
        const me = await call(service, 'GET', '/api/public/v1/me', admin.accessToken);
        const region = await call(service, 'POST', '/api/public/v1/regions', admin.accessToken, {
          name: 'eu',
          organizationId: me.organizations[0].organizationId,
        });
        const plane = await call(service, 'POST', '/api/public/v1/dataplanes', admin.accessToken, {
          name: 'eu-1',
          regionId: region.regionId,
        });
        const issued = await call(service, 'POST', InternalPaths.token, undefined, {
          client_id: plane.clientId,
          client_secret: plane.clientSecret,
        });
        assert.equal(decodeProtectedHeader(issued.access_token).kid, kid, 'signed by the key from before');
        await jwtVerify(issued.access_token, jwks);
        assert.match(service.output(), /"sealedPlaintext":1/);
        assert.match(service.output(), /were stored in plaintext until this start and may remain in backups/);
      } finally {
        await service.stop();
      }

      const after = await openDatabase(database.options);
      try {
        const [row] = await after.query<{
          private_jwk: unknown;
          sealed_private_key: Uint8Array;
          master_key_id: string;
        }>('SELECT private_jwk, sealed_private_key, master_key_id FROM signing_keys WHERE kid = $1', [kid]);
        assert.equal(row?.private_jwk, null, 'no plaintext private key is left');
        assert.equal(row?.master_key_id, masterKeyFrom(Buffer.from(key, 'hex')).keyId);
        assert.doesNotMatch(Buffer.from(row?.sealed_private_key ?? []).toString('utf8'), /"d"\s*:/);
      } finally {
        await after.close();
      }
      const again = await start({ SOV_MASTER_KEY: key });
      try {
        assert.match(again.output(), /"sealedPlaintext":0,"resealed":0,"privateKeys":1/);
      } finally {
        await again.stop();
      }
    });

    it('refuses to start when a sealed private key was moved to another row, rather than sign with it', async () => {
      const own = await target.create(true);
      const key = randomBytes(32);
      try {
        const db = await openDatabase(own.options);
        try {
          await migrateControlPlane(db);
          const ring = { current: Object.assign(masterKeyFrom(key), { source: 'test' }), previous: [] };
          const keys = new SigningKeys(db, ring);
          await keys.open();
          await keys.rotate();
          // Someone who may write the database swaps the active key's sealed blob with the retiring one's.
          await db.query(
            `UPDATE signing_keys AS k SET sealed_private_key = o.sealed_private_key
               FROM signing_keys AS o WHERE k.kid <> o.kid AND k.state <> 'retired' AND o.state <> 'retired'`,
          );
        } finally {
          await db.close();
        }
        const port = await freePort();
        const message = await startService({
          args: [main],
          url: `http://127.0.0.1:${port}`,
          env: { SOV_PORT: String(port), SOV_HOME: home, SOV_MASTER_KEY: key.toString('base64'), ...own.env },
        }).then(
          async (service) => {
            await service.stop();
            return assert.fail('the control plane started');
          },
          (error: Error) => error.message,
        );
        assert.match(
          message,
          /control plane failed to start: the private signing key \S+ \(master key \w+\) cannot be read: it was altered or moved from another row/,
        );
      } finally {
        await own.drop();
      }
    });

    itOnce(target)('refuses a key file that others can read, and says how to fix it', async () => {
      const file = join(home, 'master.key');
      await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o644 });
      await chmod(file, 0o644);
      const message = await refused({ SOV_MASTER_KEY_FILE: file });
      assert.match(
        message,
        new RegExp(
          `control plane failed to start: the master key file ${file} has mode 0644; it must be a regular file of mode 0600 \\(or 0400\\) owned by the user running the control plane. Fix: chmod 600 ${file}`,
        ),
      );
    });

    itOnce(target)(
      'refuses a previous key that is the current one, and a malformed key, without echoing either',
      async () => {
        const key = randomBytes(32).toString('base64');
        const same = await refused({ SOV_MASTER_KEY: key, SOV_PREVIOUS_MASTER_KEY: key });
        assert.match(same, /the previous master key is unusable: it is the current key/);
        const short = await refused({ SOV_MASTER_KEY: 'c2hvcnQ=' });
        assert.match(short, /the master key is unusable: it decodes to 5 bytes, a master key is 32/);
        assert.ok(!same.includes(key) && !short.includes('c2hvcnQ='));
      },
    );
  });
}

describe('the control plane in dev mode, a real process [pglite]', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'sov-cp-dev-key-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('makes its master key once under SOV_HOME, private to its user, and opens its keys with it at every start', async () => {
    const start = async () => {
      const port = await freePort();
      return startService({
        args: [main],
        url: `http://127.0.0.1:${port}`,
        env: {
          SOV_PORT: String(port),
          SOV_HOME: home,
          SOV_DEV: 'true',
          SOV_MASTER_KEY: '',
          SOV_MASTER_KEY_FILE: '',
          SOV_DATABASE_URL: '',
          SOV_DATABASE_DIR: '',
          SOV_PASSWORD_COST_LOG2: '12',
          SOV_LOG_LEVEL: 'info',
        },
      });
    };
    const keyFile = join(home, 'control-plane', 'master.key');
    const first = await start();
    await first.stop();
    const info = await stat(keyFile);
    assert.equal(info.mode & 0o777, 0o600, 'the key file is private to its user');
    const keyId = /"masterKeySource":"dev key file".*?"masterKeyId":"(\w+)"/.exec(first.output())?.[1];
    assert.ok(keyId, first.output());
    const second = await start();
    await second.stop();
    assert.match(second.output(), new RegExp(`"masterKeyId":"${keyId}","sealedPlaintext":0,"resealed":0`));
  });
});

/** A JSON call that must answer 200. */
async function call(service: Service, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}
