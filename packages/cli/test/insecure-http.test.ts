import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sov } from '../../../tests/support/cli.ts';

/**
 * Credentials never travel in clear to another machine: `sov` refuses a plain-http
 * control plane (--api, SOV_API_URL, the profile) or data plane (handed out with a scoped
 * token) that is not loopback before it sends anything there, unless --insecure-http or
 * SOV_ALLOW_INSECURE_HTTP=1 says otherwise. The servers here are real, on an address of
 * this machine that is not loopback, and record every request that reaches them.
 */

/** An address of this machine that is not loopback, as a URL host; undefined when it has none. */
function outwardHost(): string | undefined {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const v4 = addresses.find((a) => a.family === 'IPv4' && !a.internal);
  if (v4 !== undefined) return v4.address;
  // A link-local IPv6 address needs its zone to be reached: not those.
  const v6 = addresses.find((a) => a.family === 'IPv6' && !a.internal && !a.address.startsWith('fe80'));
  return v6 === undefined ? undefined : `[${v6.address}]`;
}

interface Seen {
  method: string;
  url: string;
  authorization: string | null;
  body: string;
}

const ids = {
  user: '00000000-0000-4000-8000-000000000001',
  org: '00000000-0000-4000-8000-000000000002',
  workspace: '00000000-0000-4000-8000-000000000003',
  region: '00000000-0000-4000-8000-000000000004',
  dataplane: '00000000-0000-4000-8000-000000000005',
};
const password = 'hunter2-secret-password';
const session = 'sov_s_SECRET_SESSION';
const apiKey = 'sov_k_SECRET_API_KEY';
const scopedToken = 'sov_dp_SECRET_SCOPED_TOKEN';
const now = new Date().toISOString();
const inAnHour = new Date(Date.now() + 3600e3).toISOString();

/** A fake plane on `host`: answers `answer(req)` as JSON (404 for undefined), and records each request. */
async function fakeServer(host: string, answer: (method: string, path: string) => unknown) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const method = req.method ?? '';
      const url = req.url ?? '';
      seen.push({ method, url, authorization: req.headers.authorization ?? null, body });
      const value = answer(method, url.split('?')[0] ?? '');
      res.setHeader('content-type', 'application/json');
      if (value === undefined) res.statusCode = 404;
      res.end(JSON.stringify(value ?? { code: 'not_found' }));
    });
  });
  server.listen(0, host.replace(/^\[(.*)\]$/, '$1'));
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { seen, server, url: `http://${host}:${port}` };
}

/** What a control plane answers to `sov login`, `sov whoami` and a data plane token. */
function controlPlaneAnswers(dataplaneUrl?: string) {
  return (method: string, path: string): unknown => {
    const route = `${method} ${path.replace('/api/public/v1', '')}`;
    if (route === 'POST /auth/login') return { accessToken: session, expiresAt: inAnHour };
    if (route === 'GET /me')
      return {
        userId: ids.user,
        email: 'me@example.com',
        isInstanceAdmin: false,
        apiKey: null,
        organizations: [{ organizationId: ids.org, name: 'o', role: 'owner' }],
      };
    if (route === 'GET /workspaces') return { data: [], nextCursor: null };
    if (route === `GET /workspaces/${ids.workspace}`)
      return {
        workspaceId: ids.workspace,
        name: 'w',
        organizationId: ids.org,
        regionId: ids.region,
        dataplaneId: ids.dataplane,
        dataResidency: 'eu',
        maxConcurrentRuns: null,
        createdAt: now,
        updatedAt: now,
        movedTo: null,
        movedFrom: null,
      };
    if (route === `POST /workspaces/${ids.workspace}/dataplane-token`)
      return {
        token: scopedToken,
        tokenId: 'tok-1',
        expiresAt: inAnHour,
        scopes: ['variables:read'],
        dataplane: { dataplaneId: ids.dataplane, regionId: ids.region, url: dataplaneUrl ?? null },
      };
    return undefined;
  };
}

const host = outwardHost();

describe('sov and plain http to another machine', {
  skip: host === undefined && 'this machine has no address but loopback',
}, () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  const config = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sov-insecure-'));
    dirs.push(dir);
    return dir;
  };
  let outward: Awaited<ReturnType<typeof fakeServer>>;

  before(async () => {
    outward = await fakeServer(host as string, controlPlaneAnswers());
    servers.push(outward.server);
  });
  after(async () => {
    for (const server of servers) server.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  const sentNothing = (seen: Seen[]) => {
    const leaked = seen.filter((s) =>
      [password, session, apiKey, scopedToken].some((secret) => `${s.authorization} ${s.body}`.includes(secret)),
    );
    assert.deepEqual(leaked, [], 'no request carried the password or a token');
    assert.deepEqual(seen, [], 'no request reached the plain-http server at all');
  };

  it('login with --api http://<not loopback>: refused before the password is sent, exit 2, naming the URL and the way out', async () => {
    outward.seen.length = 0;
    const result = await sov(
      await config(),
      ['login', '--api', outward.url, '--email', 'me@example.com', '--password-stdin'],
      { input: password },
    );
    sentNothing(outward.seen);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /^Error: Refusing to send credentials to the control plane at http:\/\/.+: plain http/m,
    );
    assert.ok(result.stderr.includes(outward.url), result.stderr);
    assert.match(result.stderr, /--insecure-http.*SOV_ALLOW_INSECURE_HTTP=1/);
  });

  it('SOV_TOKEN with SOV_API_URL http://<not loopback>: refused before the API key is sent', async () => {
    outward.seen.length = 0;
    const result = await sov(await config(), ['whoami'], { env: { SOV_API_URL: outward.url, SOV_TOKEN: apiKey } });
    sentNothing(outward.seen);
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.includes(outward.url), result.stderr);
  });

  it('--insecure-http signs in over plain http all the same, and SOV_ALLOW_INSECURE_HTTP=1 uses the saved profile', async () => {
    outward.seen.length = 0;
    const dir = await config();
    const login = await sov(
      dir,
      ['login', '--insecure-http', '--api', outward.url, '--email', 'me@example.com', '--password-stdin'],
      { input: password },
    );
    assert.equal(login.code, 0, login.stderr);
    assert.ok(
      outward.seen.some((s) => s.body.includes(password)),
      'the password went, as asked',
    );

    // The profile now holds the http URL: refused again without the opt-out, allowed with it.
    const refused = await sov(dir, ['whoami']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.ok(refused.stderr.includes(outward.url), refused.stderr);
    const allowed = await sov(dir, ['whoami'], { env: { SOV_ALLOW_INSECURE_HTTP: '1' } });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /me@example\.com/);
  });

  it('logout of a profile on plain http forgets the session here without sending it', async () => {
    const dir = await config();
    await sov(
      dir,
      ['login', '--insecure-http', '--api', outward.url, '--email', 'me@example.com', '--password-stdin'],
      {
        input: password,
      },
    );
    outward.seen.length = 0;
    const result = await sov(dir, ['logout']);
    sentNothing(outward.seen);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Refusing to send credentials.*only forgotten here/);
  });

  it('a data plane handed out on plain http to another machine: refused before the scoped token is sent; --insecure-http calls it', async () => {
    const dataPlane = await fakeServer(host as string, (method, path) =>
      method === 'GET' && path === `/api/v1/workspaces/${ids.workspace}/variables` ? { data: [] } : undefined,
    );
    servers.push(dataPlane.server);
    const controlPlane = await fakeServer('127.0.0.1', controlPlaneAnswers(dataPlane.url));
    servers.push(controlPlane.server);
    const args = ['--api', controlPlane.url, '--workspace', ids.workspace, 'vars', 'list'];
    const env = { SOV_TOKEN: apiKey };

    const refused = await sov(await config(), args, { env });
    sentNothing(dataPlane.seen);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /Refusing to send credentials to the data plane at http:\/\//);
    assert.ok(refused.stderr.includes(dataPlane.url), refused.stderr);
    assert.match(refused.stderr, /--insecure-http/);

    const allowed = await sov(await config(), ['--insecure-http', ...args], { env });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(
      dataPlane.seen.map((s) => s.authorization),
      [`Bearer ${scopedToken}`],
    );
  });
});
