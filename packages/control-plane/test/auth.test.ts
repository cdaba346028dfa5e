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
