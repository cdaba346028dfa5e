import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { flowTarget } from '@sovereign/server-kit/testing';
import { browse, type Opened } from '../support/apps.ts';
import { dumpDatabase } from '../support/dump.ts';
import { dropIntoRun } from '../support/inside.ts';
import { type Answer, call, expectStatus, Platform } from '../support/platform.ts';

const example = fileURLToPath(new URL('../../examples/interactive-echo/', import.meta.url));
const wsCanary = `ws-canary-${randomBytes(6).toString('hex')}`;
const bodyCanary = `body-canary-${randomBytes(6).toString('hex')}`;

/**
 * The example as it is, plus jobs that show the rest of the lifecycle: one that waits
 * for the test's word before it listens (so "running only once the port answers" is
 * seen, not guessed), one with a short idle limit, one that allows two runs, one that
 * dies before it listens, one that never listens, and a batch job.
 */
async function project(): Promise<Record<string, string>> {
  const manifest = await readFile(join(example, 'sovereign.yaml'), 'utf8');
  return {
    'sovereign.yaml': `${manifest.trimEnd()}
  - name: gated
    kind: interactive
    run: sh gate.sh
  - name: sleepy
    kind: interactive
    run: node server.mjs
    idle_timeout: 4s
  - name: pair
    kind: interactive
    run: node server.mjs
    max_running: 2
  - name: crash
    kind: interactive
    run: echo "cannot start"; exit 3
  - name: mute
    kind: interactive
    run: sleep 600
  - name: batch
    run: echo done
`,
    'server.mjs': await readFile(join(example, 'server.mjs'), 'utf8'),
    // A process of its own (not the jail's shell, which a test cannot tell from another
    // run's), carrying the run's environment, for the test to find the run by.
    'gate.sh': 'while [ ! -f "$HOME/go" ]; do sleep 0.1; done; exec node server.mjs\n',
  };
}

interface Upgrade {
  status: number;
  body?: any;
}

/** Asks for a WebSocket upgrade by hand, to read the status and problem of a refusal. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101 });
    });
    req.on('response', async (res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString();
      resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of a cookie a Set-Cookie header sets, and the header itself. */
function setCookieOf(page: Opened, name: string): { value: string; header: string } | undefined {
  const header = page.setCookies.find((c) => c.startsWith(`${name}=`));
  return header === undefined ? undefined : { value: header.slice(name.length + 1).split(';')[0] ?? '', header };
}

/** Opens a WebSocket with Node's own client, sends each message and collects each echo. */
async function echo(url: string, headers: Record<string, string>, messages: string[]): Promise<string[]> {
  // Node's WebSocket (undici) takes headers, which a browser's does not: a browser uses the cookie.
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers } as unknown as string[]);
  const answers: string[] = [];
  let next: ((text: string) => void) | undefined;
  ws.addEventListener('message', (event) => {
    answers.push(String(event.data));
    next?.(String(event.data));
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
  });
  for (const message of messages) {
    const answered = new Promise<string>((resolve) => {
      next = resolve;
    });
    ws.send(message);
    await answered;
  }
  ws.close();
  return answers;
}

const target = flowTarget();

describe(`interactive jobs, each on its own origin, real processes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let other: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let otherToken: string;
  let noScope: string;
  let jobs: Record<string, string>;
  let echoRun: { runId: string; url: string };
  let batchRunId: string;
  let dpUrl: string;
  /** A URL on a run's own origin, as `npm start` names it: `http://<runId>.apps.localhost:<port>`. */
  const app = (runId: string, path = '/') => `http://${runId}.apps.localhost:${new URL(dpUrl).port}${path}`;

  const status = async (runId: string) =>
    (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token })) as {
      status: string;
      reasonCode: string | null;
      exitCode: number | null;
      url: string | null;
    };
  /** How a run stands, said whole for a failure: its status, and what its data plane said meanwhile. */
  const explain = async (runId: string) => {
    const run = await status(runId);
    const said = platform
      .dp('us-1')
      .service.output()
      .split('\n')
      .filter((line) => line.includes(runId) || /"level":(40|50)/.test(line))
      .slice(-20);
    return `: it is ${run.status} (${run.reasonCode})\n${said.join('\n')}`;
  };
  const until = async (runId: string, wanted: string, timeoutMs = 30_000) => {
    await platform
      .waitFor(async () => (await status(runId)).status === wanted, `run ${runId} ${wanted}`, timeoutMs)
      .catch(async (error: Error) => {
        throw new Error(`${error.message}${await explain(runId)}`);
      });
    return status(runId);
  };
  const trigger = (job: string) =>
    expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token });

  /**
   * A browser's launch as the app's origin starts it: opening the app without a session
   * answers a launch cookie and the dashboard's URL with its state.
   */
  const startLaunch = async (runId: string, path = '/') => {
    const opened = await browse(app(runId, path));
    assert.equal(opened.status, 303, 'a browser opening the app without a session is sent to get one');
    const launch = setCookieOf(opened, 'sov_launch');
    assert.ok(launch !== undefined, 'with a launch cookie');
    const location = new URL(opened.location ?? '');
    return { launch, location, state: location.searchParams.get('state') ?? '' };
  };
  /** What the dashboard does next, as the user of `userToken`: a ticket bound to the browser's state. */
  const ticketFor = (runId: string, state: string, userToken = token, path?: string) =>
    call('POST', `${dpUrl}/api/v1/runs/${runId}/app/launch`, {
      token: userToken,
      body: { state, ...(path === undefined ? {} : { path }) },
    });

  before(async () => {
    platform = await Platform.start(target, {
      // One batch slot: batch runs of this suite start while apps are up, as apps are counted apart.
      dataplaneEnv: { SOV_INTERACTIVE_START_TIMEOUT_SECONDS: '10', SOV_KILL_GRACE_SECONDS: '2', SOV_CAPACITY: '1' },
    });
    t = await platform.tenant('us', 'apps');
    other = await platform.tenant('us', 'other');
    token = (await platform.scopedToken(t.token, t.workspace.workspaceId, ['interactive'])).token;
    otherToken = (await platform.scopedToken(other.token, other.workspace.workspaceId, ['interactive'])).token;
    noScope = (await platform.scopedToken(t.token, t.workspace.workspaceId, ['runs:logs'])).token;
    dpUrl = platform.dp('us-1').url;
    await platform.waitFor(
      async () =>
        (await call('GET', app('00000000-0000-4000-8000-000000000000'), { token: otherToken })).status === 404,
      'us-1 to host the other workspace',
    );
    ({ jobs } = await platform.deploy(t.token, t.workspace.workspaceId, await project()));
  });
  after(async () => {
    await platform?.stop();
  });

  it('starts the example, reports it running once its port answers, and gives its URL as metadata', async () => {
    const run = await trigger('echo');
    assert.equal(run.url, `${dpUrl}/api/v1/interactive/${run.runId}/`);
    const running = await until(run.runId, 'running');
    assert.equal(running.url, run.url);
    echoRun = { runId: run.runId, url: run.url };
    const hello = await call('GET', app(run.runId, '/hello'), { token });
    assert.equal(hello.status, 200);
    assert.equal(hello.body.message, 'hello from an interactive job');
  });

  it('is not running before its port answers: the proxy says it is starting, and the control plane says claimed', async () => {
    const run = await trigger('gated');
    let starting: Answer | undefined;
    await platform.waitFor(async () => {
      starting = await call('GET', app(run.runId, '/hello'), { token });
      return starting.status !== 404; // 404 until the data plane has claimed it
    }, 'the gated run to be claimed');
    assert.equal(starting?.status, 503);
    assert.equal(starting?.body.code, 'interactive_not_running');
    assert.equal(starting?.body.runStatus, 'starting');
    assert.equal(starting?.headers.get('retry-after'), '1');
    assert.equal((await status(run.runId)).status, 'claimed');
    await dropIntoRun(run.runId, 'go', '', 30_000, () => explain(run.runId));
    await until(run.runId, 'running');
    assert.equal((await call('GET', app(run.runId, '/hello'), { token })).status, 200);
    await expectStatus(200, 'POST', `${platform.cp}/runs/${run.runId}/cancel`, { token: t.token });
    await until(run.runId, 'cancelled');
  });

  it('proxies HTTP with a bearer token on the app’s origin: paths as they are, our token not forwarded, bodies streamed', async () => {
    const hello = await call('GET', app(echoRun.runId, '/hello?x=1'), { token });
    assert.equal(hello.body.path, '/hello?x=1', 'the app is asked for the path the client asked for');
    assert.equal(hello.body.basePath, '/');
    assert.equal(hello.body.forwardedHost, new URL(app(echoRun.runId)).host);
    assert.equal(hello.body.authorization, null, 'our token is not the app’s to see');
    assert.equal(hello.headers.get('set-cookie'), 'seen=1; Path=/; HttpOnly', 'the app’s cookies are its own');

    const big = `${bodyCanary}${'x'.repeat(3 * 1024 * 1024)}`;
    const echoed = await fetch(app(echoRun.runId, '/echo'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: big,
    });
    assert.equal(echoed.status, 200);
    assert.equal(await echoed.text(), big, 'a 3 MiB body goes there and back whole');

    const moved = await fetch(app(echoRun.runId, '/elsewhere'), {
      headers: { authorization: `Bearer ${token}` },
      redirect: 'manual',
    });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.get('location'), '/hello');

    const missing = await call('GET', app(echoRun.runId, '/nothing-here'), { token });
    assert.equal(missing.status, 404);
    assert.equal(missing.body, 'not found\n', 'the app’s own answers pass as they are');
  });

  it('sends the run’s URL on its data plane to the app’s origin, and serves no app there', async () => {
    for (const [path, to] of [
      [`/api/v1/interactive/${echoRun.runId}/`, '/'],
      [`/api/v1/interactive/${echoRun.runId}`, '/'],
      [`/api/v1/interactive/${echoRun.runId.toUpperCase()}/lab?sov_token=${token}&tab=2`, '/lab?tab=2'],
    ]) {
      const moved = await fetch(`${dpUrl}${path}`, {
        redirect: 'manual',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(moved.status, 308, path);
      assert.equal(moved.headers.get('location'), app(echoRun.runId, to), `${path}: no token in the new address`);
    }
    const posted = await call('POST', `${echoRun.url}echo`, { token, raw: 'x' });
    assert.equal(posted.status, 404, 'nothing of the app answers on the data plane’s origin');
  });

  it('serves an app’s origin with that app only, whatever the path', async () => {
    const pair = await trigger('pair');
    await until(pair.runId, 'running');
    for (const path of [
      `/api/v1/runs/${echoRun.runId}/logs`,
      '/api/v1/openapi.json',
      '/healthz',
      '/metrics',
      `/api/v1/interactive/${pair.runId}/hello`,
      `/api/v1/runs/${echoRun.runId}/app/launch`,
    ]) {
      const answer = await call('GET', app(echoRun.runId, path), { token });
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body, 'not found\n', `${path} is the echo app’s own 404, not the data plane’s`);
    }
    const hello = await call('GET', app(pair.runId, '/hello'), { token });
    assert.equal(hello.body.forwardedHost, new URL(app(pair.runId)).host, 'each origin reaches its own run');
    const stray = await call('GET', `http://apps.localhost:${new URL(dpUrl).port}/hello`, { token });
    assert.equal(stray.status, 404);
    assert.equal(stray.body.code, 'route_not_found', 'a host that names no run is the data plane’s own');
    await expectStatus(200, 'POST', `${platform.cp}/runs/${pair.runId}/cancel`, { token: t.token });
    await until(pair.runId, 'cancelled');
  });

  it('proxies a WebSocket echo with a bearer token', async () => {
    const large = `${wsCanary}-${'y'.repeat(70_000)}`;
    const answers = await echo(app(echoRun.runId, '/ws'), { authorization: `Bearer ${token}` }, [wsCanary, large]);
    assert.deepEqual(answers, [wsCanary, large]);
  });

  it('closes an open WebSocket once the token it was opened with is revoked', async () => {
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, ['interactive']);
    const headers = { authorization: `Bearer ${issued.token}` };
    const socket = new WebSocket(app(echoRun.runId, '/ws').replace(/^http/, 'ws'), { headers } as unknown as string[]);
    const closed = new Promise<void>((resolve) => socket.addEventListener('close', () => resolve(), { once: true }));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
    });
    const echoed = new Promise<string>((resolve) =>
      socket.addEventListener('message', (event) => resolve(String(event.data)), { once: true }),
    );
    socket.send('before');
    assert.equal(await echoed, 'before');
    await expectStatus(200, 'POST', `${platform.cp}/dataplane-tokens/${issued.tokenId}/revoke`, { token: t.token });
    await platform.waitFor(
      async () => (await call('GET', app(echoRun.runId, '/hello'), { headers })).status === 401,
      'the revocation to reach the data plane',
    );
    // Within a check of the connection (a second), long before anything else would end it.
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the WebSocket stayed open')), 5_000)),
    ]);
  });

  it('refuses without a token, with another workspace’s token, without the interactive scope, and a batch run', async () => {
    const url = app(echoRun.runId, '/hello');
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['no token', {}, 401, 'token_missing'],
      ['another workspace', { authorization: `Bearer ${otherToken}` }, 404, 'run_not_found'],
      ['no interactive scope', { authorization: `Bearer ${noScope}` }, 403, 'token_scope_missing'],
      ['not a token', { authorization: 'Bearer nonsense' }, 401, 'token_malformed'],
      ['a forged session', { cookie: 'sov_session=e30.AAAA' }, 401, 'interactive_session_invalid'],
    ];
    for (const [what, headers, code, problem] of cases) {
      const answer = await call('GET', url, { headers });
      assert.equal(answer.status, code, what);
      assert.equal(answer.body.code, problem, what);
      assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/, what);
      const ws = await upgrade(app(echoRun.runId, '/ws'), headers);
      assert.equal(ws.status, code, `${what} (WebSocket)`);
      assert.equal(ws.body.code, problem, `${what} (WebSocket)`);
    }
    const batch = await trigger('batch');
    await until(batch.runId, 'succeeded');
    batchRunId = batch.runId;
    assert.equal(batch.url, null, 'a batch run has no URL');
    const notInteractive = await call('GET', app(batch.runId), { token });
    assert.equal(notInteractive.status, 409);
    assert.equal(notInteractive.body.code, 'run_not_interactive');
    const unknown = await call('GET', `${dpUrl}/api/v1/interactive/not-a-run/`, { token });
    assert.equal(unknown.body.code, 'run_not_found');
    const elsewhere = await upgrade(`${dpUrl}/api/v1/workspaces`, { authorization: `Bearer ${token}` });
    assert.equal(elsewhere.status, 404, 'no path of the data plane’s own origin takes WebSocket upgrades');
  });

  it('opens in a browser: a launch ticket bound to the browser, redeemed once, becomes a host-only session cookie', async () => {
    const { launch, location, state } = await startLaunch(echoRun.runId, '/?tab=2');
    assert.match(launch.header, /^sov_launch=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
    assert.equal(`${location.origin}${location.pathname}`, `${platform.controlPlaneUrl}/runs/${echoRun.runId}/open`);
    assert.equal(state, createHash('sha256').update(launch.value).digest('base64url'), 'the state is its hash');
    assert.equal(location.searchParams.get('path'), '/?tab=2');

    const issued = await ticketFor(echoRun.runId, state, token, '/?tab=2');
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body.appUrl, app(echoRun.runId));
    assert.match(issued.body.url, new RegExp(`^${app(echoRun.runId, '/_sovereign/launch')}\\?ticket=[\\w-]{43}$`));
    assert.ok(Date.parse(issued.body.expiresAt) - Date.now() <= 61_000, 'valid a minute at most');

    // Another browser (its own launch cookie) cannot use it, and does not use it up.
    const stranger = await startLaunch(echoRun.runId);
    const elsewhere = await browse(issued.body.url, { cookie: `sov_launch=${stranger.launch.value}` });
    assert.equal(elsewhere.status, 401);
    assert.equal(elsewhere.body.code, 'interactive_ticket_invalid');
    const bare = await browse(issued.body.url);
    assert.equal(bare.status, 401, 'nor a browser with no launch cookie');
    const framed = await browse(issued.body.url, {
      'sec-fetch-dest': 'iframe',
      cookie: `sov_launch=${launch.value}`,
    });
    assert.equal(framed.status, 403, 'nor a frame: a launch is a page of its own');
    assert.equal(framed.body.code, 'interactive_cross_origin');

    const opened = await browse(issued.body.url, { cookie: `sov_launch=${launch.value}` });
    assert.equal(opened.status, 303);
    assert.equal(opened.location, '/?tab=2');
    const session = setCookieOf(opened, 'sov_session');
    assert.ok(session !== undefined);
    assert.match(session.header, /^sov_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    assert.doesNotMatch(session.header, /domain/i, 'host-only: no other host gets it');
    assert.equal(setCookieOf(opened, 'sov_launch')?.header, 'sov_launch=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    const again = await browse(issued.body.url, { cookie: `sov_launch=${launch.value}` });
    assert.equal(again.status, 401, 'a ticket opens once');
    assert.deepEqual(again.setCookies, []);
    const cookie = `sov_session=${session.value}`;

    // The app gets neither our cookies nor (with a cookie session) loses its own Authorization header.
    const hello = await call('GET', app(echoRun.runId, '/hello'), {
      headers: { cookie: `${cookie}; theirs=1; sov_launch=${launch.value}`, authorization: 'Basic YXBwOnVzZXI=' },
    });
    assert.equal(hello.status, 200);
    assert.equal(hello.body.cookie, 'theirs=1');
    assert.equal(hello.body.authorization, 'Basic YXBwOnVzZXI=', 'the app’s own credentials pass through');

    // A browser's WebSocket sends the cookie (it cannot send an Authorization header), from the app's own page.
    const own = { cookie, origin: app(echoRun.runId).slice(0, -1) };
    assert.deepEqual(await echo(app(echoRun.runId, '/ws'), own, ['via cookie']), ['via cookie']);
    const foreign = await upgrade(app(echoRun.runId, '/ws'), { cookie, origin: 'http://evil.localhost:1' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.code, 'interactive_cross_origin');
    const sibling = await call('POST', app(echoRun.runId, '/echo'), {
      raw: 'x',
      headers: { cookie, 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', origin: 'http://x.apps.localhost' },
    });
    assert.equal(sibling.status, 403, 'another app’s page cannot use this app’s cookie');
    assert.equal(sibling.body.code, 'interactive_cross_origin');

    // The cookie opens this run only; the ticket opened it for this user only.
    const pair = await trigger('pair');
    await until(pair.runId, 'running');
    const wrongRun = await call('GET', app(pair.runId, '/hello'), { headers: { cookie } });
    assert.equal(wrongRun.body.code, 'interactive_session_invalid');
    const pairLaunch = await startLaunch(pair.runId);
    const pairTicket = await ticketFor(pair.runId, pairLaunch.state);
    const crossed = await browse(pairTicket.body.url.replace(pair.runId, echoRun.runId), {
      cookie: `sov_launch=${pairLaunch.launch.value}`,
    });
    assert.equal(crossed.status, 401, 'a ticket opens the app it was issued for, on its origin only');
    await expectStatus(200, 'POST', `${platform.cp}/runs/${pair.runId}/cancel`, { token: t.token });
    await until(pair.runId, 'cancelled');

    // A ticket is issued as a bearer is checked, to a state and a path of the app's origin only.
    const fresh = await startLaunch(echoRun.runId);
    for (const [what, answer, code, problem] of [
      ['another workspace', await ticketFor(echoRun.runId, fresh.state, otherToken), 404, 'run_not_found'],
      ['no interactive scope', await ticketFor(echoRun.runId, fresh.state, noScope), 403, 'token_scope_missing'],
      ['a batch run', await ticketFor(batchRunId, fresh.state), 409, 'run_not_interactive'],
      ['a state that is none', await ticketFor(echoRun.runId, 'x'), 400, 'validation_failed'],
      ['another site', await ticketFor(echoRun.runId, fresh.state, token, '//evil.example/'), 400, 'validation_failed'],
    ] as const) {
      assert.equal(answer.status, code, what);
      assert.equal(answer.body.code, problem, what);
    }
    const get = await call('GET', `${dpUrl}/api/v1/runs/${echoRun.runId}/app/launch`, { token });
    assert.equal(get.status, 404, 'a ticket is asked for by POST only');

    // A session ends with the token it was opened with: revoked, it is refused on the next request.
    const ending = await platform.scopedToken(t.token, t.workspace.workspaceId, ['interactive']);
    const endingLaunch = await startLaunch(echoRun.runId);
    const endingTicket = await ticketFor(echoRun.runId, endingLaunch.state, ending.token);
    const endingOpened = await browse(endingTicket.body.url, { cookie: `sov_launch=${endingLaunch.launch.value}` });
    const endingCookie = `sov_session=${setCookieOf(endingOpened, 'sov_session')?.value}`;
    assert.equal((await call('GET', app(echoRun.runId, '/hello'), { headers: { cookie: endingCookie } })).status, 200);
    await expectStatus(200, 'POST', `${platform.cp}/dataplane-tokens/${ending.tokenId}/revoke`, { token: t.token });
    await platform.waitFor(
      async () =>
        (await call('GET', app(echoRun.runId, '/hello'), { headers: { cookie: endingCookie } })).body.code ===
        'token_revoked',
      'the session opened with a revoked token to be refused',
    );

    const output = platform.dp('us-1').service.output();
    assert.ok(!output.includes(token), 'the data plane never logs the token');
    assert.ok(!output.includes(issued.body.url.split('ticket=')[1]), 'nor a ticket');
    assert.ok(!output.includes(launch.value), 'nor a launch cookie');
  });

  it('runs one per job unless the manifest says otherwise: a second trigger names the running one', async () => {
    const again = await call('POST', `${platform.cp}/jobs/${jobs.echo}/runs`, { token: t.token });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'run_limit_reached');
    assert.equal(again.body.runId, echoRun.runId);
    assert.equal(again.body.url, echoRun.url);

    const first = await trigger('pair');
    const second = await trigger('pair');
    const third = await call('POST', `${platform.cp}/jobs/${jobs.pair}/runs`, { token: t.token });
    assert.equal(third.body.code, 'run_limit_reached', 'max_running: 2 allows two');
    for (const run of [first, second]) {
      await until(run.runId, 'running');
      assert.equal((await call('GET', app(run.runId, '/hello'), { token })).status, 200, 'each on its own port');
      await expectStatus(200, 'POST', `${platform.cp}/runs/${run.runId}/cancel`, { token: t.token });
    }
  });

  it('stops on cancel: the app is gone, the proxy says so, and the job may run again', async () => {
    await expectStatus(200, 'POST', `${platform.cp}/runs/${echoRun.runId}/cancel`, { token: t.token });
    const ended = await until(echoRun.runId, 'cancelled');
    assert.equal(ended.reasonCode, 'cancelled');
    const gone = await call('GET', app(echoRun.runId, '/hello'), { token });
    assert.equal(gone.status, 409);
    assert.equal(gone.body.code, 'interactive_not_running');
    assert.equal(gone.body.runStatus, 'cancelled');
    const ws = await upgrade(app(echoRun.runId, '/ws'), { authorization: `Bearer ${token}` });
    assert.equal(ws.body.code, 'interactive_not_running');
    const next = await trigger('echo');
    await until(next.runId, 'running');
    await expectStatus(200, 'POST', `${platform.cp}/runs/${next.runId}/cancel`, { token: t.token });
    await until(next.runId, 'cancelled');
  });

  it('stays up while used, and stops after its idle limit without requests (succeeded, idle_timeout)', async () => {
    const run = await trigger('sleepy');
    await until(run.runId, 'running');
    // Requests for longer than the 4 s idle limit keep it running.
    const useUntil = Date.now() + 6_000;
    while (Date.now() < useUntil) {
      assert.equal((await call('GET', app(run.runId, '/hello'), { token })).status, 200);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((await status(run.runId)).status, 'running');
    const ended = await until(run.runId, 'succeeded');
    assert.equal(ended.reasonCode, 'idle_timeout');
    assert.equal((await call('GET', app(run.runId, '/hello'), { token })).body.code, 'interactive_not_running');
  });

  it('fails with a reason code when the app ends before its port answers, or never answers', async () => {
    const crash = await trigger('crash');
    const crashed = await until(crash.runId, 'failed');
    assert.equal(crashed.reasonCode, 'exited_before_ready');
    assert.equal(crashed.exitCode, 3);
    assert.ok(!JSON.stringify(crashed).includes('cannot start'), 'the job’s words stay in the region');

    const mute = await trigger('mute');
    const silent = await until(mute.runId, 'failed', 60_000);
    assert.equal(silent.reasonCode, 'start_timeout');
  });

  it('keeps the app’s answers, frames and logs out of the control plane', async () => {
    const cpOutput = platform.controlPlane.output();
    await platform.controlPlane.stop('SIGTERM');
    try {
      const dump = await dumpDatabase(platform.controlPlaneDatabase);
      assert.ok(dump.includes(echoRun.runId), 'the dump holds the run’s metadata');
      for (const [what, value] of Object.entries({
        'an HTTP answer': 'hello from an interactive job',
        'a request body': bodyCanary,
        'a WebSocket frame': wsCanary,
        'a log line': 'echo listening on',
        'the token': token,
      })) {
        assert.ok(!dump.includes(value), `the control plane database holds no ${what}`);
        assert.ok(!cpOutput.includes(value), `the control plane logged no ${what}`);
      }
    } finally {
      await platform.startControlPlane();
    }
  });
});
