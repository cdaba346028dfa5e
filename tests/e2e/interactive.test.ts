import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { databaseTargets } from '@sovereign/protocol/testing';
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
    run: while [ ! -f "$HOME/go" ]; do sleep 0.1; done; exec node server.mjs
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

for (const target of databaseTargets()) {
  describe(`interactive jobs behind the data plane's proxy, real processes [${target.name}]`, () => {
    let platform: Platform;
    let t: Awaited<ReturnType<Platform['tenant']>>;
    let other: Awaited<ReturnType<Platform['tenant']>>;
    let token: string;
    let otherToken: string;
    let noScope: string;
    let jobs: Record<string, string>;
    let echoRun: { runId: string; url: string };
    let dpUrl: string;

    const status = async (runId: string) =>
      (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token })) as {
        status: string;
        reasonCode: string | null;
        exitCode: number | null;
        url: string | null;
      };
    const until = async (runId: string, wanted: string, timeoutMs = 30_000) => {
      await platform
        .waitFor(async () => (await status(runId)).status === wanted, `run ${runId} ${wanted}`, timeoutMs)
        .catch(async (error: Error) => {
          // Said whole: how the run ended instead, and what its data plane said meanwhile.
          const run = await status(runId);
          const said = platform
            .dp('us-1')
            .service.output()
            .split('\n')
            .filter((line) => line.includes(runId) || /"level":(40|50)/.test(line))
            .slice(-20);
          throw new Error(`${error.message}: it is ${run.status} (${run.reasonCode})\n${said.join('\n')}`);
        });
      return status(runId);
    };
    const trigger = (job: string) =>
      expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token });

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
          (
            await call('GET', `${dpUrl}/api/v1/interactive/00000000-0000-4000-8000-000000000000/`, {
              token: otherToken,
            })
          ).status === 404,
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
      const hello = await call('GET', `${run.url}hello`, { token });
      assert.equal(hello.status, 200);
      assert.equal(hello.body.message, 'hello from an interactive job');
    });

    it('is not running before its port answers: the proxy says it is starting, and the control plane says claimed', async () => {
      const run = await trigger('gated');
      let starting: Answer | undefined;
      await platform.waitFor(async () => {
        starting = await call('GET', `${run.url}hello`, { token });
        return starting.status !== 404; // 404 until the data plane has claimed it
      }, 'the gated run to be claimed');
      assert.equal(starting?.status, 503);
      assert.equal(starting?.body.code, 'interactive_not_running');
      assert.equal(starting?.body.runStatus, 'starting');
      assert.equal(starting?.headers.get('retry-after'), '1');
      assert.equal((await status(run.runId)).status, 'claimed');
      await dropIntoRun(run.runId, 'go');
      await until(run.runId, 'running');
      assert.equal((await call('GET', `${run.url}hello`, { token })).status, 200);
      await expectStatus(200, 'POST', `${platform.cp}/runs/${run.runId}/cancel`, { token: t.token });
      await until(run.runId, 'cancelled');
    });

    it('proxies HTTP with a bearer token: prefix stripped, our token not forwarded, bodies streamed, redirects and cookies kept under the run', async () => {
      const prefix = `/api/v1/interactive/${echoRun.runId}`;
      const hello = await call('GET', `${echoRun.url}hello?x=1`, { token });
      assert.equal(hello.body.path, '/hello?x=1', 'the app is asked for paths from /');
      assert.equal(hello.body.basePath, `${prefix}/`);
      assert.equal(hello.body.forwardedPrefix, prefix);
      assert.equal(hello.body.authorization, null, 'our token is not the app’s to see');
      assert.equal(hello.headers.get('set-cookie'), `seen=1; Path=${prefix}/; HttpOnly`);

      const big = `${bodyCanary}${'x'.repeat(3 * 1024 * 1024)}`;
      const echoed = await fetch(`${echoRun.url}echo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        body: big,
      });
      assert.equal(echoed.status, 200);
      assert.equal(await echoed.text(), big, 'a 3 MiB body goes there and back whole');

      const moved = await fetch(`${echoRun.url}elsewhere`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
      });
      assert.equal(moved.status, 302);
      assert.equal(moved.headers.get('location'), `${prefix}/hello`);

      const bare = await fetch(`${dpUrl}${prefix}`, { redirect: 'manual' });
      assert.equal(bare.status, 308, 'the run’s URL without its slash is sent to the one with it');
      assert.equal(bare.headers.get('location'), `${prefix}/`);

      const missing = await call('GET', `${echoRun.url}nothing-here`, { token });
      assert.equal(missing.status, 404);
      assert.equal(missing.body, 'not found\n', 'the app’s own answers pass as they are');
    });

    it('proxies a WebSocket echo with a bearer token', async () => {
      const large = `${wsCanary}-${'y'.repeat(70_000)}`;
      const answers = await echo(`${echoRun.url}ws`, { authorization: `Bearer ${token}` }, [wsCanary, large]);
      assert.deepEqual(answers, [wsCanary, large]);
    });

    it('refuses without a token, with another workspace’s token, without the interactive scope, and a batch run', async () => {
      const url = `${echoRun.url}hello`;
      const cases: Array<[string, Record<string, string>, number, string]> = [
        ['no token', {}, 401, 'token_missing'],
        ['another workspace', { authorization: `Bearer ${otherToken}` }, 404, 'run_not_found'],
        ['no interactive scope', { authorization: `Bearer ${noScope}` }, 403, 'token_scope_missing'],
        ['not a token', { authorization: 'Bearer nonsense' }, 401, 'token_malformed'],
        ['a forged session', { cookie: 'sov_interactive=e30.AAAA' }, 401, 'interactive_session_invalid'],
      ];
      for (const [what, headers, code, problem] of cases) {
        const answer = await call('GET', url, { headers });
        assert.equal(answer.status, code, what);
        assert.equal(answer.body.code, problem, what);
        assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/, what);
        const ws = await upgrade(`${echoRun.url}ws`, headers);
        assert.equal(ws.status, code, `${what} (WebSocket)`);
        assert.equal(ws.body.code, problem, `${what} (WebSocket)`);
      }
      const batch = await trigger('batch');
      await until(batch.runId, 'succeeded');
      assert.equal(batch.url, null, 'a batch run has no URL');
      const notInteractive = await call('GET', `${dpUrl}/api/v1/interactive/${batch.runId}/`, { token });
      assert.equal(notInteractive.status, 409);
      assert.equal(notInteractive.body.code, 'run_not_interactive');
      const unknown = await call('GET', `${dpUrl}/api/v1/interactive/not-a-run/`, { token });
      assert.equal(unknown.body.code, 'run_not_found');
      const elsewhere = await upgrade(`${dpUrl}/api/v1/workspaces`, { authorization: `Bearer ${token}` });
      assert.equal(elsewhere.status, 404, 'no other path takes WebSocket upgrades');
    });

    it('opens in a browser: the token in the URL becomes a session cookie for the run’s path, and leaves the URL and the logs', async () => {
      const prefix = `/api/v1/interactive/${echoRun.runId}`;
      const opened = await fetch(`${echoRun.url}?sov_token=${token}&tab=2`, { redirect: 'manual' });
      assert.equal(opened.status, 303);
      assert.equal(opened.headers.get('location'), `${prefix}/?tab=2`, 'the token is gone from the URL');
      const setCookie = opened.headers.get('set-cookie') ?? '';
      assert.match(
        setCookie,
        new RegExp(`^sov_interactive=[^;]+; Path=${prefix}/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`),
      );
      const cookie = setCookie.split(';')[0] ?? '';

      // The app gets neither our cookie nor (with a cookie session) loses its own Authorization header.
      const hello = await call('GET', `${echoRun.url}hello`, {
        headers: { cookie: `${cookie}; theirs=1`, authorization: 'Basic YXBwOnVzZXI=' },
      });
      assert.equal(hello.status, 200);
      assert.equal(hello.body.cookie, 'theirs=1');
      assert.equal(hello.body.authorization, 'Basic YXBwOnVzZXI=', 'the app’s own credentials pass through');

      // A browser's WebSocket sends the cookie (it cannot send an Authorization header).
      assert.deepEqual(await echo(`${echoRun.url}ws`, { cookie }, ['via cookie']), ['via cookie']);

      // The cookie opens this run only.
      const pair = await trigger('pair');
      await until(pair.runId, 'running');
      const wrongRun = await call('GET', `${pair.url}hello`, { headers: { cookie } });
      assert.equal(wrongRun.body.code, 'interactive_session_invalid');
      await expectStatus(200, 'POST', `${platform.cp}/runs/${pair.runId}/cancel`, { token: t.token });
      await until(pair.runId, 'cancelled');

      // The exchange checks the token as a bearer is checked.
      for (const [bad, problem] of [
        [otherToken, 'run_not_found'],
        [noScope, 'token_scope_missing'],
      ] as const) {
        const refused = await fetch(`${echoRun.url}?sov_token=${bad}`, { redirect: 'manual' });
        assert.equal(((await refused.json()) as { code: string }).code, problem);
        assert.equal(refused.headers.get('set-cookie'), null);
      }
      const posted = await call('POST', `${echoRun.url}echo?sov_token=${token}`, { raw: 'x' });
      assert.equal(posted.status, 400, 'a token in the URL is for opening a page, not for writes');

      assert.ok(!platform.dp('us-1').service.output().includes(token), 'the data plane never logs the token');
      // Nor the app's own paths: an app may put anything in its links (a job's secret in a callback URL).
      const appPath = `callback-${randomBytes(6).toString('hex')}`;
      const appRequests = () => platform.dp('us-1').service.output().split(`/interactive/${echoRun.runId}/`).length;
      const before = appRequests();
      await call('GET', `${echoRun.url}${appPath}/x?y=1`, { headers: { cookie } });
      await platform.waitFor(async () => appRequests() > before, 'the request in the data plane’s log (control)');
      assert.ok(!platform.dp('us-1').service.output().includes(appPath), 'the data plane never logs the app’s paths');
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
        assert.equal((await call('GET', `${run.url}hello`, { token })).status, 200, 'each on its own port');
        await expectStatus(200, 'POST', `${platform.cp}/runs/${run.runId}/cancel`, { token: t.token });
      }
    });

    it('stops on cancel: the app is gone, the proxy says so, and the job may run again', async () => {
      await expectStatus(200, 'POST', `${platform.cp}/runs/${echoRun.runId}/cancel`, { token: t.token });
      const ended = await until(echoRun.runId, 'cancelled');
      assert.equal(ended.reasonCode, 'cancelled');
      const gone = await call('GET', `${echoRun.url}hello`, { token });
      assert.equal(gone.status, 409);
      assert.equal(gone.body.code, 'interactive_not_running');
      assert.equal(gone.body.runStatus, 'cancelled');
      const ws = await upgrade(`${echoRun.url}ws`, { authorization: `Bearer ${token}` });
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
        assert.equal((await call('GET', `${run.url}hello`, { token })).status, 200);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.equal((await status(run.runId)).status, 'running');
      const ended = await until(run.runId, 'succeeded');
      assert.equal(ended.reasonCode, 'idle_timeout');
      assert.equal((await call('GET', `${run.url}hello`, { token })).body.code, 'interactive_not_running');
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
}
