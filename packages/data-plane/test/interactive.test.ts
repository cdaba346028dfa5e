import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { parseInteractiveUrl } from '../src/interactive/gateway.ts';
import { IdleWatch } from '../src/interactive/idle.ts';
import { requestLogSerializer } from '../src/interactive/log.ts';
import { freeLoopbackPort, waitForPort } from '../src/interactive/port.ts';
import {
  forwardHeaders,
  responseHeaders,
  rewriteLocation,
  rewriteSetCookie,
  upstreamPath,
} from '../src/interactive/proxy.ts';
import { readCookie, SessionSigner, sessionSetCookie, withoutCookie } from '../src/interactive/session.ts';

const runId = '3f2b8c1e-6a7d-4e2f-9b1a-0c5d7e9f1a2b';
const prefix = `/api/v1/interactive/${runId}`;
const strip = {
  address: { host: '127.0.0.1', port: 40123 },
  port: 40123,
  prefix,
  stripPrefix: true,
  activity: () => {},
};
const keep = { ...strip, stripPrefix: false };

describe('interactive URLs', () => {
  it('splits a run’s URL into its id, the rest of the path and the query', () => {
    assert.deepEqual(parseInteractiveUrl(`${prefix}/lab/tree?x=1&y=%20`), {
      runId,
      segment: runId,
      rest: '/lab/tree',
      query: 'x=1&y=%20',
    });
    assert.deepEqual(parseInteractiveUrl(`${prefix}`), { runId, segment: runId, rest: '', query: '' });
    assert.equal(parseInteractiveUrl(`/api/v1/interactive/${runId.toUpperCase()}/`)?.runId, runId);
    for (const other of ['/api/v1/interactive/', '/api/v1/interactive/nope/', '/api/v1/runs/x', `/x${prefix}/`]) {
      assert.equal(parseInteractiveUrl(other), undefined, other);
    }
  });

  it('asks the app for the path without the prefix, or whole when the app serves under it', () => {
    assert.equal(upstreamPath(strip, '/', ''), '/');
    assert.equal(upstreamPath(strip, '/a/b', 'q=1'), '/a/b?q=1');
    assert.equal(upstreamPath(keep, '/a', ''), `${prefix}/a`);
  });
});

describe('interactive proxy headers', () => {
  it('forwards the client’s headers without hop-by-hop ones, our cookie, our token or forged X-Forwarded-*', () => {
    const out = forwardHeaders(
      {
        host: 'dp.example:8081',
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        authorization: 'Bearer ours',
        cookie: 'a=1; sov_interactive=secret; b=2',
        'x-forwarded-for': '6.6.6.6',
        accept: 'text/html',
      },
      { dropAuthorization: true, prefix, proto: 'https', clientAddress: '10.0.0.7', upgrade: false },
    );
    assert.deepEqual(out, {
      host: 'dp.example:8081',
      cookie: 'a=1; b=2',
      accept: 'text/html',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'dp.example:8081',
      'x-forwarded-prefix': prefix,
    });
    const appAuth = forwardHeaders(
      { authorization: 'Basic YTpi', cookie: 'sov_interactive=x', upgrade: 'websocket', connection: 'Upgrade' },
      { dropAuthorization: false, prefix, proto: 'http', clientAddress: undefined, upgrade: true },
    );
    assert.equal(appAuth.authorization, 'Basic YTpi', 'an app’s own credentials pass when ours came as a cookie');
    assert.equal(appAuth.cookie, undefined);
    assert.equal(appAuth.connection, 'Upgrade');
    assert.equal(appAuth.upgrade, 'websocket');
  });

  it('moves the app’s redirects under the run', () => {
    assert.equal(rewriteLocation('/login?next=%2F', strip), `${prefix}/login?next=%2F`);
    assert.equal(rewriteLocation('http://127.0.0.1:40123/x', strip), `${prefix}/x`);
    assert.equal(rewriteLocation('http://localhost:40123', strip), `${prefix}/`);
    assert.equal(rewriteLocation('http://127.0.0.1:40123?a=1', strip), `${prefix}/?a=1`);
    assert.equal(rewriteLocation('relative/page', strip), 'relative/page');
    assert.equal(rewriteLocation('//cdn.example/x', strip), '//cdn.example/x');
    assert.equal(rewriteLocation('https://example.com/', strip), 'https://example.com/');
    assert.equal(rewriteLocation(`${prefix}/lab`, keep), `${prefix}/lab`);
    assert.equal(rewriteLocation(`http://127.0.0.1:40123${prefix}/lab`, keep), `${prefix}/lab`);
  });

  it('keeps the app’s cookies on the run’s path, and never lets it set ours', () => {
    assert.equal(rewriteSetCookie('a=1; Path=/; HttpOnly', strip), `a=1; Path=${prefix}/; HttpOnly`);
    assert.equal(
      rewriteSetCookie('a=1; path=/app; Domain=example.com; Secure', strip),
      `a=1; Path=${prefix}/app; Secure`,
    );
    assert.equal(rewriteSetCookie('a=1', strip), `a=1; Path=${prefix}/`);
    assert.equal(rewriteSetCookie(`a=1; Path=${prefix}/lab`, keep), `a=1; Path=${prefix}/lab`);
    assert.equal(
      rewriteSetCookie('a=1; Path=/api/v1/interactive/another-run/', keep),
      `a=1; Path=${prefix}/`,
      'no cookies for another run’s app',
    );
    assert.equal(rewriteSetCookie('sov_interactive=forged; Path=/', strip), undefined);
    const headers = responseHeaders(
      { 'set-cookie': ['sov_interactive=x', 'b=2'], connection: 'close', 'content-type': 'text/plain' },
      strip,
    );
    assert.deepEqual(headers, { 'set-cookie': [`b=2; Path=${prefix}/`], 'content-type': 'text/plain' });
  });

  it('logs an interactive URL only as far as its run: never the app’s path or query', () => {
    const entry = (url: string) =>
      requestLogSerializer({
        method: 'GET',
        url,
        headers: { host: 'dp' },
        socket: { remoteAddress: '127.0.0.1', remotePort: 1 },
      } as never);
    assert.equal(entry(`${prefix}/?sov_token=eyJ.secret`).url, `${prefix}/…`);
    assert.equal(entry(`${prefix}/callback/sk-live-secret/x?y=1`).url, `${prefix}/…`);
    assert.equal(entry(`${prefix}?sov_token=eyJ.secret`).url, `${prefix}/…`);
    assert.equal(entry(`${prefix}/`).url, `${prefix}/`);
    assert.equal(entry(prefix).url, prefix);
    assert.equal(entry('/api/v1/runs/x/logs?follow=true').url, '/api/v1/runs/x/logs?follow=true');
  });
});

describe('interactive sessions', () => {
  const signer = new SessionSigner(randomBytes(32));
  const session = { run: runId, ws: 'w', sub: 'u', jti: 'j', exp: Math.floor(Date.now() / 1000) + 60 };

  it('reads back what it signed, and nothing else', () => {
    const value = signer.sign(session);
    assert.deepEqual(signer.read(value), session);
    const [body, mac] = value.split('.');
    const tampered = Buffer.from(JSON.stringify({ ...session, run: 'another' })).toString('base64url');
    assert.equal(signer.read(`${tampered}.${mac}`), undefined, 'a changed claim breaks the signature');
    assert.equal(new SessionSigner(randomBytes(32)).read(value), undefined, 'another key does not read it');
    assert.equal(signer.read(`${body}`), undefined);
    assert.equal(signer.read(`${value}.x`), undefined);
    assert.equal(signer.read('garbage'), undefined);
    assert.equal(signer.read(signer.sign({ ...session, exp: session.exp - 120 })), undefined, 'expired');
  });

  it('reads, removes and sets the cookie', () => {
    assert.equal(readCookie('a=1; sov_interactive=v.m; b=2', 'sov_interactive'), 'v.m');
    assert.equal(readCookie('a=1', 'sov_interactive'), undefined);
    assert.equal(withoutCookie('sov_interactive=v', 'sov_interactive'), undefined);
    assert.equal(withoutCookie('a=1;sov_interactive=v;  b=2', 'sov_interactive'), 'a=1; b=2');
    assert.equal(
      sessionSetCookie('v.m', `${prefix}/`, 3600, true),
      `sov_interactive=v.m; Path=${prefix}/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure`,
    );
  });
});

describe('interactive readiness and idleness', () => {
  it('waits for the port to answer, and says so when the process ends first or time runs out', async () => {
    const port = await freeLoopbackPort();
    const never = new Promise<never>(() => {});
    const server = createServer((socket) => socket.destroy());
    setTimeout(() => server.listen(port, '127.0.0.1'), 200);
    assert.deepEqual(await waitForPort(port, { exited: never, timeoutMs: 20_000 }), { ready: true, host: '127.0.0.1' });
    server.close();
    await once(server, 'close');

    const exited = await waitForPort(await freeLoopbackPort(), { exited: Promise.resolve(), timeoutMs: 20_000 });
    assert.deepEqual(exited, { ready: false, why: 'exited' });
    const silent = await waitForPort(await freeLoopbackPort(), { exited: never, timeoutMs: 300 });
    assert.deepEqual(silent, { ready: false, why: 'timeout' });
  });

  it('calls idle once nothing happened for the limit, and not while there is traffic', async () => {
    let idle = 0;
    const watch = new IdleWatch(600, () => {
      idle += 1;
    });
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 100));
      watch.touch();
    }
    assert.equal(idle, 0, 'traffic for twice the limit keeps it up');
    while (idle === 0) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(idle, 1, 'called once');
    const stopped = new IdleWatch(50, () => {
      idle += 1;
    });
    stopped.stop();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(idle, 1, 'a stopped watch never calls');
  });
});
