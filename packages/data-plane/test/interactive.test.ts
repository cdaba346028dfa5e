import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import {
  allowedWithCookie,
  isTopLevelNavigation,
  upgradeAllowedWithCookie,
} from '../src/interactive/fetch-metadata.ts';
import { parseInteractiveUrl } from '../src/interactive/gateway.ts';
import { IdleWatch } from '../src/interactive/idle.ts';
import { isAppPath } from '../src/interactive/launch.ts';
import { requestLogSerializer } from '../src/interactive/log.ts';
import { AppOrigins, defaultAppsTemplate } from '../src/interactive/origins.ts';
import { freeLoopbackPort, waitForPort } from '../src/interactive/port.ts';
import { forwardHeaders, responseHeaders, rewriteLocation, rewriteSetCookie } from '../src/interactive/proxy.ts';
import {
  cookieNames,
  digest,
  newSecret,
  readCookies,
  SessionSigner,
  secretPattern,
  setCookie,
  withoutOurCookies,
} from '../src/interactive/session.ts';

const runId = '3f2b8c1e-6a7d-4e2f-9b1a-0c5d7e9f1a2b';
const prefix = `/api/v1/interactive/${runId}`;
const target = { address: { host: '127.0.0.1', port: 40123 }, port: 40123, activity: () => {} };

describe('interactive URLs on the data plane’s own origin', () => {
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
});

describe('app origins: one per run, from a template', () => {
  it('builds each run’s origin, and tells a run’s Host from any other', () => {
    const apps = AppOrigins.parse('https://{run}.apps.eu-1.example.eu');
    assert.equal(apps.secure, true);
    assert.equal(apps.originOf(runId.toUpperCase()), `https://${runId}.apps.eu-1.example.eu`);
    assert.equal(apps.urlOf(runId, '/x?y=1'), `https://${runId}.apps.eu-1.example.eu/x?y=1`);
    assert.equal(apps.runOf(`${runId}.apps.eu-1.example.eu`), runId);
    assert.equal(apps.runOf(`${runId.toUpperCase()}.APPS.eu-1.example.eu:443`), runId, 'any case, any port');
    for (const other of [
      undefined,
      'apps.eu-1.example.eu',
      'eu-1.example.eu',
      `${runId}.apps.eu-1.example.eu.evil.example`,
      `x${runId}.apps.eu-1.example.eu`,
      `${runId}x.apps.eu-1.example.eu`,
      `a.${runId}.apps.eu-1.example.eu`,
      'not-a-run.apps.eu-1.example.eu',
      `[::1]:8081`,
    ]) {
      assert.equal(apps.runOf(other), undefined, String(other));
    }
    const dev = AppOrigins.parse('http://{run}.apps.localhost:8081/');
    assert.equal(dev.secure, false);
    assert.equal(dev.originOf(runId), `http://${runId}.apps.localhost:8081`);
    const label = AppOrigins.parse('https://app-{run}.example.eu');
    assert.equal(label.runOf(`app-${runId}.example.eu`), runId);
    assert.equal(label.runOf(`${runId}.example.eu`), undefined);
  });

  it('refuses a template that is not an origin with the run in its host name', () => {
    for (const bad of [
      'https://apps.example.eu',
      'https://{run}.{run}.example.eu',
      'ftp://{run}.example.eu',
      'https://apps.example.eu/{run}',
      'https://{run}.example.eu/apps',
      'https://{run}',
      'https://example.eu?x={run}',
      'not a url {run}',
    ]) {
      assert.throws(() => AppOrigins.parse(bad), Error, bad);
    }
  });

  it('defaults beside the public URL’s host, on *.apps.localhost for loopback, and not for an IP address', () => {
    assert.equal(defaultAppsTemplate('http://127.0.0.1:8081'), 'http://{run}.apps.localhost:8081');
    assert.equal(defaultAppsTemplate('http://localhost:9000'), 'http://{run}.apps.localhost:9000');
    assert.equal(defaultAppsTemplate('http://[::1]:8081'), 'http://{run}.apps.localhost:8081');
    assert.equal(defaultAppsTemplate('https://dp.eu-1.example.eu'), 'https://{run}.apps.dp.eu-1.example.eu');
    assert.equal(defaultAppsTemplate('http://10.0.0.5:8081'), undefined);
  });
});

describe('who may send a request with an app’s session cookie', () => {
  const origin = `http://${runId}.apps.localhost:8081`;
  const browser = (site: string, mode: string, dest: string, extra: Record<string, string> = {}) => ({
    'sec-fetch-site': site,
    'sec-fetch-mode': mode,
    'sec-fetch-dest': dest,
    ...extra,
  });

  it('its own pages, the address bar, and a link from anywhere; nothing else of another origin', () => {
    assert.ok(allowedWithCookie(browser('same-origin', 'cors', 'empty', { origin }), 'POST', origin));
    assert.ok(allowedWithCookie(browser('none', 'navigate', 'document'), 'GET', origin));
    assert.ok(allowedWithCookie(browser('cross-site', 'navigate', 'document'), 'GET', origin));
    assert.ok(allowedWithCookie(browser('same-site', 'navigate', 'document'), 'GET', origin));
    assert.ok(allowedWithCookie({}, 'DELETE', origin), 'no browser headers: not a page of another origin');
    const sibling = `http://00000000-0000-4000-8000-000000000000.apps.localhost:8081`;
    for (const [what, headers, method] of [
      ['another app’s fetch', browser('same-site', 'cors', 'empty', { origin: sibling }), 'GET'],
      ['another app’s script tag', browser('same-site', 'no-cors', 'script'), 'GET'],
      ['another app’s frame', browser('same-site', 'navigate', 'iframe'), 'GET'],
      ['another app’s form post', browser('same-site', 'navigate', 'document', { origin: sibling }), 'POST'],
      ['another site’s image', browser('cross-site', 'no-cors', 'image'), 'GET'],
      ['an old browser’s cross-origin write', { origin: sibling }, 'POST'],
      ['an old browser’s cross-origin read', { origin: sibling }, 'GET'],
    ] as const) {
      assert.equal(allowedWithCookie(headers, method, origin), false, what);
    }
  });

  it('WebSockets from the app’s own pages only', () => {
    assert.ok(upgradeAllowedWithCookie({ origin, 'sec-fetch-site': 'same-origin' }, origin));
    assert.ok(upgradeAllowedWithCookie({ origin }, origin));
    assert.equal(upgradeAllowedWithCookie({ origin: 'http://localhost:8080' }, origin), false);
    assert.equal(upgradeAllowedWithCookie({ 'sec-fetch-site': 'same-site' }, origin), false);
  });

  it('tells a page being opened (where a launch starts) from anything else', () => {
    assert.ok(isTopLevelNavigation(browser('cross-site', 'navigate', 'document'), 'GET'));
    assert.ok(isTopLevelNavigation({ accept: 'text/html,*/*' }, 'GET'), 'a browser without Fetch Metadata');
    assert.equal(isTopLevelNavigation(browser('same-origin', 'cors', 'empty'), 'GET'), false);
    assert.equal(isTopLevelNavigation(browser('cross-site', 'navigate', 'iframe'), 'GET'), false);
    assert.equal(isTopLevelNavigation(browser('none', 'navigate', 'document'), 'POST'), false);
    assert.equal(isTopLevelNavigation({ accept: 'application/json' }, 'GET'), false);
  });

  it('lands a launch on a path of the app’s origin only', () => {
    for (const path of ['/', '/lab/tree?x=1', '/é']) assert.ok(isAppPath(path), path);
    for (const path of ['//evil.example', '/\\evil.example', '/\t/evil.example', 'https://evil.example', '', 'x']) {
      assert.equal(isAppPath(path), false, path);
    }
    assert.equal(isAppPath(`/${'a'.repeat(2048)}`), false);
  });
});

describe('interactive proxy headers', () => {
  it('forwards the client’s headers without hop-by-hop ones, our cookies, our token or forged X-Forwarded-*', () => {
    const out = forwardHeaders(
      {
        host: `${runId}.apps.example:8081`,
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        authorization: 'Bearer ours',
        cookie: 'a=1; sov_session=secret; __Host-sov_launch=s; b=2',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-prefix': '/forged',
        accept: 'text/html',
      },
      { dropAuthorization: true, proto: 'https', clientAddress: '10.0.0.7', upgrade: false },
    );
    assert.deepEqual(out, {
      host: `${runId}.apps.example:8081`,
      cookie: 'a=1; b=2',
      accept: 'text/html',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': `${runId}.apps.example:8081`,
    });
    const appAuth = forwardHeaders(
      { authorization: 'Basic YTpi', cookie: 'sov_session=x', upgrade: 'websocket', connection: 'Upgrade' },
      { dropAuthorization: false, proto: 'http', clientAddress: undefined, upgrade: true },
    );
    assert.equal(appAuth.authorization, 'Basic YTpi', 'an app’s own credentials pass when ours came as a cookie');
    assert.equal(appAuth.cookie, undefined);
    assert.equal(appAuth.connection, 'Upgrade');
    assert.equal(appAuth.upgrade, 'websocket');
  });

  it('turns the app’s redirects to its own address into paths of its origin', () => {
    assert.equal(rewriteLocation('/login?next=%2F', target), '/login?next=%2F');
    assert.equal(rewriteLocation('http://127.0.0.1:40123/x', target), '/x');
    assert.equal(rewriteLocation('http://localhost:40123', target), '/');
    assert.equal(rewriteLocation('http://127.0.0.1:40123?a=1', target), '/?a=1');
    assert.equal(rewriteLocation('relative/page', target), 'relative/page');
    assert.equal(rewriteLocation('https://example.com/', target), 'https://example.com/');
  });

  it('keeps the app’s cookies on its own host, and never lets it set ours', () => {
    assert.equal(rewriteSetCookie('a=1; Path=/; HttpOnly'), 'a=1; Path=/; HttpOnly');
    assert.equal(rewriteSetCookie('a=1; path=/app; Domain=apps.example.eu; Secure'), 'a=1; path=/app; Secure');
    for (const ours of ['sov_session=forged; Path=/', '__Host-sov_session=f', '__host-SOV_LAUNCH=f', ' sov_launch=f']) {
      assert.equal(rewriteSetCookie(ours), undefined, ours);
    }
    const headers = responseHeaders(
      { 'set-cookie': ['sov_session=x', 'b=2; Domain=example.eu'], connection: 'close', 'content-type': 'text/plain' },
      target,
    );
    assert.deepEqual(headers, { 'set-cookie': ['b=2'], 'content-type': 'text/plain' });
  });

  it('never lets an app clear the cookies every app shares', () => {
    const cleared = (value: string) => responseHeaders({ 'clear-site-data': value }, target)['clear-site-data'];
    assert.equal(cleared('"cookies"'), undefined);
    assert.equal(cleared('"*"'), undefined);
    assert.equal(cleared('"Cookies", "cache"'), '"cache"');
    assert.equal(cleared('"storage","cookies" , "executionContexts"'), '"storage", "executionContexts"');
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

  it('names, reads, removes and sets our cookies: host-only, and __Host- over HTTPS', () => {
    assert.deepEqual(cookieNames(false), { session: 'sov_session', launch: 'sov_launch' });
    assert.deepEqual(cookieNames(true), { session: '__Host-sov_session', launch: '__Host-sov_launch' });
    assert.deepEqual(readCookies('a=1; sov_session=v.m; b=2; sov_session=w.n', 'sov_session'), ['v.m', 'w.n']);
    assert.deepEqual(readCookies('a=1', 'sov_session'), []);
    assert.equal(withoutOurCookies('sov_session=v'), undefined);
    assert.equal(withoutOurCookies('a=1;sov_session=v;  b=2; __Host-sov_launch=x'), 'a=1; b=2');
    assert.equal(
      setCookie('__Host-sov_session', 'v.m', 3600, true),
      '__Host-sov_session=v.m; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure',
    );
    assert.equal(setCookie('sov_launch', '', 0, false), 'sov_launch=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  });

  it('makes secrets of 256 bits, and states as their hashes', () => {
    const secret = newSecret();
    assert.match(secret, secretPattern);
    assert.notEqual(newSecret(), secret);
    assert.match(digest(secret), secretPattern);
    assert.notEqual(digest(secret), secret);
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
