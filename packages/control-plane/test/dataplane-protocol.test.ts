import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { InternalPaths, InternalRoutes, protocolVersion } from '@sovereign/contract';
import { type JsonSchema, unboundedNumbers } from '@sovereign/server-kit/testing';
import { eachDatabase, type Harness } from './support/harness.ts';

function facts(instanceId: string, heldRuns: string[] = []) {
  return {
    protocolVersion,
    instanceId,
    version: '0.1.0',
    publicUrl: 'http://127.0.0.1:9999',
    capacity: 4,
    heldRuns,
  };
}

async function exchange(h: Harness, clientId: string, clientSecret: string) {
  return h.request('POST', InternalPaths.token, { body: { client_id: clientId, client_secret: clientSecret } });
}

eachDatabase('data plane protocol: credentials, initialize, heartbeat, health', (h) => {
  it('exchanges client credentials (JSON or form) for a short-lived token', async () => {
    const t = await h().tenant('creds');
    const json = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    assert.equal(json.status, 200);
    assert.equal(json.body.token_type, 'Bearer');
    assert.ok(json.body.expires_in > 0 && json.body.expires_in <= 3600);
    const form = await h().request('POST', InternalPaths.token, {
      raw: new URLSearchParams({
        client_id: t.dataplane.clientId,
        client_secret: t.dataplane.clientSecret,
        grant_type: 'client_credentials',
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 200);
    const wrong = await exchange(h(), t.dataplane.clientId, `${t.dataplane.clientSecret}x`);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'invalid_client_credentials');
  });

  it('stores only a hash of the client secret', async () => {
    const t = await h().tenant('hash');
    const rows = await h().plane.deps.db.query('SELECT * FROM dataplanes WHERE dataplane_id = $1', [
      t.dataplane.dataplaneId,
    ]);
    assert.ok(!JSON.stringify(rows).includes(t.dataplane.clientSecret));
  });

  it('initializes an instance, then heartbeats renew its health and carry what it must know', async () => {
    const t = await h().tenant('beat');
    const { body } = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const token = body.access_token;
    const health = () =>
      h().expect(200, 'GET', `/dataplanes/${t.dataplane.dataplaneId}/health`, { token: t.people.viewer.token });

    assert.equal((await health()).status, 'unknown', 'no heartbeat yet');
    const instanceId = randomUUID();
    const init = await h().expect(200, 'POST', InternalPaths.initialize, {
      token,
      body: { ...facts(instanceId), heldRuns: undefined },
    });
    assert.equal(init.dataplaneId, t.dataplane.dataplaneId);
    assert.equal(init.regionId, t.regionId);
    assert.equal(init.organizationId, t.organizationId);
    assert.equal(init.issuer, 'http://127.0.0.1:8080');
    assert.match(init.jwksUrl, /\/\.well-known\/jwks\.json$/);

    const held = [randomUUID()];
    const beat = await h().expect(200, 'POST', InternalPaths.heartbeat, { token, body: facts(instanceId, held) });
    assert.equal(beat.accepting, true);
    assert.deepEqual(beat.workspaceIds, [t.workspace.workspaceId]);
    assert.deepEqual(beat.revokedTokens, []);

    const now = await health();
    assert.equal(now.status, 'healthy');
    assert.equal(now.version, '0.1.0');
    assert.equal(now.publicUrl, 'http://127.0.0.1:9999');
    assert.equal(now.instances.length, 1);
    assert.equal(now.instances[0].capacity, 4);
    // An instance's id, URL and load are for the organization's administrators.
    assert.equal(now.instances[0].instanceId, undefined);
    assert.equal(now.instances[0].heldRuns, undefined);
    assert.equal(now.publicUrlMismatch, undefined);
    const asAdmin = await h().expect(200, 'GET', `/dataplanes/${t.dataplane.dataplaneId}/health`, {
      token: t.people.admin.token,
    });
    assert.equal(asAdmin.instances[0].instanceId, instanceId);
    assert.equal(asAdmin.instances[0].publicUrl, 'http://127.0.0.1:9999');
    assert.equal(asAdmin.instances[0].heldRuns, 1);
    assert.equal(asAdmin.publicUrlMismatch, null);

    const issued = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    const plane = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    assert.equal(plane.dataplane.dataplaneId, t.dataplane.dataplaneId);
    await h().expect(200, 'POST', `/dataplane-tokens/${issued.tokenId}/revoke`, { token: t.people.owner.token });
    const withRevocation = await h().expect(200, 'POST', InternalPaths.heartbeat, { token, body: facts(instanceId) });
    assert.deepEqual(
      withRevocation.revokedTokens.map((r: { jti: string }) => r.jti),
      [issued.tokenId],
    );
    const token2 = await h().expect(200, 'POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
      token: t.people.owner.token,
      body: { scopes: ['runs:logs'] },
    });
    assert.equal(token2.dataplane.url, 'http://127.0.0.1:9999', 'clients learn the URL the first instance pinned');

    h().advanceClock(61_000);
    assert.equal((await health()).status, 'degraded');
    h().advanceClock(4 * 60_000);
    assert.equal((await health()).status, 'unhealthy');
    h().advanceClock(-5 * 60_000 - 1000);
  });

  it('tells a disabled data plane, or one in a disabled region, in the heartbeat answer', async () => {
    const t = await h().tenant('disabled');
    const { body } = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const instanceId = randomUUID();
    await h().expect(200, 'PATCH', `/dataplanes/${t.dataplane.dataplaneId}`, {
      token: t.people.admin.token,
      body: { enabled: false },
    });
    const off = await h().expect(200, 'POST', InternalPaths.heartbeat, {
      token: body.access_token,
      body: facts(instanceId),
    });
    assert.equal(off.accepting, false);
    assert.equal(off.dataplaneEnabled, false);
    assert.equal(off.reason, 'dataplane_disabled');

    await h().expect(200, 'PATCH', `/dataplanes/${t.dataplane.dataplaneId}`, {
      token: t.people.admin.token,
      body: { enabled: true },
    });
    await h().expect(200, 'PATCH', `/regions/${t.regionId}`, { token: t.people.admin.token, body: { enabled: false } });
    const regionOff = await h().expect(200, 'POST', InternalPaths.heartbeat, {
      token: body.access_token,
      body: facts(instanceId),
    });
    assert.equal(regionOff.accepting, false);
    assert.equal(regionOff.regionEnabled, false);
    assert.equal(regionOff.reason, 'region_disabled');
  });

  it('makes a deleted data plane’s credentials and live tokens fail at once', async () => {
    const t = await h().tenant('deleted');
    const { body } = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const instanceId = randomUUID();
    await h().expect(200, 'POST', InternalPaths.heartbeat, { token: body.access_token, body: facts(instanceId) });
    await h().expect(200, 'DELETE', `/dataplanes/${t.dataplane.dataplaneId}`, { token: t.people.owner.token });
    const beat = await h().request('POST', InternalPaths.heartbeat, {
      token: body.access_token,
      body: facts(instanceId),
    });
    assert.equal(beat.status, 401);
    assert.equal(beat.body.code, 'dataplane_credentials_revoked');
    const again = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    assert.equal(again.status, 401);
    assert.equal(again.body.code, 'invalid_client_credentials');
  });

  it('refuses a credential token it accepted before, once it has expired or its key was retired', async () => {
    const t = await h().tenant('reuse');
    const instanceId = randomUUID();
    const first = (await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret)).body;
    // Accepted (and its signature checked) once: a data plane sends the same token with every call.
    await h().expect(200, 'POST', InternalPaths.heartbeat, { token: first.access_token, body: facts(instanceId) });
    h().advanceClock(first.expires_in * 1000 + 1_000);
    try {
      const late = await h().request('POST', InternalPaths.heartbeat, {
        token: first.access_token,
        body: facts(instanceId),
      });
      assert.equal(late.status, 401, 'an expired token is refused, though it was accepted before');
      assert.equal(late.body.code, 'invalid_token');
    } finally {
      h().resetClock();
    }

    const second = (await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret)).body;
    await h().expect(200, 'POST', InternalPaths.heartbeat, { token: second.access_token, body: facts(instanceId) });
    await h().expect(200, 'POST', '/signing-keys/rotate', { token: h().adminToken });
    await h().expect(200, 'POST', InternalPaths.heartbeat, { token: second.access_token, body: facts(instanceId) });
    await h().expect(200, 'POST', '/signing-keys/retire', { token: h().adminToken });
    const retired = await h().request('POST', InternalPaths.heartbeat, {
      token: second.access_token,
      body: facts(instanceId),
    });
    assert.equal(retired.status, 401, 'a token of a retired key is refused at once, though it was accepted before');
    assert.equal(retired.body.code, 'invalid_token');
    const third = (await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret)).body;
    await h().expect(200, 'POST', InternalPaths.heartbeat, { token: third.access_token, body: facts(instanceId) });
  });

  it('refuses a scoped user token, or anything that is not a data plane token, on the internal API', async () => {
    const t = await h().tenant('typ');
    const scoped = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    for (const token of [scoped.token, t.people.owner.token, 'garbage']) {
      const answer = await h().request('POST', InternalPaths.heartbeat, { token, body: facts(randomUUID()) });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.code, 'invalid_token');
    }
    const none = await h().request('POST', InternalPaths.heartbeat, { body: facts(randomUUID()) });
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'unauthenticated');
  });

  it('refuses numbers too large for the database with a 400, on every protocol route', async () => {
    for (const route of Object.values(InternalRoutes)) {
      assert.deepEqual(unboundedNumbers(route.body as JsonSchema), [], `${route.path}: every number has a maximum`);
    }
    const t = await h().tenant('huge');
    const { body } = await exchange(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const token = body.access_token;
    const huge = [
      [InternalPaths.revocations, { protocolVersion, after: 1e308, waitMs: 0 }, 'body.after'],
      [InternalPaths.heartbeat, { ...facts(randomUUID()), claimedThrough: 2 ** 63 }, 'body.claimedThrough'],
      [
        InternalPaths.runEvents,
        {
          protocolVersion,
          instanceId: randomUUID(),
          events: [{ runId: randomUUID(), seq: 2 ** 31, status: 'running', at: new Date().toISOString() }],
        },
        'body.events.0.seq',
      ],
    ] as const;
    for (const [path, message, field] of huge) {
      const answer = await h().request('POST', path, { token, body: message });
      assert.equal(answer.status, 400, `${path}: ${answer.text}`);
      assert.equal(answer.body.code, 'validation_failed', path);
      assert.ok(
        (answer.body.errors as Array<{ path: string }>).some((e) => e.path === field),
        `${path} names ${field}: ${answer.text}`,
      );
    }
  });
});
