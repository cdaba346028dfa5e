import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { flowTarget } from '@sovereign/server-kit/testing';
import { type Answer, call, expectStatus, Platform, userPassword } from '../support/platform.ts';

/**
 * Issue 16, point 6, against real processes: an API key expires, never acts above its
 * role or its user's current role, acts in its workspace only when bound to one, and
 * cannot make keys; a disabled user can neither sign in nor use a key; a password is
 * changed only with the current one.
 */
const day = 86_400_000;

function refused(answer: Answer, status: number, code: string, what: string): void {
  assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, code, `${what}: ${JSON.stringify(answer.body)}`);
  assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/, what);
}

const target = flowTarget();

describe(`API keys, disabled users and passwords, real processes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  const cp = () => platform.cp;
  const newKey = async (token: string, body: Record<string, unknown>) =>
    expectStatus(200, 'POST', `${cp()}/api-keys`, { token, body: { name: 'ci', ...body } });

  before(async () => {
    platform = await Platform.start(target);
    t = await platform.tenant('eu', 'keys');
  });
  after(async () => {
    await platform?.stop();
  });

  it('gives every key an expiry, 90 days unless asked, a year at most, and refuses it once passed', async () => {
    const before = Date.now();
    const plain = await newKey(t.token, {});
    const expires = Date.parse(plain.expiresAt);
    assert.ok(expires >= before + 90 * day && expires <= Date.now() + 90 * day, plain.expiresAt);
    assert.equal(plain.role, 'member', 'the default role');
    assert.equal(plain.workspaceId, null);
    const listed = await expectStatus(200, 'GET', `${cp()}/api-keys`, { token: t.token });
    assert.equal(
      listed.data.find((k: { apiKeyId: string }) => k.apiKeyId === plain.apiKeyId).expiresAt,
      plain.expiresAt,
    );

    const year = await newKey(t.token, { expiresInDays: 365 });
    assert.ok(Date.parse(year.expiresAt) <= Date.now() + 365 * day);
    for (const [body, field, what] of [
      [{ expiresInDays: 366 }, 'body.expiresInDays', 'a day over a year'],
      [{ expiresInDays: 0 }, 'body.expiresInDays', 'no lifetime'],
      [{ expiresAt: new Date(Date.now() + 366 * day).toISOString() }, 'body.expiresAt', 'a time over a year away'],
      [{ expiresAt: new Date(Date.now() - 1000).toISOString() }, 'body.expiresAt', 'a time past'],
      [{ expiresAt: 'tomorrow' }, 'body.expiresAt', 'not a time'],
      [{ expiresAt: new Date(Date.now() + day).toISOString(), expiresInDays: 1 }, 'body.expiresAt', 'both'],
    ] as const) {
      const answer = await call('POST', `${cp()}/api-keys`, { token: t.token, body: { name: 'ci', ...body } });
      refused(answer, 400, 'validation_failed', what);
      assert.ok(
        answer.body.errors.some((e: { path: string }) => e.path === field),
        `${what}: ${JSON.stringify(answer.body.errors)}`,
      );
    }

    // A key that ends a few seconds from now works until then, and is refused after, with its own code.
    const ends = Date.now() + 6000;
    const short = await newKey(t.token, { expiresAt: new Date(ends).toISOString(), role: 'viewer' });
    await expectStatus(200, 'GET', `${cp()}/me`, { token: short.key });
    // A scoped token made with it ends no later than the key.
    const scoped = await platform.scopedToken(short.key, t.workspace.workspaceId, ['runs:logs']);
    assert.ok(Date.parse(scoped.expiresAt) <= ends, `${scoped.expiresAt} is after the key's ${short.expiresAt}`);
    await sleep(Math.max(0, ends - Date.now()) + 500);
    refused(await call('GET', `${cp()}/me`, { token: short.key }), 401, 'api_key_expired', 'an expired key');
    refused(
      await call('POST', `${cp()}/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
        token: short.key,
        body: { scopes: ['runs:logs'] },
      }),
      401,
      'api_key_expired',
      'an expired key asks for a scoped token',
    );
  });

  it("never acts above its own role, nor above its user's current role, demotions included", async () => {
    const org = `${cp()}/organizations/${t.organizationId}`;
    const admin = await platform.member(t.token, t.organizationId, 'admin');
    const adminKey = await newKey(admin.token, { role: 'admin' });
    // A key's role is at most its user's: an admin cannot make an owner key.
    refused(
      await call('POST', `${cp()}/api-keys`, { token: admin.token, body: { name: 'x', role: 'owner' } }),
      403,
      'insufficient_role',
      "an admin's owner key",
    );
    await expectStatus(200, 'PATCH', org, { token: adminKey.key, body: { name: 'renamed by a key' } });

    // An owner's viewer key reads, and writes nothing.
    const viewerKey = await newKey(t.token, { role: 'viewer' });
    await expectStatus(200, 'GET', `${org}/members`, { token: viewerKey.key });
    refused(
      await call('PATCH', org, { token: viewerKey.key, body: { name: 'by a viewer key' } }),
      403,
      'insufficient_role',
      "an owner's viewer key renames the organization",
    );
    refused(
      await call('POST', `${cp()}/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
        token: viewerKey.key,
        body: { scopes: ['deployments:write'] },
      }),
      403,
      'scope_not_allowed',
      "an owner's viewer key asks to deploy",
    );

    // The owner demotes the admin: the admin's key is a viewer from the next request on.
    await expectStatus(200, 'PATCH', `${org}/members/${admin.userId}`, { token: t.token, body: { role: 'viewer' } });
    refused(
      await call('PATCH', org, { token: adminKey.key, body: { name: 'after the demotion' } }),
      403,
      'insufficient_role',
      "a demoted admin's admin key",
    );
    refused(
      await call('POST', `${cp()}/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
        token: adminKey.key,
        body: { scopes: ['variables:write'] },
      }),
      403,
      'scope_not_allowed',
      "a demoted admin's key asks to write variables",
    );
    const orgs = await expectStatus(200, 'GET', `${cp()}/organizations`, { token: adminKey.key });
    assert.deepEqual(
      orgs.data.map((o: { organizationId: string; role: string }) => [o.organizationId, o.role]),
      [[t.organizationId, 'viewer']],
    );
    // Promoted to member: the key follows, but never above its user.
    await expectStatus(200, 'PATCH', `${org}/members/${admin.userId}`, { token: t.token, body: { role: 'member' } });
    await platform.scopedToken(adminKey.key, t.workspace.workspaceId, ['variables:write']);
    refused(
      await call('PATCH', org, { token: adminKey.key, body: { name: 'as a member' } }),
      403,
      'insufficient_role',
      "a member's admin key",
    );
    // Removed from the organization: the key reaches nothing of it.
    await expectStatus(204, 'DELETE', `${org}/members/${admin.userId}`, { token: t.token });
    refused(await call('GET', org, { token: adminKey.key }), 404, 'organization_not_found', "a former member's key");

    // Not even an instance administrator's key acts as one.
    const adminsKey = await newKey(platform.adminToken, { role: 'owner' });
    refused(
      await call('POST', `${cp()}/users`, {
        token: adminsKey.key,
        body: { email: 'made-by-a-key@example.test', password: userPassword },
      }),
      403,
      'instance_admin_required',
      "an instance administrator's key creates a user",
    );
  });

  it('acts in its one workspace only, as a viewer or a member, and deploys there', async () => {
    const other = await platform.workspace(t.token, t.organizationId, 'us', 'keys-other-ws');
    refused(
      await call('POST', `${cp()}/api-keys`, {
        token: t.token,
        body: { name: 'x', role: 'admin', workspaceId: t.workspace.workspaceId },
      }),
      400,
      'validation_failed',
      'an admin workspace key',
    );
    const wsKey = await newKey(t.token, { role: 'member', workspaceId: t.workspace.workspaceId });
    assert.equal(wsKey.workspaceId, t.workspace.workspaceId);
    // Its making is on the organization's audit trail, for its admins to see.
    const trail = await expectStatus(200, 'GET', `${cp()}/organizations/${t.organizationId}/audit-events`, {
      token: t.token,
    });
    assert.ok(
      trail.data.some(
        (e: { action: string; target: { id: string } }) =>
          e.action === 'api_key.create' && e.target.id === wsKey.apiKeyId,
      ),
    );

    // It lists its workspace only, and reaches nothing else of the organization.
    const listed = await expectStatus(200, 'GET', `${cp()}/workspaces`, { token: wsKey.key });
    assert.deepEqual(
      listed.data.map((w: { workspaceId: string }) => w.workspaceId),
      [t.workspace.workspaceId],
    );
    refused(
      await call('GET', `${cp()}/workspaces/${other.workspaceId}`, { token: wsKey.key }),
      404,
      'workspace_not_found',
      'another workspace of the organization',
    );
    refused(
      await call('POST', `${cp()}/workspaces/${other.workspaceId}/dataplane-token`, {
        token: wsKey.key,
        body: { scopes: ['runs:logs'] },
      }),
      404,
      'workspace_not_found',
      'a scoped token for another workspace',
    );
    refused(
      await call('GET', `${cp()}/organizations/${t.organizationId}/members`, { token: wsKey.key }),
      404,
      'organization_not_found',
      "the organization's members",
    );

    // What CI does with it: deploy to the workspace's data plane and run a job.
    const { jobs } = await platform.deploy(wsKey.key, t.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: hello\n    run: echo hello from a key\n',
    });
    const run = await expectStatus(200, 'POST', `${cp()}/jobs/${jobs.hello}/runs`, { token: wsKey.key });
    assert.equal(run.trigger, 'api');

    const viewerWs = await newKey(t.token, { role: 'viewer', workspaceId: t.workspace.workspaceId });
    refused(
      await call('POST', `${cp()}/jobs/${jobs.hello}/runs`, { token: viewerWs.key }),
      403,
      'insufficient_role',
      'a viewer workspace key triggers a run',
    );
  });

  it('cannot make keys, see or revoke its user’s other keys, or change the password', async () => {
    const key = await newKey(t.token, { role: 'owner' });
    const sibling = await newKey(t.token, { name: 'sibling' });
    refused(
      await call('POST', `${cp()}/api-keys`, { token: key.key, body: { name: 'made by a key' } }),
      403,
      'session_required',
      'a key makes a key',
    );
    const seen = await expectStatus(200, 'GET', `${cp()}/api-keys`, { token: key.key });
    assert.deepEqual(
      seen.data.map((k: { apiKeyId: string }) => k.apiKeyId),
      [key.apiKeyId],
    );
    refused(
      await call('DELETE', `${cp()}/api-keys/${sibling.apiKeyId}`, { token: key.key }),
      404,
      'api_key_not_found',
      "a key revokes its user's other key",
    );
    refused(
      await call('POST', `${cp()}/me/password`, {
        token: key.key,
        body: { currentPassword: userPassword, newPassword: 'a-new-password-by-key' },
      }),
      403,
      'session_required',
      'a key changes the password',
    );
    await expectStatus(200, 'GET', `${cp()}/me`, { token: sibling.key });
    // A leaked key can end itself.
    await expectStatus(204, 'DELETE', `${cp()}/api-keys/${key.apiKeyId}`, { token: key.key });
    refused(await call('GET', `${cp()}/me`, { token: key.key }), 401, 'invalid_token', 'a revoked key');
  });

  it('shuts a disabled user out at once, sessions, keys and scoped tokens, until enabled again', async () => {
    const user = await platform.member(t.token, t.organizationId, 'owner');
    const key = await newKey(user.token, { role: 'owner' });
    const scoped = await platform.scopedToken(user.token, t.workspace.workspaceId, ['variables:read']);
    const variables = `${scoped.dataplane.url}/api/v1/workspaces/${t.workspace.workspaceId}/variables`;
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    await expectStatus(200, 'GET', variables, { token: scoped.token });

    // Only a signed-in instance administrator disables, and not themself.
    refused(
      await call('POST', `${cp()}/users/${user.userId}/disable`, { token: t.token }),
      403,
      'instance_admin_required',
      'an organization owner disables a user',
    );
    const me = await expectStatus(200, 'GET', `${cp()}/me`, { token: platform.adminToken });
    refused(
      await call('POST', `${cp()}/users/${me.userId}/disable`, { token: platform.adminToken }),
      409,
      'cannot_disable_self',
      'the administrator disables themself',
    );

    const disabled = await expectStatus(200, 'POST', `${cp()}/users/${user.userId}/disable`, {
      token: platform.adminToken,
    });
    assert.ok(disabled.disabledAt !== null);
    refused(await call('GET', `${cp()}/me`, { token: key.key }), 401, 'user_disabled', "a disabled user's key");
    refused(await call('GET', `${cp()}/me`, { token: user.token }), 401, 'invalid_token', "a disabled user's session");
    const login = (password: string) => call('POST', `${cp()}/auth/login`, { body: { email: user.email, password } });
    refused(await login(userPassword), 403, 'user_disabled', 'a disabled user signs in');
    refused(await login('not-the-password'), 401, 'invalid_credentials', 'a wrong password says nothing more');
    // The scoped token issued before is revoked: the data plane refuses it from its next heartbeat.
    await platform.waitFor(
      async () => (await call('GET', variables, { token: scoped.token })).status !== 200,
      'the revocation to reach the data plane',
    );
    refused(await call('GET', variables, { token: scoped.token }), 401, 'token_revoked', 'a scoped token');

    // Enabled again: they sign in, and their key (not expired) works again.
    const enabled = await expectStatus(200, 'POST', `${cp()}/users/${user.userId}/enable`, {
      token: platform.adminToken,
    });
    assert.equal(enabled.disabledAt, null);
    assert.equal((await login(userPassword)).status, 200);
    await expectStatus(200, 'GET', `${cp()}/me`, { token: key.key });
  });

  it('changes a password only with the current one, and ends the other sessions', async () => {
    const user = await platform.user('password');
    const other = await expectStatus(200, 'POST', `${cp()}/auth/login`, {
      body: { email: user.email, password: userPassword },
    });
    const key = await newKey(user.token, {});
    const change = (currentPassword: string, newPassword: string) =>
      call('POST', `${cp()}/me/password`, { token: user.token, body: { currentPassword, newPassword } });

    refused(await change('not-the-password', 'a-brand-new-password'), 403, 'current_password_invalid', 'wrong');
    refused(await change(userPassword, 'short'), 400, 'validation_failed', 'a new password too short');
    await expectStatus(200, 'GET', `${cp()}/me`, { token: other.accessToken });

    const changed = await change(userPassword, 'a-brand-new-password');
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.sessionsEnded, 1);
    refused(await call('GET', `${cp()}/me`, { token: other.accessToken }), 401, 'invalid_token', 'the other session');
    await expectStatus(200, 'GET', `${cp()}/me`, { token: user.token });
    await expectStatus(200, 'GET', `${cp()}/me`, { token: key.key });
    const login = (password: string) => call('POST', `${cp()}/auth/login`, { body: { email: user.email, password } });
    refused(await login(userPassword), 401, 'invalid_credentials', 'the old password');
    assert.equal((await login('a-brand-new-password')).status, 200);
  });
});
