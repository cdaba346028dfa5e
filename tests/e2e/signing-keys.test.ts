import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { masterKeyFrom } from '@sovereign/server-kit/keys';
import { openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, freePort, itOnce, type Service, startService } from '@sovereign/server-kit/testing';
import { call, controlPlaneMain, expectStatus, Platform } from '../support/platform.ts';

/**
 * Issue 16, point 9: the control plane's private signing keys are sealed at rest under
 * its master key. Whoever reads its database (PGlite's files, or PostgreSQL) finds no
 * private key; a control plane given another key, or none outside dev mode, refuses to
 * start rather than sign; rotating the master key keeps every token working.
 */

const newKey = () => randomBytes(32).toString('base64');
const keyIdOf = (base64: string) => masterKeyFrom(Buffer.from(base64, 'base64')).keyId;

/** The first bytes of an Ed25519 private key in PKCS#8 DER, however it would be stored. */
const pkcs8Ed25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Where a value holds private key material: a JWK with its private member `d`, a PEM, or PKCS#8. */
function privateMaterialIn(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value);
    if (bytes.includes(pkcs8Ed25519)) return 'a PKCS#8 private key';
    return privateMaterialIn(bytes.toString('utf8'));
  }
  if (typeof value === 'string') {
    if (/PRIVATE KEY/.test(value)) return 'a PEM private key';
    if (/"d"\s*:/.test(value)) return 'a private JWK';
    return undefined;
  }
  if (typeof value === 'object') return 'd' in value ? 'a private JWK' : privateMaterialIn(JSON.stringify(value));
  return undefined;
}

for (const target of databaseTargets()) {
  describe(`the control plane's signing keys at rest, real processes [${target.name}]`, () => {
    let platform: Platform;
    let tenant: Awaited<ReturnType<Platform['tenant']>>;
    const firstKey = newKey();

    before(async () => {
      platform = await Platform.start(target, { controlPlaneEnv: { SOV_MASTER_KEY: firstKey } });
      tenant = await platform.tenant('eu', 'keys-tenant');
      await platform.waitUntilHosted(tenant.token, tenant.workspace.workspaceId);
    });
    after(async () => {
      await platform?.stop();
    });

    const variablesUrl = () => `${tenant.plane.url}/api/v1/workspaces/${tenant.workspace.workspaceId}/variables`;
    /** What a client sees with a token at the data plane: 200 if the token is good. */
    const dataPlaneAnswers = async (token: string) => (await call('GET', variablesUrl(), { token })).status;
    const issue = async () =>
      (await platform.scopedToken(tenant.token, tenant.workspace.workspaceId, ['variables:read'])).token;
    /** Every row of signing_keys as stored, every column: what someone who reads the database gets. */
    async function readSigningKeys(): Promise<Array<Record<string, unknown>>> {
      // PGlite is one process's database: read its files while the control plane is stopped.
      await platform.controlPlane.stop();
      try {
        const db = await openDatabase(platform.controlPlaneDatabase.options);
        try {
          return await db.query('SELECT * FROM signing_keys ORDER BY created_at');
        } finally {
          await db.close();
        }
      } finally {
        await platform.startControlPlane();
      }
    }
    /**
     * Starts the control plane with this change to its environment, in place of the running
     * one (PGlite is one process's database), and answers what it printed when it gave up.
     */
    async function refusedStart(env: Record<string, string>): Promise<string> {
      await platform.controlPlane.stop();
      try {
        let started: Service | undefined;
        try {
          started = await startService({
            args: [controlPlaneMain],
            url: platform.controlPlane.url,
            env: { ...platform.controlPlaneEnv, ...env },
          });
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
        await started.stop();
        assert.fail('the control plane started and served');
      } finally {
        await platform.startControlPlane();
      }
    }

    it('stores no private signing key in its database, only sealed ones, and signs tokens data planes accept', async () => {
      assert.equal(await dataPlaneAnswers(await issue()), 200);
      await expectStatus(200, 'POST', `${platform.cp}/signing-keys/rotate`, { token: platform.adminToken });
      const afterRotation = await issue();
      // Data planes learn a new kid from the JWKS, which they read again when they meet one.
      await platform.waitFor(
        async () => (await dataPlaneAnswers(afterRotation)) === 200,
        'the data plane to accept the new kid',
      );

      const rows = await readSigningKeys();
      const found = rows.flatMap((row) =>
        Object.entries(row).flatMap(([column, value]) => {
          const what = privateMaterialIn(value);
          return what === undefined ? [] : [`${row.kid}.${column} holds ${what}`];
        }),
      );
      assert.deepEqual(found, [], 'no column of the signing keys holds a private key');
      // Two keys that sign or verify: an active and a retiring one, each sealed under the master key.
      assert.deepEqual(rows.map((row) => row.state).sort(), ['active', 'retiring']);
      for (const row of rows) {
        assert.ok(row.sealed_private_key instanceof Uint8Array && row.sealed_private_key.length > 32);
        assert.equal(row.master_key_id, keyIdOf(firstKey), 'sealed under the given master key, named by its id');
      }
      const published = await expectStatus(200, 'GET', `${platform.controlPlaneUrl}/.well-known/jwks.json`);
      assert.deepEqual(
        published.keys.map((key: { kid: string }) => key.kid).sort(),
        rows.map((row) => row.kid).sort(),
        'the keys found are the ones that sign',
      );
      assert.equal(await dataPlaneAnswers(afterRotation), 200, 'tokens keep working after a restart');
      assert.ok(!platform.controlPlaneOutput().includes(firstKey), 'the master key is never logged');
    });

    itOnce(target)('refuses to start with another master key, naming the one it needs, and signs nothing', async () => {
      const other = newKey();
      const refused = await refusedStart({ SOV_MASTER_KEY: other });
      assert.match(refused, /exited before it was ready \(1\)/);
      assert.match(
        refused,
        new RegExp(
          `control plane failed to start: the master key does not match the one the control plane's signing keys are sealed with \\(key id ${keyIdOf(firstKey)} expected, ${keyIdOf(other)} given\\)`,
        ),
      );
      assert.ok(!refused.includes(other) && !refused.includes(firstKey), 'no key is printed');
      // The right key still opens them.
      assert.equal(await dataPlaneAnswers(await issue()), 200);
    });

    itOnce(target)('refuses to start without a master key outside dev mode, and says how to give it one', async () => {
      const refused = await refusedStart({ SOV_MASTER_KEY: '', SOV_MASTER_KEY_FILE: '', SOV_DEV: '' });
      assert.match(
        refused,
        /control plane failed to start: the control plane refuses to start without a master key: set SOV_MASTER_KEY \(32 random bytes as base64 or 64 hex digits, e\.g\. `openssl rand -base64 32`\) or SOV_MASTER_KEY_FILE/,
      );
      assert.doesNotMatch(refused, /listening/, 'it never listened');
    });

    itOnce(target)(
      'rotates the master key: tokens issued before still verify, new ones are signed, and the old key alone no longer opens the keys',
      async () => {
        const before = await issue();
        const second = newKey();
        // Every replica restarts with the new key, the old one still readable: the first re-seals.
        await platform.controlPlane.stop();
        await platform.startControlPlane({ SOV_MASTER_KEY: second, SOV_PREVIOUS_MASTER_KEY: firstKey });
        assert.match(platform.controlPlane.output(), new RegExp(`"masterKeyId":"${keyIdOf(second)}"`));
        assert.match(platform.controlPlane.output(), /"resealed":2/, 'both private keys were sealed again');
        assert.equal(await dataPlaneAnswers(before), 200, 'a token issued before the rotation');
        assert.equal(await dataPlaneAnswers(await issue()), 200, 'a token signed after it');

        // Then without the previous key: every private key opens under the new one.
        await platform.controlPlane.stop();
        await platform.startControlPlane({ SOV_PREVIOUS_MASTER_KEY: '' });
        assert.match(platform.controlPlane.output(), /"resealed":0/);
        assert.equal(await dataPlaneAnswers(before), 200);
        // Signing keys still rotate, sealed under the new master key; data planes learn the new kid.
        await expectStatus(200, 'POST', `${platform.cp}/signing-keys/rotate`, { token: platform.adminToken });
        const rotated = await issue();
        await platform.waitFor(
          async () => (await dataPlaneAnswers(rotated)) === 200,
          'the data plane to accept the new kid',
        );
        assert.equal(await dataPlaneAnswers(before), 200, 'the retiring key still verifies');

        const refused = await refusedStart({ SOV_MASTER_KEY: firstKey });
        assert.match(refused, new RegExp(`key id ${keyIdOf(second)} expected, ${keyIdOf(firstKey)} given`));
        const rows = await readSigningKeys();
        assert.deepEqual(
          rows.filter((row) => row.state !== 'retired').map((row) => row.master_key_id),
          [keyIdOf(second), keyIdOf(second), keyIdOf(second)],
        );
        assert.ok(!platform.controlPlaneOutput().includes(second), 'the master key is never logged');
      },
    );
  });
}

/**
 * Without downtime: while one replica still runs with the old key, another starts with
 * the new one (the old one as previous) and re-seals every private key; both keep
 * signing tokens the data planes accept. (PGlite is one process's database, so this
 * runs where PostgreSQL is configured; CI always configures it.)
 */
const postgres = databaseTargets().find((t) => t.name === 'postgres');

describe('master key rotation across two control plane replicas on one PostgreSQL [postgres]', {
  skip: postgres === undefined && 'SOV_TEST_DATABASE_URL is not set',
}, () => {
  let platform: Platform;
  let replica: Service | undefined;
  const oldKey = newKey();

  before(async () => {
    if (postgres === undefined) return;
    platform = await Platform.start(postgres, { controlPlaneEnv: { SOV_MASTER_KEY: oldKey } });
  });
  after(async () => {
    await replica?.stop();
    await platform?.stop();
  });

  it('keeps issuing tokens the data planes accept from the old replica and the new one', async () => {
    const tenant = await platform.tenant('us', 'replicas');
    await platform.waitUntilHosted(tenant.token, tenant.workspace.workspaceId);
    const url = `${tenant.plane.url}/api/v1/workspaces/${tenant.workspace.workspaceId}/variables`;
    const issueAt = async (cp: string) =>
      (
        await expectStatus(
          200,
          'POST',
          `${cp}/api/public/v1/workspaces/${tenant.workspace.workspaceId}/dataplane-token`,
          {
            token: tenant.token,
            body: { scopes: ['variables:read'] },
          },
        )
      ).token as string;
    const before = await issueAt(platform.controlPlane.url);

    const newer = newKey();
    const port = await freePort();
    replica = await startService({
      args: [controlPlaneMain],
      url: `http://127.0.0.1:${port}`,
      env: {
        ...platform.controlPlaneEnv,
        SOV_PORT: String(port),
        // The same public URL: one control plane, two replicas.
        SOV_PUBLIC_URL: platform.controlPlaneUrl,
        SOV_MASTER_KEY: newer,
        SOV_PREVIOUS_MASTER_KEY: oldKey,
      },
    });
    assert.match(replica.output(), /"resealed":1/);
    const db = await openDatabase(platform.controlPlaneDatabase.options);
    try {
      const rows = await db.query<{ master_key_id: string }>(
        'SELECT master_key_id FROM signing_keys WHERE sealed_private_key IS NOT NULL',
      );
      assert.deepEqual(
        rows.map((row) => row.master_key_id),
        [keyIdOf(newer)],
        'every private key is sealed under the new key',
      );
    } finally {
      await db.close();
    }
    // The old replica, still on the old key alone, keeps signing with the keys it loaded.
    for (const token of [before, await issueAt(platform.controlPlane.url), await issueAt(replica.url)]) {
      assert.equal((await call('GET', url, { token })).status, 200);
    }
    await platform.controlPlane.stop();
    assert.equal((await call('GET', url, { token: await issueAt(replica.url) })).status, 200);
  });
});
