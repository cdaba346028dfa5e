import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InternalPaths } from '@sovereign/contract';
import { rateLimitClient } from '../src/auth/client-address.ts';
import { RateLimiter } from '../src/auth/rate-limit.ts';
import { configFromEnv, defaultConfig } from '../src/config.ts';
import { type Answer, onFlowDatabase, userPassword } from './support/harness.ts';
import { assertProblem } from './support/routes.ts';

/**
 * Sign-in and token endpoints spend from budgets per client address (and per account
 * from that address for wrong passwords, per user for scoped tokens, per data plane for
 * client credentials); beyond a budget they answer 429 problem documents with
 * Retry-After, and the budget refills over its window.
 */
const window = 60;
const limits = {
  windowSeconds: window,
  loginPerClient: 5,
  loginPerClientAndAccount: 3,
  tokensPerClient: 4,
  triggersPerWorkspace: 0,
};

/** A 429 rate_limited problem whose Retry-After header matches its retryAfterSeconds. */
function limited(answer: Answer, what: string): number {
  assertProblem(answer, 429, 'rate_limited', what);
  const seconds = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= window, `${what}: Retry-After ${seconds}`);
  assert.equal(answer.body.retryAfterSeconds, seconds, `${what}: retryAfterSeconds`);
  return seconds;
}

onFlowDatabase(
  'rate limits on sign-in and token endpoints',
  (h) => {
    // Each test starts with every budget refilled.
    const fresh = () => h().advanceClock(window * 1000);
    const login = (email: string, password: string, remoteAddress: string) =>
      h().request('POST', '/auth/login', { body: { email, password }, remoteAddress });

    it('limits wrong passwords for one account from one address, and never holds back another address', async () => {
      const user = await h().user('guessed');
      fresh();
      for (let i = 0; i < limits.loginPerClientAndAccount; i++) {
        assertProblem(await login(user.email, 'wrong-password', '10.1.0.1'), 401, 'invalid_credentials', `try ${i}`);
      }
      const refused = await login(user.email.toUpperCase(), userPassword, '10.1.0.1');
      const wait = limited(refused, 'the guessing address is out for the account, the right password too');
      // Another address signs in with the right password: nobody can lock the account out.
      assert.equal((await login(user.email, userPassword, '10.1.0.2')).status, 200, 'another address');
      limited(await login(user.email, userPassword, '10.1.0.1'), 'the guessing address is still out');
      // The guessing address may still sign in to another account: its own budget is not spent.
      const other = await h().user('other');
      assert.equal((await login(other.email, userPassword, '10.1.0.1')).status, 200, 'another account');

      h().advanceClock(wait * 1000);
      const after = await login(user.email, userPassword, '10.1.0.1');
      assert.equal(after.status, 200, `after Retry-After: ${after.text}`);
    });

    it('spends nothing on a right password: signing in often is not guessing', async () => {
      const user = await h().user('often');
      fresh();
      for (let i = 0; i < limits.loginPerClient * 3; i++) {
        assert.equal((await login(user.email, userPassword, '10.1.2.1')).status, 200, `sign-in ${i}`);
      }
      for (let i = 0; i < limits.loginPerClientAndAccount; i++) await login(user.email, 'wrong-password', '10.1.2.1');
      limited(await login(user.email, userPassword, '10.1.2.1'), 'wrong ones still count');
    });

    it('limits sign-in attempts from one client address across accounts', async () => {
      fresh();
      for (let i = 0; i < limits.loginPerClient; i++) {
        const answer = await login(`nobody-${i}@example.test`, 'whatever-password', '10.2.0.1');
        assertProblem(answer, 401, 'invalid_credentials', `attempt ${i}`);
      }
      limited(await login('nobody-else@example.test', 'whatever-password', '10.2.0.1'), 'the address is out');
      const elsewhere = await login('nobody-else@example.test', 'whatever-password', '10.2.0.2');
      assertProblem(elsewhere, 401, 'invalid_credentials', 'another address still may try');
    });

    it('counts an IPv6 client by its /64, and an IPv4 address written as IPv6 as that address', async () => {
      const user = await h().user('v6');
      fresh();
      // Any home line has a whole /64: a new address per guess must not be a new budget.
      for (let i = 1; i <= limits.loginPerClientAndAccount; i++) {
        const address = `2001:db8:7:1:${i.toString(16)}:${(i * 7919).toString(16)}::${i}`;
        assertProblem(await login(user.email, 'wrong-password', address), 401, 'invalid_credentials', address);
      }
      limited(await login(user.email, userPassword, '2001:DB8:7:1:ffff::1'), 'another address of the same /64');
      const next = await login(user.email, userPassword, '2001:db8:7:2::1');
      assert.equal(next.status, 200, `the next /64 is another client: ${next.text}`);

      fresh();
      for (let i = 0; i < limits.loginPerClient; i++) {
        const address = i % 2 === 0 ? '10.5.0.1' : '::ffff:10.5.0.1';
        assertProblem(
          await login(`nobody-${i}@example.test`, 'whatever', address),
          401,
          'invalid_credentials',
          address,
        );
      }
      limited(await login('nobody-else@example.test', 'whatever', '::ffff:a05:1'), 'the same IPv4 client');
    });

    it('limits scoped tokens per user and per client address', async () => {
      const t = await h().tenant('tokens');
      fresh();
      const issue = (token: string, remoteAddress: string) =>
        h().request('POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
          token,
          body: { scopes: ['runs:logs'] },
          remoteAddress,
        });
      for (let i = 0; i < limits.tokensPerClient; i++) {
        assert.equal((await issue(t.people.owner.token, `10.3.0.${i}`)).status, 200);
      }
      limited(await issue(t.people.owner.token, '10.3.0.99'), 'the user is out, from any address');
      assert.equal((await issue(t.people.admin.token, '10.3.0.99')).status, 200, 'another user is not');

      fresh();
      const people = [t.people.viewer, t.people.member, t.people.admin, t.people.owner];
      for (const person of people) assert.equal((await issue(person.token, '10.3.1.1')).status, 200);
      limited(await issue(t.people.viewer.token, '10.3.1.1'), 'the address is out, for any user');
    });

    it('limits client credential exchanges per data plane and per client address', async () => {
      const t = await h().tenant('credentials');
      fresh();
      const exchange = (clientSecret: string, remoteAddress: string, clientId = t.dataplane.clientId) =>
        h().request('POST', InternalPaths.token, {
          body: { client_id: clientId, client_secret: clientSecret },
          remoteAddress,
        });
      for (let i = 0; i < limits.tokensPerClient; i++) {
        assertProblem(await exchange('wrong-secret', `10.4.0.${i}`), 401, 'invalid_client_credentials', `guess ${i}`);
      }
      limited(await exchange(t.dataplane.clientSecret, '10.4.0.99'), 'the data plane is out, the right secret too');

      fresh();
      for (let i = 0; i < limits.tokensPerClient; i++) {
        await exchange('wrong-secret', '10.4.1.1', `00000000-0000-4000-8000-00000000000${i}`);
      }
      limited(await exchange(t.dataplane.clientSecret, '10.4.1.1'), 'the address is out');
      assert.equal((await exchange(t.dataplane.clientSecret, '10.4.1.2')).status, 200);
    });
  },
  { rateLimits: limits },
);

describe('the rate limiter', () => {
  it('keeps a nearly empty budget when new keys by the thousand fill its memory', () => {
    let now = 0;
    const limiter = new RateLimiter({ windowSeconds: 60, now: () => now, maxKeys: 100 });
    const guessed = { key: 'login:client-account:guessed', limit: 3 };
    for (let i = 0; i < 3; i++) limiter.take([guessed]);
    // A client making new keys (new accounts to guess): each spends one attempt of its own.
    for (let i = 0; i < 1_000; i++) {
      now += 1;
      limiter.take([{ key: `login:client-account:new-${i}`, limit: 3 }]);
    }
    assert.throws(() => limiter.take([guessed]), /Too many/i, 'the spent budget was forgotten, and refilled');
  });

  it('takes the client of an address as its IPv4 address or its IPv6 /64', () => {
    const cases: Array<[string, string]> = [
      ['192.0.2.7', '192.0.2.7'],
      ['::ffff:192.0.2.7', '192.0.2.7'],
      ['::FFFF:c000:207', '192.0.2.7'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:0DB8:0000:0000:ffff:1:2:3', '2001:db8:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['2001:db8:1:2:3:4:192.0.2.1', '2001:db8:1:2::/64'],
      ['::1', '0:0:0:0::/64'],
      ['not an address', 'not an address'],
    ];
    for (const [ip, client] of cases) assert.equal(rateLimitClient(ip), client, ip);
  });
});

describe('rate limit settings', () => {
  it('are on by default in a served control plane, and set by SOV_* variables', () => {
    assert.deepEqual(configFromEnv({}).rateLimits, {
      windowSeconds: 60,
      loginPerClient: 30,
      loginPerClientAndAccount: 10,
      tokensPerClient: 300,
      triggersPerWorkspace: 600,
    });
    assert.deepEqual(
      configFromEnv({
        SOV_RATE_LIMIT_WINDOW_SECONDS: '10',
        SOV_LOGIN_LIMIT_PER_CLIENT: '0',
        SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT: '2',
        SOV_TOKEN_LIMIT_PER_CLIENT: '7',
      }).rateLimits,
      {
        windowSeconds: 10,
        loginPerClient: 0,
        loginPerClientAndAccount: 2,
        tokensPerClient: 7,
        triggersPerWorkspace: 600,
      },
    );
    assert.throws(
      () => configFromEnv({ SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT: 'many' }),
      /SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT/,
    );
    // The budget per account from anywhere is gone: setting it is an error, not silently ignored.
    assert.throws(() => configFromEnv({ SOV_LOGIN_LIMIT_PER_ACCOUNT: '10' }), /SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT/);
    assert.equal(defaultConfig().rateLimits.loginPerClient, 0, 'off for in-process suites');
  });

  it('keeps its memory bounded, and 0 means unlimited', () => {
    let now = 0;
    const limiter = new RateLimiter({ windowSeconds: 1, now: () => now, maxKeys: 3 });
    for (let i = 0; i < 10; i++) limiter.take([{ key: `k${i}`, limit: 1 }]);
    // Only the 3 newest keys are remembered: an old key has its budget back, a new one has not.
    limiter.take([{ key: 'k0', limit: 1 }]);
    assert.throws(() => limiter.take([{ key: 'k0', limit: 1 }]), /Too many requests/);
    now += 1000;
    limiter.take([{ key: 'k0', limit: 1 }]);
    for (let i = 0; i < 100; i++) limiter.take([{ key: 'free', limit: 0 }]);
  });
});
