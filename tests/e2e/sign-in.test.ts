import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertProblem, flowTarget } from '@sovereign/server-kit/testing';
import { type Answer, adminPassword, expectStatus, Platform } from '../support/platform.ts';

/**
 * Sign-in is throttled per client and per client and account, never per account from
 * anywhere: a client guessing the administrator's password is throttled, and another
 * client still signs in with the right one. Each client is its own loopback address
 * (127.0.0.x): the control plane sees the address a connection comes from.
 */
const target = flowTarget();

describe(`sign-in throttling, real processes [${target.name}]`, () => {
  let platform: Platform;

  before(async () => {
    // The control plane's default budgets, as served.
    platform = await Platform.start(target);
  });
  after(async () => {
    await platform?.stop();
  });

  /** POST /auth/login from a connection whose source address is `from`. */
  function signIn(from: string, email: string, password: string): Promise<Answer> {
    const url = new URL(`${platform.cp}/auth/login`);
    const body = JSON.stringify({ email, password });
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          localAddress: from,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              if (typeof value === 'string') headers.set(name, value);
            }
            resolve({
              status: incoming.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString()),
              headers,
            });
          });
          incoming.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  it('throttles a client guessing the administrator’s password; another client signs in with it', async () => {
    const admin = 'admin@localhost';
    const guesser = '127.0.0.2';
    let throttled: Answer | undefined;
    for (let i = 0; i < 100 && throttled === undefined; i++) {
      const answer = await signIn(guesser, admin, `wrong-guess-${i}`);
      if (answer.status === 429) throttled = answer;
      else assertProblem(answer, 401, 'invalid_credentials', `guess ${i}`);
    }
    assert.ok(throttled !== undefined, 'the guessing client is throttled');
    assertProblem(throttled, 429, 'rate_limited', 'the guessing client');
    assert.ok(Number(throttled.headers.get('retry-after')) >= 1, 'with Retry-After');

    // Another client, which has not been guessing, signs in with the right password.
    const signedIn = await signIn('127.0.0.3', admin, adminPassword);
    assert.equal(signedIn.status, 200, `another client: ${JSON.stringify(signedIn.body)}`);
    const me = await expectStatus(200, 'GET', `${platform.cp}/me`, { token: signedIn.body.accessToken });
    assert.equal(me.email, admin);

    // The guessing client is still throttled, its wrong guesses and the right password alike.
    assertProblem(await signIn(guesser, admin, 'wrong-guess-again'), 429, 'rate_limited', 'guessing on');
    assertProblem(await signIn(guesser, admin, adminPassword), 429, 'rate_limited', 'the right password from it');
  });

  it('never throttles a client for signing in with the right password, however often', async () => {
    // More than both budgets (30 per client, 10 per client and account, per minute).
    for (let i = 0; i < 40; i++) {
      const answer = await signIn('127.0.0.4', 'admin@localhost', adminPassword);
      assert.equal(answer.status, 200, `sign-in ${i}: ${JSON.stringify(answer.body)}`);
    }
  });
});
