import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ClaimResponse,
  type HeartbeatRequest,
  InternalPaths,
  type RunEventsRequest,
  type RunEventsResponse,
} from '@sovereign/contract';
import { flowTarget } from '@sovereign/server-kit/testing';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';
import { endOf, readEvents } from '../support/projects.ts';

const secretValue = 'sk-live-5f7d0c2e9b1a';

/** A job that counts its runs in state, prints a greeting and its secret, and leaves an output. */
const project = {
  'sovereign.yaml': `jobs:
  - name: hello
    run: node hello.js
    timeout: 5m
  - name: fails
    run: sh fail.sh
  - name: binary
    run: node binary.js
  - name: scribble
    run: sh scribble.sh
  - name: oddnames
    run: node oddnames.js
  - name: yearly
    run: sh interval.sh
    schedule: "0 0 1 1 *"
`,
  'interval.sh':
    'if test -n "$SOV_INTERVAL_START"; then echo "interval $SOV_INTERVAL_START $SOV_INTERVAL_END"; else echo "interval none"; fi\n',
  'hello.js': `
const fs = require('node:fs');
const state = JSON.parse(fs.readFileSync(process.env.SOV_STATE_FILE, 'utf8'));
const count = (state.count ?? 0) + 1;
console.log('hello from ' + process.env.SOV_JOB + ', run ' + count + ', greeting ' + process.env.GREETING);
process.stdout.write('the secret is ' + process.env.API_KEY.slice(0, 7));
process.stdout.write(process.env.API_KEY.slice(7) + '\\n');
console.log('base64: ' + Buffer.from(process.env.API_KEY).toString('base64'));
console.error('a line on stderr');
fs.mkdirSync(process.env.SOV_OUTPUT_DIR + '/reports', { recursive: true });
fs.writeFileSync(process.env.SOV_OUTPUT_DIR + '/reports/summary.json', JSON.stringify({ count }));
fs.writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ count, cursor: 'row-' + count }));
`,
  'fail.sh': 'echo "about to fail"; exit 3\n',
  // Changes its own working copy: the next run must not see it (copies come from a cache of the deployment).
  'scribble.sh': 'echo "found: $(cat notes.txt)"; echo scribbled >> notes.txt; rm fail.sh; touch stray.txt\n',
  'notes.txt': 'as deployed\n',
  // Outputs named with bytes that are not UTF-8 (a file, a directory), next to normal ones.
  'oddnames.js': `
const fs = require('node:fs');
const out = Buffer.from(process.env.SOV_OUTPUT_DIR + '/');
const bad = Buffer.from([0xff, 0xfe]);
fs.writeFileSync(Buffer.concat([out, Buffer.from('good.txt')]), 'good');
fs.writeFileSync(Buffer.concat([out, Buffer.from('bad-'), bad, Buffer.from('.txt')]), 'bad');
fs.mkdirSync(Buffer.concat([out, Buffer.from('dir-'), bad]));
fs.writeFileSync(Buffer.concat([out, Buffer.from('dir-'), bad, Buffer.from('/inner.txt')]), 'inner');
fs.mkdirSync(Buffer.concat([out, Buffer.from('reports')]));
fs.writeFileSync(Buffer.concat([out, Buffer.from('reports/ok.txt')]), 'ok');
fs.writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ cursor: 42 }));
`,
  // NUL in output and in state: PostgreSQL stores neither as text, and neither may sink the run.
  'binary.js': `
process.stdout.write(Buffer.from([0x62, 0x65, 0x66, 0x00, 0x61, 0x66, 0x74, 0x0a]));
require('node:fs').writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ k: 'a\\u0000b' }));
`,
};

const target = flowTarget();

describe(`deploy, run, follow logs, outputs and state, real processes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let dp: string;
  let jobs: Record<string, string>;

  before(async () => {
    // Through the tap: a test reads what the data plane told the control plane.
    platform = await Platform.start(target, { tap: true });
    t = await platform.tenant('eu', 'runs');
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, dataScopes);
    token = issued.token;
    dp = `${issued.dataplane.url}/api/v1`;
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    await expectStatus(200, 'PUT', `${dp}/workspaces/${t.workspace.workspaceId}/variables/GREETING`, {
      token,
      body: { value: 'bonjour' },
    });
    await expectStatus(200, 'PUT', `${dp}/workspaces/${t.workspace.workspaceId}/variables/API_KEY`, {
      token,
      body: { value: secretValue, secret: true },
    });
    ({ jobs } = await platform.deploy(t.token, t.workspace.workspaceId, project));
  });
  after(async () => {
    await platform?.stop();
  });

  async function runToEnd(job: string) {
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token });
    const response = await fetch(`${dp}/runs/${run.runId}/logs?follow=true`, {
      headers: { authorization: `Bearer ${token}` },
    });
    // The run may not have reached the data plane yet: retry until it has.
    if (response.status === 404) {
      await response.body?.cancel();
      await platform.waitFor(
        async () => (await call('GET', `${dp}/runs/${run.runId}/logs`, { token })).status === 200,
        'the run to start',
      );
      return {
        run,
        events: await readEvents(
          await fetch(`${dp}/runs/${run.runId}/logs?follow=true`, { headers: { authorization: `Bearer ${token}` } }),
        ),
      };
    }
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    return { run, events: await readEvents(response) };
  }

  it('runs a deployed job, streams its logs to the end with its secret masked, and stores its output and state', async () => {
    const { run, events } = await runToEnd('hello');
    const lines = events.filter((e) => e.event === 'line').map((e) => e.data.line);
    assert.ok(lines.includes('hello from hello, run 1, greeting bonjour'), lines.join('\n'));
    assert.ok(lines.includes('a line on stderr'));
    assert.ok(lines.includes('the secret is ********'), 'a secret split across writes is masked');
    assert.ok(lines.includes('base64: ********'), 'its base64 form too');
    assert.ok(!JSON.stringify(events).includes(secretValue));
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });

    await platform.waitFor(
      async () =>
        (await call('GET', `${platform.cp}/runs/${run.runId}`, { token: t.token })).body.status === 'succeeded',
      'the status to reach the control plane',
    );
    const stored = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/logs`, { token });
    assert.ok(!JSON.stringify(stored).includes(secretValue), 'stored logs are masked too');

    const outputs = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/outputs`, { token });
    assert.deepEqual(
      outputs.data.map((o: { path: string }) => o.path),
      ['reports/summary.json'],
    );
    const file = await call('GET', `${dp}/runs/${run.runId}/outputs/reports/summary.json`, { token });
    assert.equal(file.status, 200);
    assert.deepEqual(JSON.parse(String(file.body)), { count: 1 });

    const state = await expectStatus(200, 'GET', `${dp}/workspaces/${t.workspace.workspaceId}/jobs/hello/state`, {
      token,
    });
    assert.deepEqual(state.state, { count: 1, cursor: 'row-1' });
  });

  it('gives every run a fresh working copy of its deployment, whatever the last run changed in its own', async () => {
    for (let i = 0; i < 3; i++) {
      const { events } = await runToEnd('scribble');
      const lines = events.filter((e) => e.event === 'line').map((e) => e.data.line);
      assert.deepEqual(lines, ['found: as deployed']);
      assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });
    }
    // The file the scribbler removed from its copy is still there for the next job.
    const { events } = await runToEnd('fails');
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'failed', exitCode: 3 } });
  });

  it('carries state from one run to the next', async () => {
    const { events } = await runToEnd('hello');
    const lines = events.filter((e) => e.event === 'line').map((e) => e.data.line);
    assert.ok(lines.includes('hello from hello, run 2, greeting bonjour'), lines.join('\n'));
    const state = await expectStatus(200, 'GET', `${dp}/workspaces/${t.workspace.workspaceId}/jobs/hello/state`, {
      token,
    });
    assert.deepEqual(state.state, { count: 2, cursor: 'row-2' });
  });

  it('reports a failure with its exit code and a reason code, and keeps its text in the region', async () => {
    const { run, events } = await runToEnd('fails');
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'failed', exitCode: 3 } });
    await platform.waitFor(
      async () => (await call('GET', `${platform.cp}/runs/${run.runId}`, { token: t.token })).body.status === 'failed',
      'the failure to reach the control plane',
    );
    const seen = await expectStatus(200, 'GET', `${platform.cp}/runs/${run.runId}`, { token: t.token });
    assert.equal(seen.exitCode, 3);
    assert.equal(seen.reasonCode, 'exit_nonzero');
    assert.ok(!JSON.stringify(seen).includes('about to fail'));
  });

  it('tells the control plane in each heartbeat the last claim it took in, so one on its way is never requeued', async () => {
    const { run } = await runToEnd('hello');
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    const claims = () => tap.json(InternalPaths.claim).map((e) => e.response as ClaimResponse);
    const seq = claims().find((c) => c.runs.some((r) => r.runId === run.runId))?.claimSeq;
    assert.ok(seq !== undefined && seq >= 1, 'the claim answer that handed the run out numbers it');
    const heartbeats = () => tap.json(InternalPaths.heartbeat).map((e) => e.request as HeartbeatRequest);
    await platform.waitFor(
      async () => heartbeats().some((b) => (b.claimedThrough ?? 0) >= seq),
      'a heartbeat saying the data plane took that claim in',
    );
    // Every data plane instance heartbeats (the sequence is shared): each one's own never goes back.
    const handedOut = Math.max(...claims().map((c) => c.claimSeq ?? 0));
    const last = new Map<string, number>();
    for (const beat of heartbeats()) {
      assert.ok(beat.claimedThrough !== undefined, 'every heartbeat says it');
      assert.ok(beat.claimedThrough >= (last.get(beat.instanceId) ?? 0), 'never going back');
      assert.ok(beat.claimedThrough <= handedOut, 'nor past what was handed out');
      last.set(beat.instanceId, beat.claimedThrough);
    }
  });

  it('keeps a run whose output or state holds NUL: the bytes are replaced, the state is refused in its log', async () => {
    const { events } = await runToEnd('binary');
    const lines = events.filter((e) => e.event === 'line').map((e) => e.data.line);
    assert.deepEqual(lines, [
      'bef\uFFFDaft',
      'sovereign: state.k must not contain the NUL character (U+0000), so it cannot be stored; state not saved',
    ]);
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });
    const state = await call('GET', `${dp}/workspaces/${t.workspace.workspaceId}/jobs/binary/state`, { token });
    assert.equal(state.status, 404);
    assert.equal(state.body.code, 'state_not_found');
  });

  it('keeps a run whose outputs are named with bytes that are not UTF-8: the others and its state are kept, its log says so', async () => {
    const { run, events } = await runToEnd('oddnames');
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });
    const lines = events.filter((e) => e.event === 'line').map((e) => e.data.line);
    assert.deepEqual(lines, ['sovereign: 2 outputs were skipped because their names are not UTF-8']);
    const outputs = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/outputs`, { token });
    assert.deepEqual(outputs.data.map((o: { path: string }) => o.path).sort(), ['good.txt', 'reports/ok.txt']);
    const file = await call('GET', `${dp}/runs/${run.runId}/outputs/reports/ok.txt`, { token });
    assert.equal(String(file.body), 'ok');
    const state = await expectStatus(200, 'GET', `${dp}/workspaces/${t.workspace.workspaceId}/jobs/oddnames/state`, {
      token,
    });
    assert.deepEqual(state.state, { cursor: 42 });
    await platform.waitFor(
      async () =>
        (await call('GET', `${platform.cp}/runs/${run.runId}`, { token: t.token })).body.status === 'succeeded',
      'the status to reach the control plane',
    );
    // The data plane's own log holds ids, never the job's file names, and no error for this run.
    const own = platform.dp('eu-1').service.output();
    assert.ok(!own.includes('bad-') && !own.includes('\uFFFD'), 'no output name in the data plane’s log');
    assert.ok(!own.split('\n').some((l) => l.includes(run.runId) && /"level":50/.test(l)), 'no error for the run');
  });

  it('gives a backfilled run its interval as SOV_INTERVAL_START and SOV_INTERVAL_END, and a manual run none', async () => {
    const backfill = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.yearly}/backfills`, {
      token: t.token,
      body: { from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
    });
    assert.deepEqual([backfill.intervals, backfill.toRun], [2, 2]);
    await platform.waitFor(
      async () =>
        (await call('GET', `${platform.cp}/backfills/${backfill.backfillId}`, { token: t.token })).body.status ===
        'done',
      'the backfill to end',
      30_000,
    );
    const runs = await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${jobs.yearly}`, { token: t.token });
    const seen: string[] = [];
    for (const run of runs.data) {
      assert.equal(run.status, 'succeeded');
      const logs = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/logs`, { token });
      seen.push(...logs.data.map((l: { line: string }) => l.line));
    }
    assert.deepEqual(seen.sort(), [
      'interval 2024-01-01T00:00:00.000Z 2025-01-01T00:00:00.000Z',
      'interval 2025-01-01T00:00:00.000Z 2026-01-01T00:00:00.000Z',
    ]);
    const manual = await runToEnd('yearly');
    const lines = manual.events.filter((e) => e.event === 'line').map((e) => e.data.line);
    assert.deepEqual(lines, ['interval none'], 'a manual run covers no interval');
  });

  it('keeps state for deployed jobs only: an unknown job is job_not_found, an archived one is read-only', async () => {
    const states = `${dp}/workspaces/${t.workspace.workspaceId}/jobs`;
    // A typo used to save state for a job that does not exist, and reading it said "no saved state yet".
    const written = await call('PUT', `${states}/nosuch/state`, { token, body: { state: { cursor: 1 } } });
    assert.equal(written.status, 404);
    assert.equal(written.body.code, 'job_not_found');
    assert.match(written.headers.get('content-type') ?? '', /application\/problem\+json/);
    const read = await call('GET', `${states}/nosuch/state`, { token });
    assert.equal(read.status, 404);
    assert.equal(read.body.code, 'job_not_found');

    // In a workspace of its own: a second deploy archives a job of the first.
    const other = await platform.tenant('eu', 'archived-state');
    const ws = other.workspace.workspaceId;
    const scoped = (await platform.scopedToken(other.token, ws, dataScopes)).token;
    const job = (name: string) => `  - name: ${name}\n    run: sh ok.sh\n`;
    await platform.deploy(other.token, ws, {
      'sovereign.yaml': `jobs:\n${job('kept')}${job('dropped')}`,
      'ok.sh': 'true\n',
    });
    await expectStatus(200, 'PUT', `${dp}/workspaces/${ws}/jobs/dropped/state`, {
      token: scoped,
      body: { state: { cursor: 'row-9' } },
    });
    await platform.deploy(other.token, ws, { 'sovereign.yaml': `jobs:\n${job('kept')}`, 'ok.sh': 'true\n' });
    const archived = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/jobs/dropped/state`, { token: scoped });
    assert.deepEqual(archived.state, { cursor: 'row-9' }, 'an archived job keeps its state, readable');
    const rewrite = await call('PUT', `${dp}/workspaces/${ws}/jobs/dropped/state`, {
      token: scoped,
      body: { state: { cursor: 'row-10' } },
    });
    assert.equal(rewrite.status, 409);
    assert.equal(rewrite.body.code, 'job_archived');
    const none = await call('GET', `${dp}/workspaces/${ws}/jobs/kept/state`, { token: scoped });
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'state_not_found', 'a deployed job without state yet');
  });

  it("delivers the run events a control plane refused for a while, once it takes them: none lost, none twice, each run's in order", async () => {
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    const ws = t.workspace.workspaceId;
    const { jobs: short } = await platform.deploy(t.token, ws, {
      'sovereign.yaml': 'jobs:\n  - name: blink\n    run: "true"\n',
    });
    const path = InternalPaths.runEvents;
    // Events pile up in the data plane's outbox while the control plane cannot be told:
    // its deliveries then carry several runs' events at once, in batches.
    tap.refused.add(path);
    const runs: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        runs.push(
          (await expectStatus(200, 'POST', `${platform.cp}/jobs/${short.blink}/runs`, { token: t.token })).runId,
        );
      }
      await platform.waitFor(
        async () => {
          const pages = await Promise.all(runs.map((runId) => call('GET', `${dp}/runs/${runId}/logs`, { token })));
          return pages.every((page) => page.status === 200 && page.body.status === 'succeeded');
        },
        'the runs to end on the data plane while the control plane refuses their events',
        60_000,
      );
    } finally {
      tap.refused.delete(path);
    }
    const statuses = async () =>
      Promise.all(
        runs.map(
          async (runId) =>
            ((await call('GET', `${platform.cp}/runs/${runId}`, { token: t.token })).body as { status: string }).status,
        ),
      );
    await platform.waitFor(
      async () => (await statuses()).every((s) => s === 'succeeded'),
      'every run to end succeeded',
      60_000,
    );
    // What the control plane took, call by call: for each run, its running event and then its end, once each.
    const accepted: string[] = [];
    for (const { request, response } of tap.json(path)) {
      const answer = response as RunEventsResponse;
      for (const event of (request as RunEventsRequest).events) {
        if (!runs.includes(event.runId)) continue;
        assert.ok(
          answer.accepted.some((a) => a.runId === event.runId && a.seq === event.seq),
          'accepted',
        );
        accepted.push(`${event.runId} ${event.seq} ${event.status}`);
      }
    }
    for (const runId of runs) {
      const mine = accepted.filter((line) => line.startsWith(runId));
      assert.deepEqual(
        mine.map((line) => line.split(' ').slice(1).join(' ')),
        ['1 running', '2 succeeded'],
        `run ${runId}: its events reached the control plane once each, in order`,
      );
    }
  });
  it('tells the control plane how the runs a planned stop ended, before it exits, however slowly the control plane answers', async () => {
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    const ws = t.workspace.workspaceId;
    const { jobs: stopped } = await platform.deploy(t.token, ws, {
      'sovereign.yaml': 'jobs:\n  - name: prompt\n    run: sleep 60\n  - name: lingering\n    run: sh linger.sh\n',
      // Ends a second after it is told to: its end is recorded while the other's is on its way.
      'linger.sh': "trap 'sleep 1; exit 143' TERM\necho trapped\nsleep 60 &\nwait\n",
    });
    const runs: string[] = [];
    for (const job of [stopped.prompt, stopped.lingering]) {
      runs.push((await expectStatus(200, 'POST', `${platform.cp}/jobs/${job}/runs`, { token: t.token })).runId);
    }
    const runStatus = async (runId: string) =>
      (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token })) as {
        status: string;
        reasonCode?: string;
      };
    await platform.waitFor(
      async () => (await Promise.all(runs.map(runStatus))).every((r) => r.status === 'running'),
      'both runs to be running',
    );
    await platform.waitFor(
      async () =>
        (await expectStatus(200, 'GET', `${dp}/runs/${runs[1]}/logs`, { token })).data.some(
          (l: { line: string }) => l.line === 'trapped',
        ),
      'the lingering job to set its trap',
    );
    const eu = platform.dp('eu-1');
    const path = InternalPaths.runEvents;
    const calls = () => tap.exchanges.filter((e) => e.url === path).length;
    const before = calls();
    // Its first call after the stop is slow to be answered; the runs' later events are
    // recorded while it is on its way, and must still be delivered before the exit.
    tap.slowed.set(path, 4_000);
    const stopping = eu.service.stop('SIGTERM');
    try {
      await platform.waitFor(async () => calls() > before, 'the stop to tell the control plane of a run');
    } finally {
      tap.slowed.delete(path);
    }
    await stopping;
    // The data plane is gone: the control plane knows now what it was told before it went.
    for (const runId of runs) {
      const run = await runStatus(runId);
      assert.deepEqual([run.status, run.reasonCode], ['cancelled', 'dataplane_shutdown'], `run ${runId}`);
    }
    await platform.startDataPlane(eu);
  });
});
