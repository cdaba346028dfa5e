import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { databaseTargets } from '@sovereign/server-kit/testing';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { appUrlOf } from '../support/apps.ts';
import { alive, runPids } from '../support/inside.ts';
import { type OtherHost, otherHostUnavailable, startOtherHost } from '../support/netns.ts';
import {
  call,
  type DataPlaneProcess,
  dataScopes,
  expectStatus,
  type InstanceProcess,
  Platform,
} from '../support/platform.ts';

/**
 * Two instances of one data plane as two hosts: each with its own port and its own
 * directories (data, work, jails, SOV_HOME under roots of their own), the second in a
 * network namespace of its own where the machine allows (root), reaching the control
 * plane, PostgreSQL and the bucket only through forwarders; sharing only the region's
 * PostgreSQL and its bucket (a real S3 protocol server on loopback), and one public URL
 * (a load balancer's). A deployment uploaded through one runs on the other; a run's logs
 * and outputs are read through either; an instance killed outright mid-run loses nothing:
 * its attempt ends lost with its logs so far, the retry runs on the survivor, and the
 * survivor needs nothing from the dead one's disk, which is deleted.
 */

const marker = 'INSTANCES-7d2f';

const project = {
  'sovereign.yaml': `jobs:
  - name: produce
    run: sh produce.sh
  - name: slow
    run: sh slow.sh
    retries: 1
  - name: app
    kind: interactive
    run: node app.mjs
`,
  'produce.sh': `echo "${marker} produced by $SOV_RUN_ID"
printf 'report of %s\\n' "$SOV_RUN_ID" > "$SOV_OUTPUT_DIR/report.txt"
`,
  // The first attempt is still running when its instance is killed; the retry finishes.
  'slow.sh': `echo "${marker} slow attempt $SOV_ATTEMPT"
if [ "$SOV_ATTEMPT" = 1 ]; then sleep 120; fi
echo "done $SOV_ATTEMPT"
`,
  'app.mjs': `import { createServer } from 'node:http';
createServer((_req, res) => res.end('app here')).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

// Two processes share one database only on PostgreSQL: PGlite is one process's.
const target = databaseTargets().find((t) => t.name === 'postgres');

// Another network for the second instance where the machine allows it; else another port and directories only.
const noNetns = await otherHostUnavailable();
const apart = noNetns === undefined ? 'the second in a network namespace' : `one network (${noNetns})`;
const suite = `two instances of one data plane as two hosts (${apart}), sharing only PostgreSQL and the bucket, real processes [${target?.name ?? 'postgres'}]`;

describe(suite, { skip: target === undefined ? 'needs PostgreSQL (SOV_TEST_DATABASE_URL)' : false }, () => {
  let storage: TestObjectStorage;
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let jobs: Record<string, string>;
  /** The platform's eu-1: it takes the upload, and claims nothing until it is restarted with capacity. */
  let a: DataPlaneProcess;
  /** Its second instance, on a "host" of its own: it runs what A does not. */
  let b: InstanceProcess;
  let token: string;
  const runs = { produce: '', app: '', slow: '' };
  let host: OtherHost | undefined;

  before(async () => {
    storage = await startObjectStorage();
    platform = await Platform.start(target as NonNullable<typeof target>, {
      controlPlaneEnv: { SOV_RUN_LEASE_SECONDS: '6', SOV_SCHEDULER_TICK_MS: '250' },
      perDataplaneEnv: {
        // Claims nothing at first: every run of the first part is B's, by construction.
        'eu-1': {
          ...storage.env('eu-1'),
          SOV_CAPACITY: '0',
          SOV_INTERACTIVE_CAPACITY: '0',
          SOV_INSTANCE_STALE_SECONDS: '15',
        },
      },
    });
    a = platform.dp('eu-1');
    t = await platform.tenant('eu', 'instances');
    token = (await platform.scopedToken(t.token, t.workspace.workspaceId, [...dataScopes, 'interactive'])).token;
  });
  after(async () => {
    await platform?.stop();
    await storage?.close();
    await host?.close();
  });

  const runStatus = async (runId: string) =>
    (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token })).status as string;
  const trigger = async (job: string) =>
    (await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token })).runId as string;
  /** Waits until the run has `status`; one that ends otherwise fails at once, with how it ended. */
  const until = async (runId: string, status: string, what: string, timeoutMs = 30_000) => {
    let seen = '';
    await platform.waitFor(
      async () => {
        seen = await runStatus(runId);
        return seen === status || ['succeeded', 'failed', 'cancelled', 'timed_out', 'lost'].includes(seen);
      },
      what,
      timeoutMs,
    );
    if (seen !== status) {
      const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
      assert.fail(`${what}: the run ended ${run.status} (${run.reasonCode})`);
    }
  };
  const lines = async (instance: { url: string }, runId: string) =>
    (await expectStatus(200, 'GET', `${instance.url}/api/v1/runs/${runId}/logs`, { token })).data.map(
      (l: { line: string }) => l.line,
    );
  const outputs = async (instance: { url: string }, runId: string) => {
    const listed = await expectStatus(200, 'GET', `${instance.url}/api/v1/runs/${runId}/outputs`, { token });
    const files: Record<string, string> = {};
    for (const { path } of listed.data as Array<{ path: string }>) {
      files[path] = (await call('GET', `${instance.url}/api/v1/runs/${runId}/outputs/${path}`, { token })).body;
    }
    return files;
  };
  /** What each live instance can run and holds, as the data plane's administrators see them. */
  const heldByCapacity = async () => {
    const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${a.dataplaneId}/health`, {
      token: platform.adminToken,
    });
    return health.instances
      .filter((i: { status: string }) => i.status === 'healthy')
      .map((i: { capacity: number; heldRuns?: number }) => `${i.capacity} slots, ${i.heldRuns ?? 0} held`)
      .sort();
  };

  it('a deployment uploaded through one instance runs on the other; its logs and outputs are read through either', async () => {
    ({ jobs } = await platform.deploy(t.token, t.workspace.workspaceId, project));
    // Started after the upload: it never saw it, and its disk has nothing of it.
    host = noNetns === undefined ? await startOtherHost() : undefined;
    b = await platform.startInstance('eu-1', { SOV_CAPACITY: '2', SOV_INTERACTIVE_CAPACITY: '2' }, host);
    assert.notEqual(b.url, a.url);
    assert.ok(!b.dataDir.startsWith(a.dataDir) && !a.dataDir.startsWith(b.dataDir), 'no directory in common');
    if (host !== undefined) {
      // Its loopback is its own: the control plane is reached only through the forwarder.
      const probe = `require('node:net').connect(${new URL(platform.controlPlaneUrl).port}, '127.0.0.1')
        .on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exitCode = 1; });`;
      const [command = '', ...args] = [...host.exec, process.execPath, '-e', probe];
      // Not the test runner's environment: a node started with it reports to the runner, not to stdout.
      const tried = await promisify(execFile)(command, args, { env: {} }).then(
        () => 'connected',
        (error: { stdout: string; stderr: string }) => error.stdout.trim() || error.stderr.trim(),
      );
      assert.equal(tried, 'ECONNREFUSED', 'the other host does not reach this one’s loopback');
    }

    runs.produce = await trigger('produce');
    await until(runs.produce, 'succeeded', 'the run to succeed on the second instance');
    for (const instance of [a, b]) {
      assert.deepEqual(await lines(instance, runs.produce), [`${marker} produced by ${runs.produce}`], instance.name);
      assert.deepEqual(
        await outputs(instance, runs.produce),
        { 'report.txt': `report of ${runs.produce}\n` },
        instance.name,
      );
    }
  });

  it('an app runs on one instance: through the other it is refused with a word, not lost', async () => {
    runs.app = await trigger('app');
    await until(runs.app, 'running', 'the app to answer');
    const { url } = await expectStatus(200, 'GET', `${platform.cp}/runs/${runs.app}`, { token: t.token });
    // The app's origin as a browser sends it: its Host names the run, whichever instance the request reaches.
    const app = new URL(await appUrlOf(url));
    // A request for the app's origin as a balancer would pass it on: to one instance, the Host kept.
    const through = (instance: { url: string }) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const headers = { host: app.host, authorization: `Bearer ${token}` };
        const req = httpRequest(`${instance.url}/page`, { headers }, async (res) => {
          let text = '';
          for await (const chunk of res) text += chunk;
          const json = (res.headers['content-type'] ?? '').includes('json');
          resolve({ status: res.statusCode ?? 0, body: json ? JSON.parse(text) : text });
        });
        req.on('error', reject);
        req.end();
      });
    const onB = await through(b);
    assert.equal(onB.body, 'app here');
    const onA = await through(a);
    assert.equal(onA.status, 503);
    assert.equal(onA.body.code, 'interactive_on_other_instance');
    await expectStatus(200, 'POST', `${platform.cp}/runs/${runs.app}/cancel`, { token: t.token });
    await until(runs.app, 'cancelled', 'the app to stop');
  });

  it('kill -9 of the instance running a job: the attempt ends lost with its logs, the retry runs on the survivor', async () => {
    runs.slow = await trigger('slow');
    await until(runs.slow, 'running', 'the slow run to start');
    // Followed live through the instance that does not run it: it reads what the other stores.
    const followed = await fetch(`${a.url}/api/v1/runs/${runs.slow}/logs?follow=true`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(followed.status, 200);
    let streamed = '';
    const decoder = new TextDecoder();
    for await (const chunk of followed.body as unknown as AsyncIterable<Uint8Array>) {
      streamed += decoder.decode(chunk, { stream: true });
      if (streamed.includes(`${marker} slow attempt 1`)) break;
    }
    assert.match(streamed, /event: line/, 'the line came as a server-sent event');
    await platform
      .waitFor(
        async () => JSON.stringify(await heldByCapacity()) === JSON.stringify(['0 slots, 0 held', '2 slots, 1 held']),
        'the administrators to see the run held by the second instance',
      )
      .catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await heldByCapacity())}`);
      });
    const pids = await runPids(runs.slow, 1);
    assert.ok(pids.length > 0, 'the job’s processes are found');

    // The survivor now takes runs: restarted with capacity (it held none).
    a.env.SOV_CAPACITY = '2';
    await a.service.stop('SIGTERM');
    await platform.startDataPlane(a);

    assert.equal(await b.service.stop('SIGKILL'), 'SIGKILL');
    await platform.waitFor(async () => !pids.some(alive), 'the orphaned job to be stopped by its supervisor');
    // Its whole disk: nothing on it may be needed any more.
    await rm(b.root, { recursive: true, force: true });
    await rm(b.jails, { recursive: true, force: true });

    await until(runs.slow, 'lost', 'the lease to lapse');
    const lost = await expectStatus(200, 'GET', `${platform.cp}/runs/${runs.slow}`, { token: t.token });
    assert.equal(lost.reasonCode, 'lease_expired');
    let retry: { runId: string } | undefined;
    await platform.waitFor(
      async () => {
        const attempts = (await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${jobs.slow}`, { token: t.token }))
          .data;
        retry = attempts.find((r: { attempt: number; status: string }) => r.attempt === 2 && r.status === 'succeeded');
        return retry !== undefined;
      },
      'the second attempt to succeed on the survivor',
      60_000,
    );
    assert.deepEqual(await lines(a, runs.slow), [`${marker} slow attempt 1`], 'the killed attempt’s logs so far');
    assert.deepEqual(
      await lines(a, retry?.runId ?? ''),
      [`${marker} slow attempt 2`, 'done 2'],
      'the retry started once and finished',
    );
  });

  it('the survivor serves what the dead instance made and runs the deployment again, its disk gone', async () => {
    assert.deepEqual(await lines(a, runs.produce), [`${marker} produced by ${runs.produce}`]);
    assert.deepEqual(await outputs(a, runs.produce), { 'report.txt': `report of ${runs.produce}\n` });
    const again = await trigger('produce');
    await until(again, 'succeeded', 'the deployment to run on the survivor');
    assert.deepEqual(await outputs(a, again), { 'report.txt': `report of ${again}\n` });
  });

  it('keeps the bundle and outputs in the bucket, named by ids only', async () => {
    const names = await storage.objectNames();
    assert.ok(
      names.some((n) => n.startsWith('eu-1/bundles/')),
      JSON.stringify(names),
    );
    assert.ok(
      names.some((n) => n.startsWith(`eu-1/outputs/${runs.produce}/`)),
      JSON.stringify(names),
    );
    assert.deepEqual(
      names.filter((n) => n.includes('report') || n.includes(marker)),
      [],
    );
  });
});
