import assert from 'node:assert/strict';
import { it } from 'node:test';
import { adminEmail, eachDatabase, userPassword } from './support/harness.ts';

eachDatabase('sign-in, sessions and API keys', (h) => {
  it('signs in with the right password only, and says nothing about which part was wrong', async () => {
    const user = await h().user('login');
    const wrong = await h().request('POST', '/auth/login', {
      body: { email: user.email, password: 'not-the-password' },
    });
    const unknown = await h().request('POST', '/auth/login', {
      body: { email: 'nobody@example.test', password: userPassword },
    });
    for (const answer of [wrong, unknown]) {
      assert.equal(answer.status, 401);
      assert.equal(answer.body.code, 'invalid_credentials');
      assert.match(String(answer.headers['content-type']), /application\/problem\+json/);
    }
    assert.equal(wrong.body.detail, unknown.body.detail);
    const ok = await h().request('POST', '/auth/login', {
      body: { email: user.email.toUpperCase(), password: userPassword },
    });
    assert.equal(ok.status, 200);
    assert.match(ok.body.accessToken, /^sov_s_/);
    assert.ok(Date.parse(ok.body.expiresAt) > Date.now());
  });

  it('stores password hashes (scrypt), never passwords', async () => {
    const user = await h().user('hash');
    const [row] = await h().plane.deps.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE user_id = $1',
      [user.userId],
    );
    assert.match(row?.password_hash ?? '', /^scrypt\$/);
    assert.ok(!row?.password_hash.includes(userPassword));
  });

  it('answers /me with the user and their organizations', async () => {
    const user = await h().user('me');
    const organizationId = await h().organization(user.token, 'Acme');
    const me = await h().expect(200, 'GET', '/me', { token: user.token });
    assert.equal(me.userId, user.userId);
    assert.equal(me.email, user.email);
    assert.equal(me.isInstanceAdmin, false);
    assert.deepEqual(me.organizations, [{ organizationId, name: 'Acme', role: 'owner' }]);
  });

  it('ends a session on logout', async () => {
    const user = await h().user('logout');
    await h().expect(204, 'POST', '/auth/logout', { token: user.token });
    const after = await h().request('GET', '/me', { token: user.token });
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'invalid_token');
  });

  it('refuses an expired session', async () => {
    const user = await h().user('expiry');
    h().advanceClock(13 * 3600 * 1000);
    try {
      const answer = await h().request('GET', '/me', { token: user.token });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.code, 'invalid_token');
    } finally {
      h().advanceClock(-13 * 3600 * 1000);
    }
  });

  it('shows an API key once, stores only its hash, and accepts it until revoked', async () => {
    const user = await h().user('keys');
    const created = await h().expect(200, 'POST', '/api-keys', { token: user.token, body: { name: 'ci' } });
    assert.match(created.key, /^sov_pat_/);
    assert.equal(created.prefix, created.key.slice(0, 12));

    const listed = await h().expect(200, 'GET', '/api-keys', { token: user.token });
    assert.equal(listed.data.length, 1);
    assert.equal(listed.data[0].apiKeyId, created.apiKeyId);
    assert.equal('key' in listed.data[0], false, 'the key is shown once, at creation');

    const rows = await h().plane.deps.db.query<{ token_hash: string }>('SELECT token_hash FROM api_keys');
    assert.ok(rows.every((r) => r.token_hash !== created.key && !r.token_hash.includes(created.key.slice(8))));

    const me = await h().expect(200, 'GET', '/me', { token: created.key });
    assert.equal(me.userId, user.userId);
    const used = await h().expect(200, 'GET', '/api-keys', { token: user.token });
    assert.notEqual(used.data[0].lastUsedAt, null);

    await h().expect(204, 'DELETE', `/api-keys/${created.apiKeyId}`, { token: user.token });
    const refused = await h().request('GET', '/me', { token: created.key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'invalid_token');
  });

  it("refuses a key from its expiry on, by the control plane's clock", async () => {
    const user = await h().user('key-expiry');
    h().freezeClock();
    let advanced = 0;
    const advance = (ms: number) => {
      h().advanceClock(ms);
      advanced += ms;
    };
    try {
      const created = await h().expect(200, 'POST', '/api-keys', { token: user.token, body: { name: 'ci' } });
      const lifetime = Date.parse(created.expiresAt) - h().plane.deps.now().getTime();
      assert.equal(lifetime, 90 * 86_400_000, '90 days by default');
      advance(lifetime - 1);
      await h().expect(200, 'GET', '/me', { token: created.key });
      advance(1);
      const refused = await h().request('GET', '/me', { token: created.key });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'api_key_expired');
      // Listed still, so its user sees it ended, and when (signed in again: 90 days outlast a session).
      const token = await h().login(user.email, userPassword);
      const listed = await h().expect(200, 'GET', '/api-keys', { token });
      assert.equal(listed.data[0].expiresAt, created.expiresAt);
    } finally {
      h().unfreezeClock();
      h().advanceClock(-advanced);
    }
  });

  it('records who made and revoked keys, changed a password, disabled and enabled a user', async () => {
    const user = await h().user('audited');
    const key = await h().expect(200, 'POST', '/api-keys', { token: user.token, body: { name: 'ci' } });
    await h().expect(204, 'DELETE', `/api-keys/${key.apiKeyId}`, { token: user.token });
    await h().expect(200, 'POST', '/me/password', {
      token: user.token,
      body: { currentPassword: userPassword, newPassword: userPassword },
    });
    const admin = await h().expect(200, 'GET', '/me', { token: h().adminToken });
    await h().expect(200, 'POST', `/users/${user.userId}/disable`, { token: h().adminToken });
    await h().expect(200, 'POST', `/users/${user.userId}/enable`, { token: h().adminToken });
    const events = await h().plane.deps.db.query<{ actor_id: string; action: string; target_id: string }>(
      `SELECT actor_id, action, target_id FROM audit_events
        WHERE action IN ('api_key.create', 'api_key.revoke', 'user.password_change', 'user.disable', 'user.enable')
          AND (actor_id = $1 OR target_id = $1) ORDER BY audit_event_id`,
      [user.userId],
    );
    assert.deepEqual(
      events.map((e) => [e.action, e.actor_id, e.target_id]),
      [
        ['api_key.create', user.userId, key.apiKeyId],
        ['api_key.revoke', user.userId, key.apiKeyId],
        ['user.password_change', user.userId, user.userId],
        ['user.disable', admin.userId, user.userId],
        ['user.enable', admin.userId, user.userId],
      ],
    );
  });

  it('lets only an instance administrator create users', async () => {
    const user = await h().user('plain');
    const answer = await h().request('POST', '/users', {
      token: user.token,
      body: { email: 'someone@example.test', password: userPassword },
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'instance_admin_required');
    const taken = await h().request('POST', '/users', {
      token: h().adminToken,
      body: { email: adminEmail.toUpperCase(), password: userPassword },
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'email_taken');
  });

  it('opens sign-up when configured', async () => {
    const email = `${h().unique('signup')}@example.test`;
    const created = await h().expect(200, 'POST', '/auth/signup', { body: { email, password: userPassword } });
    assert.equal(created.email, email);
    assert.ok(await h().login(email, userPassword));
  });
});

eachDatabase(
  'closed sign-up',
  (h) => {
    it('refuses sign-up when it is closed', async () => {
      const answer = await h().request('POST', '/auth/signup', {
        body: { email: 'new@example.test', password: userPassword },
      });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.code, 'signup_disabled');
    });
  },
  { allowSignup: false },
);
