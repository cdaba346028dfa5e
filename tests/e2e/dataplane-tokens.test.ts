import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { call, expectStatus, Platform } from '../support/platform.ts';

/**
 * Issue acceptance: a real control plane and two real data planes (us, eu) as
 * processes; every way a scoped token can be wrong is refused, each with its own code.
 */
const target = flowTarget();

describe(`scoped tokens at the data plane, real processes [${target.name}]`, () => {
  let platform: Platform;
  let eu: Awaited<ReturnType<Platform['tenant']>>;
  let us: Awaited<ReturnType<Platform['tenant']>>;

  before(async () => {
    // No skew on eu-1, so a token's expiry is observable in seconds (30 s at most in production).
    platform = await Platform.start(target, { perDataplaneEnv: { 'eu-1': { SOV_TOKEN_CLOCK_SKEW_SECONDS: '0' } } });
    eu = await platform.tenant('eu', 'eu-tenant');
    us = await platform.tenant('us', 'us-tenant');
    // The data planes learn about new workspaces from their next heartbeat.
    for (const t of [eu, us]) {
      const { token } = await platform.scopedToken(t.token, t.workspace.workspaceId, ['variables:read']);
      await platform.waitFor(
        async () =>
          (await call('GET', `${t.plane.url}/api/v1/workspaces/${t.workspace.workspaceId}/variables`, { token }))
            .status === 200,
        `${t.plane.name} to host the workspace`,
      );
    }
  });
  after(async () => {
    await platform?.stop();
  });

  const variablesUrl = (t: typeof eu) => `${t.plane.url}/api/v1/workspaces/${t.workspace.workspaceId}/variables`;

  it('accepts a valid token for a hosted workspace, and points the client at the right data plane', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, [
      'variables:read',
      'variables:write',
    ]);
    assert.equal(issued.dataplane.url, platform.dp('eu-1').url);
    await expectStatus(200, 'PUT', `${variablesUrl(eu)}/GREETING`, {
      token: issued.token,
      body: { value: 'hello' },
    });
    const listed = await expectStatus(200, 'GET', variablesUrl(eu), { token: issued.token });
    assert.deepEqual(
      listed.data.map((v: { name: string; value?: string }) => [v.name, v.value]),
      [['GREETING', 'hello']],
    );
    await expectStatus(200, 'PUT', `${variablesUrl(eu)}/TOKEN`, {
      token: issued.token,
      body: { value: 'first-secret', secret: true },
    });
    const rewritten = await expectStatus(200, 'PUT', `${variablesUrl(eu)}/TOKEN`, {
      token: issued.token,
      body: { value: 'second-secret' },
    });
    assert.deepEqual(rewritten.secret, true, 'a secret written again without `secret` stays secret');
    assert.equal(rewritten.value, undefined);
  });

  it('refuses a token for the eu workspace at the us data plane', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, ['variables:read']);
    const answer = await call(
      'GET',
      `${platform.dp('us-1').url}/api/v1/workspaces/${eu.workspace.workspaceId}/variables`,
      {
        token: issued.token,
      },
    );
    assert.equal(answer.status, 401);
    assert.equal(answer.body.code, 'token_audience_invalid');
  });

  it('refuses an expired token', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, ['variables:read'], 5);
    await expectStatus(200, 'GET', variablesUrl(eu), { token: issued.token });
    await new Promise((r) => setTimeout(r, Date.parse(issued.expiresAt) - Date.now() + 1500));
    const answer = await call('GET', variablesUrl(eu), { token: issued.token });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.code, 'token_expired');
  });

  it('refuses a tampered token', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, ['variables:read']);
    const [header, payload, signature] = issued.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.scope = 'variables:read variables:write';
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    const answer = await call('PUT', `${variablesUrl(eu)}/STOLEN`, { token: forged, body: { value: 'x' } });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.code, 'token_signature_invalid');
  });

  it('refuses a token without the scope the call needs', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, ['variables:read']);
    const answer = await call('PUT', `${variablesUrl(eu)}/NOPE`, { token: issued.token, body: { value: 'x' } });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'token_scope_missing');
  });

  it('refuses a revoked token once the revocation arrives with a heartbeat', async () => {
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, ['variables:read']);
    await expectStatus(200, 'GET', variablesUrl(eu), { token: issued.token });
    await expectStatus(200, 'POST', `${platform.cp}/dataplane-tokens/${issued.tokenId}/revoke`, { token: eu.token });
    await platform.waitFor(
      async () => (await call('GET', variablesUrl(eu), { token: issued.token })).status !== 200,
      'the revocation to reach eu-1',
    );
    const answer = await call('GET', variablesUrl(eu), { token: issued.token });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.code, 'token_revoked');
  });

  it('refuses a missing, a malformed and another workspace’s token, each with its own code', async () => {
    const missing = await call('GET', variablesUrl(eu));
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'token_missing');
    const malformed = await call('GET', variablesUrl(eu), { token: 'not.a.jwt' });
    assert.equal(malformed.status, 401);
    assert.equal(malformed.body.code, 'token_malformed');
    const sessionToken = await call('GET', variablesUrl(eu), { token: eu.token });
    assert.equal(sessionToken.status, 401);
    assert.equal(sessionToken.body.code, 'token_malformed', 'a control plane session is not a scoped token');

    const second = await expectStatus(200, 'POST', `${platform.cp}/workspaces`, {
      token: eu.token,
      body: { name: 'second-eu', organizationId: eu.organizationId, regionId: eu.plane.regionId },
    });
    const other = await platform.scopedToken(eu.token, second.workspaceId, ['variables:read']);
    const mismatch = await call('GET', variablesUrl(eu), { token: other.token });
    assert.equal(mismatch.status, 403);
    assert.equal(mismatch.body.code, 'token_workspace_mismatch');
  });
});
