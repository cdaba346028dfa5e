import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type { ScopedTokenResponse } from '@sovereign/contract/public';
import { DataPlaneClient, InsecureHttpError, inClear, isLoopbackHost, ScopedTokens } from '../src/index.ts';

describe('plain http only to this machine', () => {
  it('knows loopback: 127.0.0.0/8, ::1, localhost and names under it', () => {
    for (const url of [
      'http://127.0.0.1:8080',
      'http://127.1',
      'http://127.255.0.9/',
      'http://[::1]:8081',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost:8080',
      'http://LOCALHOST./',
      'http://run-1.apps.localhost:8081/',
      'https://eu-1.example.eu',
    ]) {
      assert.equal(inClear(url), false, url);
    }
    for (const url of [
      'http://192.0.2.2:8080',
      'http://10.0.0.1',
      'http://[fd00::2]:8080',
      'http://[::ffff:10.0.0.1]/',
      'http://localhost.example.com',
      'http://127.0.0.1.nip.io',
      'http://example.com',
    ]) {
      assert.equal(inClear(url), true, url);
    }
    assert.equal(isLoopbackHost('[::1]'), true);
  });

  // A real server on an address of this machine that is not loopback, standing for a data plane.
  const host = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal)?.address;

  describe('a data plane address from a token answer', {
    skip: host === undefined && 'no IPv4 address but loopback',
  }, () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.setHeader('content-type', 'application/json');
      res.end('{"data":[]}');
    });
    let url = '';
    before(async () => {
      server.listen(0, host);
      await once(server, 'listening');
      url = `http://${host}:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    const issuer = {
      dataplaneToken: async (): Promise<ScopedTokenResponse> => ({
        token: 'sov_dp_SECRET',
        tokenId: 't',
        expiresAt: new Date(Date.now() + 3600e3).toISOString(),
        scopes: ['variables:read'],
        dataplane: { dataplaneId: 'd', regionId: 'r', url },
      }),
    };
    const workspaceId = '00000000-0000-4000-8000-000000000003';

    it('plain http to another machine: InsecureHttpError naming it, and nothing sent', async () => {
      const dp = new DataPlaneClient(new ScopedTokens(issuer), workspaceId, ['variables:read']);
      await assert.rejects(dp.variables(), (error: unknown) => {
        assert.ok(error instanceof InsecureHttpError);
        assert.equal(error.url, url);
        assert.match(error.message, /^Refusing to send credentials to the data plane at http:\/\/.+ plain http/);
        return true;
      });
      assert.deepEqual(seen, []);
    });

    it('allowInsecureHttp: called, with its token', async () => {
      const dp = new DataPlaneClient(new ScopedTokens(issuer), workspaceId, ['variables:read'], {
        allowInsecureHttp: true,
      });
      assert.deepEqual(await dp.variables(), []);
      assert.deepEqual(seen, [`GET /api/v1/workspaces/${workspaceId}/variables Bearer sov_dp_SECRET`]);
    });
  });
});
