import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { InternalPaths, InternalRoutes, protocolVersion } from '@sovereign/contract';
import {
  ControlPlaneClient,
  ControlPlaneUnavailableError,
  UnexpectedAnswerError,
} from '../src/agent/control-plane-client.ts';

/**
 * What the data plane does with an answer its protocol does not describe: one from a
 * control plane of another version, or a page from a proxy in between. It is never acted
 * on; the call fails as the control plane being unavailable, which every caller retries.
 * The server here answers like such a proxy: a 200 whose body is whatever the test says.
 */
describe('the control plane client checks every answer against the protocol', () => {
  let server: Server;
  let baseUrl = '';
  const answers = new Map<string, { type: string; body: string }>();

  before(async () => {
    server = createServer((request, response) => {
      request.resume();
      const answer = answers.get(request.url ?? '') ?? { type: 'text/html', body: '<h1>Bad gateway</h1>' };
      response.writeHead(200, { 'content-type': answer.type }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const json = (body: unknown) => ({ type: 'application/json', body: JSON.stringify(body) });
  const client = () => new ControlPlaneClient({ baseUrl, clientId: randomUUID(), clientSecret: 'secret' });
  const revocations = { protocolVersion, after: 0, waitMs: 0 };

  it('takes an answer the protocol describes', async () => {
    answers.set(InternalPaths.token, json({ access_token: 'a.b.c', token_type: 'Bearer', expires_in: 900 }));
    answers.set(InternalPaths.revocations, json({ revokedTokens: [], through: 7 }));
    assert.deepEqual(await client().call(InternalRoutes.revocations, revocations), { revokedTokens: [], through: 7 });
  });

  it('refuses an answer of the wrong shape, naming the member at fault', async () => {
    answers.set(InternalPaths.token, json({ access_token: 'a.b.c', token_type: 'Bearer', expires_in: 900 }));
    answers.set(InternalPaths.revocations, json({ revokedTokens: [{ jti: 'x' }], through: 7 }));
    await assert.rejects(client().call(InternalRoutes.revocations, revocations), (error: unknown) => {
      assert.ok(error instanceof UnexpectedAnswerError, String(error));
      assert.ok(error instanceof ControlPlaneUnavailableError, 'retried as the control plane being unavailable');
      assert.match(error.message, /tokens\/revocations answered a body the protocol refuses \(\/revokedTokens\/0/);
      return true;
    });
  });

  it('refuses a page that is not JSON, for the token as for any call', async () => {
    answers.delete(InternalPaths.token);
    await assert.rejects(client().call(InternalRoutes.revocations, revocations), (error: unknown) => {
      assert.ok(error instanceof UnexpectedAnswerError, String(error));
      assert.match(error.message, /dataplanes\/token answered a body the protocol refuses/);
      return true;
    });
  });
});
