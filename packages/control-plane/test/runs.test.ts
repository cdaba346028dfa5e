import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { InternalPaths, protocolVersion } from '@sovereign/contract';
import { eachDatabase } from './support/harness.ts';
import { deployed, job } from './support/protocol.ts';

eachDatabase('runs: triggers, claims, events, leases, retries', (h) => {
  it('takes a triggered run through claimed, running and succeeded', async () => {
    const d = await deployed(h(), [job('hello')]);
    const queued = await d.trigger('hello');
    assert.equal(queued.status, 'queued');
    assert.equal(queued.trigger, 'manual');
    assert.equal(queued.attempt, 1);
    const claimed = await d.claim();
    assert.deepEqual(
      claimed.runs.map((r: { runId: string; jobName: string }) => [r.runId, r.jobName]),
      [[queued.runId, 'hello']],
    );
    assert.equal((await d.run(queued.runId)).status, 'claimed');
    assert.deepEqual((await d.claim()).runs, [], 'a run is handed out once');
    await d.events([{ runId: queued.runId, seq: 1, status: 'running' }]);
    assert.equal((await d.run(queued.runId)).status, 'running');
    const done = await d.events([
      { runId: queued.runId, seq: 2, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' },
    ]);
    assert.deepEqual(done.fenced, []);
    const finished = await d.run(queued.runId);
    assert.equal(finished.status, 'succeeded');
    assert.equal(finished.exitCode, 0);
    assert.equal(finished.reasonCode, 'exit_zero');
    assert.ok(finished.startedAt !== null && finished.finishedAt !== null);
    const again = await d.events([
      { runId: queued.runId, seq: 2, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' },
    ]);
    assert.deepEqual(
      again.accepted,
      [{ runId: queued.runId, seq: 2 }],
      'a redelivered event is accepted once more, with no effect',
    );
  });

  it('hands no run to a disabled data plane, nor to one in a disabled region, until both are enabled', async () => {
    const d = await deployed(h(), [job('paused_plane')]);
    const queued = await d.trigger('paused_plane');
    const admin = d.t.people.admin.token;
    const plane = `/dataplanes/${d.t.dataplane.dataplaneId}`;
    await h().expect(200, 'PATCH', plane, { token: admin, body: { enabled: false } });
    assert.deepEqual((await d.claim()).runs, [], 'the data plane is disabled');
    await h().expect(200, 'PATCH', plane, { token: admin, body: { enabled: true } });
    await h().expect(200, 'PATCH', `/regions/${d.t.regionId}`, { token: admin, body: { enabled: false } });
    assert.deepEqual((await d.claim()).runs, [], 'its region is disabled');
    await h().expect(200, 'PATCH', `/regions/${d.t.regionId}`, { token: admin, body: { enabled: true } });
    assert.deepEqual(
      (await d.claim()).runs.map((r: { runId: string }) => r.runId),
      [queued.runId],
    );
  });

  it('wakes a claim held open the moment a run is queued', async () => {
    const d = await deployed(h(), [job('fast')]);
    const started = Date.now();
    const waiting = d.claim(10_000);
    await new Promise((r) => setTimeout(r, 200));
    const queued = await d.trigger('fast');
    const claimed = await waiting;
    assert.equal(claimed.runs[0]?.runId, queued.runId);
    assert.ok(Date.now() - started < 9_000, 'the claim answered before its wait ran out');
  });

  it('refuses events from an instance that does not hold the lease, and tells it to stop', async () => {
    const d = await deployed(h(), [job('fenced')]);
    const queued = await d.trigger('fenced');
    await d.claim();
    const intruder = randomUUID();
    const answer = await d.events([{ runId: queued.runId, seq: 1, status: 'running' }], intruder);
    assert.deepEqual(answer.fenced, [queued.runId]);
    assert.equal((await d.run(queued.runId)).status, 'claimed');
    const beat = await d.heartbeat([queued.runId], intruder);
    assert.deepEqual(beat.fencedRunIds, [queued.runId]);
  });

  it('R5: refuses a run event that carries text, as a reason or as any other member', async () => {
    const d = await deployed(h(), [job('talkative')]);
    const queued = await d.trigger('talkative');
    await d.claim();
    const event = { runId: queued.runId, seq: 1, status: 'failed', exitCode: 1, at: new Date().toISOString() };
    for (const carrying of [
      { reasonCode: 'Traceback (most recent call last): KeyError customer_email' },
      { reasonCode: 'exit_nonzero', message: 'KeyError: customer_email' },
      { reasonCode: 'exit_nonzero', logTail: ['row 17: alice@example.test'] },
    ]) {
      const answer = await h().request('POST', InternalPaths.runEvents, {
        token: d.dpToken,
        body: { protocolVersion, instanceId: d.instanceId, events: [{ ...event, ...carrying }] },
      });
      assert.equal(answer.status, 400, JSON.stringify(carrying));
      assert.equal(answer.body.code, 'validation_failed');
    }
    assert.equal((await d.run(queued.runId)).status, 'claimed', 'no refused event changed the run');
  });

  it('cancels a queued run at once, and a running one through its data plane', async () => {
    const d = await deployed(h(), [job('cancel')]);
    const queued = await d.trigger('cancel');
    const cancelled = await h().expect(200, 'POST', `/runs/${queued.runId}/cancel`, { token: d.t.people.member.token });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.reasonCode, 'cancelled');

    const running = await d.trigger('cancel');
    await d.claim();
    await d.events([{ runId: running.runId, seq: 1, status: 'running' }]);
    const asked = await h().expect(200, 'POST', `/runs/${running.runId}/cancel`, { token: d.t.people.member.token });
    assert.equal(asked.status, 'running');
    assert.equal(asked.cancelRequested, true);
    assert.deepEqual((await d.heartbeat([running.runId])).cancelRunIds, [running.runId]);
    assert.deepEqual((await d.claim()).cancelRunIds, [running.runId]);
    assert.deepEqual(
      (await d.claim(0, 10, d.instanceId, [running.runId])).cancelRunIds,
      [running.runId],
      'a claim listing the run hears it too',
    );
    assert.deepEqual(
      (await d.claim(0, 10, d.instanceId, [])).cancelRunIds,
      [],
      'one from an instance that says it holds nothing asks about none',
    );
    await d.events([{ runId: running.runId, seq: 2, status: 'cancelled', reasonCode: 'cancelled' }]);
    assert.equal((await d.run(running.runId)).status, 'cancelled');

    const viewer = await h().request('POST', `/runs/${running.runId}/cancel`, { token: d.t.people.viewer.token });
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 'insufficient_role');
  });

  it('answers a claim held open the moment a cancel is asked for a run it holds, or a run is queued', async () => {
    const d = await deployed(h(), [job('held'), job('next')]);
    const running = await d.trigger('held');
    await d.claim(0, 10, d.instanceId, []);
    await d.events([{ runId: running.runId, seq: 1, status: 'running' }]);
    // Each claim waits up to 20 s; one answered by its wake is answered well before that.
    const notWoken = () => new Promise((resolve) => setTimeout(() => resolve('not woken'), 10_000).unref());
    const forCancel = d.claim(20_000, 10, d.instanceId, [running.runId]);
    await new Promise((r) => setTimeout(r, 200)); // the claim looked, found nothing, and waits
    await h().expect(200, 'POST', `/runs/${running.runId}/cancel`, { token: d.t.people.member.token });
    const cancelAnswer = await Promise.race([forCancel, notWoken()]);
    assert.deepEqual(cancelAnswer, { runs: [], cancelRunIds: [running.runId] });

    await d.events([{ runId: running.runId, seq: 2, status: 'cancelled', reasonCode: 'cancelled' }]);
    const forRun = d.claim(20_000, 10, d.instanceId, []);
    await new Promise((r) => setTimeout(r, 200));
    const next = await d.trigger('next');
    const runAnswer = (await Promise.race([forRun, notWoken()])) as { runs: Array<{ runId: string }> };
    assert.deepEqual(
      runAnswer.runs.map((r) => r.runId),
      [next.runId],
    );
  });

  it('ends a run whose lease is not renewed as lost, and queues the next attempt once', async () => {
    const d = await deployed(h(), [job('flaky', { retries: 1 })]);
    const queued = await d.trigger('flaky');
    await d.claim();
    await d.events([{ runId: queued.runId, seq: 1, status: 'running' }]);
    await d.heartbeat([queued.runId]);
    h().advanceClock(41_000);
    try {
      await h().plane.scheduler.tick();
      const lost = await d.run(queued.runId);
      assert.equal(lost.status, 'lost');
      assert.equal(lost.reasonCode, 'lease_expired');
      const late = await d.events([{ runId: queued.runId, seq: 2, status: 'succeeded', exitCode: 0 }]);
      assert.deepEqual(late.fenced, [queued.runId], 'the old attempt may not report: it must stop');
      const runs = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.flaky}`, { token: d.t.people.viewer.token });
      assert.deepEqual(
        runs.data.map((r: { attempt: number; status: string; trigger: string; rootRunId: string }) => [
          r.attempt,
          r.status,
          r.trigger,
          r.rootRunId,
        ]),
        [
          [2, 'queued', 'retry', queued.runId],
          [1, 'lost', 'manual', queued.runId],
        ],
      );
      // The second attempt (after its delay: 10 s by default, give or take 1 s) fails too: no retries are left.
      h().advanceClock(12_000);
      const [second] = (await d.claim()).runs;
      await d.events([{ runId: second.runId, seq: 1, status: 'failed', exitCode: 3, reasonCode: 'exit_nonzero' }]);
      const all = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.flaky}`, { token: d.t.people.viewer.token });
      assert.equal(all.data.length, 2);
    } finally {
      h().advanceClock(-53_000);
    }
  });

  it('waits before each retry, longer each time, and hands it out no earlier (a compressed clock)', async () => {
    const d = await deployed(h(), [job('flaky', { retries: 3, retryDelaySeconds: 30, retryBackoff: 2 })]);
    const attempts = async () =>
      (await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.flaky}`, { token: d.t.people.viewer.token })).data.sort(
        (a: { attempt: number }, b: { attempt: number }) => a.attempt - b.attempt,
      );
    const fail = (runId: string) =>
      d.events([{ runId, seq: 1, status: 'failed', exitCode: 1, reasonCode: 'exit_nonzero' }]);
    h().freezeClock();
    const start = h().now();
    try {
      await h().plane.scheduler.tick(); // the scheduler's first look at this clock
      const first = await d.trigger('flaky');
      assert.equal((await d.claim()).runs[0]?.runId, first.runId);
      let failedAt = h().now();
      await fail(first.runId);
      // 30 s, then twice as long each time, each give or take a tenth.
      for (const [attempt, seconds] of [
        [2, 30],
        [3, 60],
        [4, 120],
      ] as const) {
        const retry = (await attempts())[attempt - 1];
        assert.deepEqual([retry.attempt, retry.status, retry.trigger], [attempt, 'queued', 'retry']);
        const wait = (Date.parse(retry.scheduledFor) - failedAt.getTime()) / 1000;
        assert.ok(wait >= seconds * 0.9 && wait <= seconds * 1.1, `attempt ${attempt} waits ${wait} s, not ${seconds}`);

        h().advanceClock(Date.parse(retry.scheduledFor) - h().now().getTime() - 1000);
        assert.deepEqual((await d.claim()).runs, [], `attempt ${attempt} is not handed out a second early`);
        // A claim held open is woken by the scheduler's tick once the attempt is due.
        const held = d.claim(10_000);
        h().advanceClock(1000);
        await h().plane.scheduler.tick();
        const claimed = (await held).runs;
        assert.deepEqual(
          claimed.map((r: { runId: string; attempt: number }) => [r.runId, r.attempt]),
          [[retry.runId, attempt]],
        );
        failedAt = h().now();
        await fail(retry.runId);
      }
      const all = await attempts();
      assert.deepEqual(
        all.map((r: { attempt: number; status: string }) => [r.attempt, r.status]),
        [
          [1, 'failed'],
          [2, 'failed'],
          [3, 'failed'],
          [4, 'failed'],
        ],
        'three retries, then no more',
      );
      const job = await h().expect(200, 'GET', `/jobs/${d.jobIds.flaky}`, { token: d.t.people.viewer.token });
      assert.deepEqual([job.retryDelaySeconds, job.retryBackoff], [30, 2]);
    } finally {
      h().advanceClock(start.getTime() - h().now().getTime());
      h().unfreezeClock();
    }
  });

  it('starts jobs after another job’s success, failure or completion', async () => {
    const d = await deployed(h(), [
      job('extract'),
      job('on_success', { trigger: { type: 'after', job: 'extract', on: 'success' } }),
      job('on_failure', { trigger: { type: 'after', job: 'extract', on: 'failure' } }),
      job('always', { trigger: { type: 'after', job: 'extract', on: 'completion' } }),
    ]);
    const first = await d.trigger('extract');
    await d.claim(0, 1);
    await d.events([{ runId: first.runId, seq: 1, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' }]);
    const afterSuccess = await d.claim();
    assert.deepEqual(afterSuccess.runs.map((r: { jobName: string }) => r.jobName).sort(), ['always', 'on_success']);

    const second = await d.trigger('extract');
    await d.claim(0, 1);
    await d.events([{ runId: second.runId, seq: 1, status: 'failed', exitCode: 1, reasonCode: 'exit_nonzero' }]);
    const afterFailure = await d.claim();
    assert.deepEqual(afterFailure.runs.map((r: { jobName: string }) => r.jobName).sort(), ['always', 'on_failure']);
    assert.ok(afterFailure.runs.every((r: { runId: string }) => r.runId !== second.runId));
  });

  it('lists runs with filters and a cursor, newest first', async () => {
    const d = await deployed(h(), [job('many'), job('other')]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await d.trigger('many')).runId);
    await d.trigger('other');
    const token = d.t.people.viewer.token;
    const first = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.many}&limit=2`, { token });
    const second = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.many}&limit=2&cursor=${first.nextCursor}`, {
      token,
    });
    const third = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.many}&limit=2&cursor=${second.nextCursor}`, {
      token,
    });
    const seen = [...first.data, ...second.data, ...third.data].map((r: { runId: string }) => r.runId);
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal(third.nextCursor, null);
    const workspace = await h().expect(200, 'GET', `/runs?workspaceId=${d.t.workspace.workspaceId}&status=queued`, {
      token,
    });
    assert.equal(workspace.data.length, 6);
    const bad = await h().request('GET', '/runs?cursor=garbage', { token });
    assert.equal(bad.status, 400);
    const stranger = await h().user('stranger');
    const none = await h().expect(200, 'GET', `/runs?workspaceId=${d.t.workspace.workspaceId}`, {
      token: stranger.token,
    });
    assert.deepEqual(none.data, [], 'another organization’s runs are never listed');
  });

  it('lists the runs of every workspace the caller belongs to, merged newest first, a page at a time', async () => {
    const d = await deployed(h(), [job('first')]);
    // A second workspace of the organization, on the same data plane, with a job of its own.
    const other = await h().workspace(d.t.people.owner.token, d.t.organizationId, d.t.regionId);
    await h().expect(200, 'POST', InternalPaths.deploymentReport, {
      token: d.dpToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: other.workspaceId,
        digest: `sha256:${'1'.repeat(64)}`,
        sizeBytes: 10,
        createdBy: d.t.people.owner.userId,
        createdAt: new Date().toISOString(),
        jobs: [job('second')],
      },
    });
    const listed = await h().expect(200, 'GET', `/workspaces/${other.workspaceId}/jobs`, {
      token: d.t.people.viewer.token,
    });
    const secondJob = listed.data[0].jobId as string;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run =
        i % 2 === 0
          ? await d.trigger('first')
          : await h().expect(200, 'POST', `/jobs/${secondJob}/runs`, { token: d.t.people.member.token });
      ids.push(run.runId);
    }
    const token = d.t.people.viewer.token;
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 5; page++) {
      const answer = await h().expect(200, 'GET', `/runs?limit=2${cursor}`, { token });
      seen.push(...answer.data.map((r: { runId: string }) => r.runId));
      if (answer.nextCursor === null) break;
      cursor = `&cursor=${answer.nextCursor}`;
    }
    assert.deepEqual(seen, [...ids].reverse(), 'both workspaces, newest first, and no other organization’s runs');
    const onlySecond = await h().expect(200, 'GET', `/runs?workspaceId=${other.workspaceId}`, { token });
    assert.deepEqual(
      onlySecond.data.map((r: { runId: string }) => r.runId),
      [ids[3], ids[1]],
    );
  });

  it('lists each job with its newest run, so the dashboard shows how it last went', async () => {
    const d = await deployed(h(), [job('tried'), job('never')]);
    const jobsOf = async () => {
      const listed = await h().expect(200, 'GET', `/workspaces/${d.t.workspace.workspaceId}/jobs`, {
        token: d.t.people.viewer.token,
      });
      return Object.fromEntries(listed.data.map((j: { name: string; lastRun: unknown }) => [j.name, j.lastRun]));
    };
    assert.deepEqual(await jobsOf(), { tried: null, never: null });
    const first = await d.trigger('tried');
    await d.claim();
    await d.events([
      { runId: first.runId, seq: 1, status: 'running' },
      { runId: first.runId, seq: 2, status: 'failed', exitCode: 3, reasonCode: 'exit_nonzero' },
    ]);
    const finished = (await jobsOf()).tried as { runId: string; status: string; finishedAt: string | null };
    assert.equal(finished.runId, first.runId);
    assert.equal(finished.status, 'failed');
    assert.ok(finished.finishedAt !== null);
    const second = await d.trigger('tried');
    const latest = await jobsOf();
    assert.deepEqual(latest.tried, {
      runId: second.runId,
      status: 'queued',
      trigger: 'manual',
      queuedAt: second.queuedAt,
      finishedAt: null,
    });
    assert.equal(latest.never, null);
    const one = await h().expect(200, 'GET', `/jobs/${d.jobIds.tried}`, { token: d.t.people.viewer.token });
    assert.equal(one.lastRun.runId, second.runId, 'GET /jobs/{jobId} carries it too');
  });

  it('shows when each scheduled job runs next, in its time zone, across a daylight saving change', async () => {
    const nightly = { trigger: { type: 'cron', cron: '0 2 * * *' }, timezone: 'Europe/Berlin' } as const;
    const d = await deployed(h(), [
      job('nightly', nightly),
      job('paused_nightly', nightly),
      job('hourly', { trigger: { type: 'every', everySeconds: 3600 } }),
      job('launch', { trigger: { type: 'once', at: '2026-03-29T00:30:00.000Z' } }),
      job('by_hand'),
      job('follower', { trigger: { type: 'after', job: 'nightly', on: 'success' } }),
    ]);
    const viewer = d.t.people.viewer.token;
    const nextRuns = async (query = '') => {
      const listed = await h().expect(200, 'GET', `/workspaces/${d.t.workspace.workspaceId}/jobs${query}`, {
        token: viewer,
      });
      return Object.fromEntries(
        listed.data.map((j: { name: string; nextRunAt: string | null }) => [j.name, j.nextRunAt]),
      );
    };
    const pause = (name: string, paused: boolean) =>
      h().expect(200, 'PATCH', `/jobs/${d.jobIds[name]}`, { token: d.t.people.member.token, body: { paused } });
    try {
      // Friday 27 March 2026, Berlin on CET (UTC+1); the clocks go forward at 02:00 on Sunday the 29th.
      h().setClock(new Date('2026-03-27T12:00:00.000Z'));
      await h().plane.scheduler.tick(); // first sight: an `every` schedule counts from here
      await pause('paused_nightly', true);
      assert.deepEqual(await nextRuns(), {
        nightly: '2026-03-28T01:00:00.000Z', // 02:00 CET
        paused_nightly: null,
        hourly: '2026-03-27T13:00:00.000Z',
        launch: '2026-03-29T00:30:00.000Z',
        by_hand: null,
        follower: null,
      });
      // Saturday: that night has no 02:00 in Berlin; the run is at the first instant after the gap, 03:00 CEST.
      h().setClock(new Date('2026-03-28T12:00:00.000Z'));
      const saturday = await nextRuns();
      assert.equal(saturday.nightly, '2026-03-29T01:00:00.000Z');
      assert.equal(saturday.hourly, '2026-03-28T13:00:00.000Z', 'every hour from the first sight, DST or not');
      // Sunday afternoon, on CEST (UTC+2): 02:00 is now midnight UTC, and the `once` has passed.
      h().setClock(new Date('2026-03-29T12:00:00.000Z'));
      const sunday = await nextRuns();
      assert.equal(sunday.nightly, '2026-03-30T00:00:00.000Z');
      assert.equal(sunday.launch, null, 'a once that has passed runs no more');
      await pause('paused_nightly', false);
      const resumed = await h().expect(200, 'GET', `/jobs/${d.jobIds.paused_nightly}`, { token: viewer });
      assert.equal(resumed.nextRunAt, '2026-03-30T00:00:00.000Z', 'resumed, and GET /jobs/{jobId} says it too');

      // A deployment without the nightly job archives it: an archived job runs no more.
      await h().expect(200, 'POST', InternalPaths.deploymentReport, {
        token: d.dpToken,
        body: {
          protocolVersion,
          deploymentId: randomUUID(),
          workspaceId: d.t.workspace.workspaceId,
          digest: `sha256:${'1'.repeat(64)}`,
          sizeBytes: 10,
          createdBy: d.t.people.owner.userId,
          createdAt: new Date().toISOString(),
          jobs: [job('by_hand')],
        },
      });
      assert.equal((await nextRuns('?includeArchived=true')).nightly, null);
    } finally {
      h().resetClock();
    }
  });
});

eachDatabase('interactive runs: one per job unless the manifest says otherwise, and where to open them', (h) => {
  it('answers a second trigger with 409 run_limit_reached naming the active run and its URL', async () => {
    const d = await deployed(h(), [job('explorer', { kind: 'interactive', timeoutSeconds: 3600, maxRunning: 1 })]);
    // The data plane has reported its public URL: the run's URL is built from it.
    await d.heartbeat([]);
    const first = await d.trigger('explorer');
    assert.equal(first.url, `http://127.0.0.1:1/api/v1/interactive/${first.runId}/`);
    const explorer = await h().expect(200, 'GET', `/jobs/${d.jobIds.explorer}`, { token: d.t.people.viewer.token });
    assert.equal(explorer.maxRunning, 1);

    const again = await h().request('POST', `/jobs/${d.jobIds.explorer}/runs`, { token: d.t.people.member.token });
    assert.equal(again.status, 409);
    assert.match(String(again.headers['content-type']), /application\/problem\+json/);
    assert.equal(again.body.code, 'run_limit_reached');
    assert.equal(again.body.runId, first.runId);
    assert.deepEqual(again.body.runIds, [first.runId]);
    assert.equal(again.body.url, first.url);
    assert.equal(again.body.maxRunning, 1);

    // Still refused once claimed and running; a new run may start once it ended.
    await d.claim();
    await d.events([{ runId: first.runId, seq: 1, status: 'running' }]);
    const running = await h().request('POST', `/jobs/${d.jobIds.explorer}/runs`, { token: d.t.people.member.token });
    assert.equal(running.body.code, 'run_limit_reached');
    await d.events([{ runId: first.runId, seq: 2, status: 'succeeded', reasonCode: 'idle_timeout', exitCode: null }]);
    const ended = await d.run(first.runId);
    assert.equal(ended.status, 'succeeded');
    assert.equal(ended.reasonCode, 'idle_timeout');
    const next = await d.trigger('explorer');
    assert.notEqual(next.runId, first.runId);
    const all = await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.explorer}`, { token: d.t.people.viewer.token });
    assert.equal(all.data.length, 2, 'no run was queued by the refused triggers');
  });

  it('counts interactive runs apart from batch ones when the instance gives both capacities', async () => {
    const d = await deployed(h(), [job('app', { kind: 'interactive', timeoutSeconds: 3600 }), job('batch_one')]);
    const app = await d.trigger('app');
    const batch = await d.trigger('batch_one');
    const ids = (answer: { runs: Array<{ runId: string }> }) => answer.runs.map((r) => r.runId);
    assert.deepEqual(ids(await d.claim(0, 0, d.instanceId, [], 0)), [], 'no free slot of either kind');
    assert.deepEqual(ids(await d.claim(0, 0, d.instanceId, [], 1)), [app.runId], 'an app slot takes the app only');
    assert.deepEqual(ids(await d.claim(0, 1, d.instanceId, [app.runId], 0)), [batch.runId]);
  });

  it('allows as many as max_running says, and gives batch runs no URL and no limit', async () => {
    const d = await deployed(h(), [
      job('pair', { kind: 'interactive', maxRunning: 2 }),
      // A report without maxRunning (a data plane from before it) still limits interactive jobs to one.
      job('legacy', { kind: 'interactive' }),
      job('batch'),
    ]);
    const one = await d.trigger('pair');
    const two = await d.trigger('pair');
    assert.notEqual(one.runId, two.runId);
    const third = await h().request('POST', `/jobs/${d.jobIds.pair}/runs`, { token: d.t.people.member.token });
    assert.equal(third.body.code, 'run_limit_reached');
    assert.deepEqual(third.body.runIds, [one.runId, two.runId]);

    await d.trigger('legacy');
    const legacy = await h().request('POST', `/jobs/${d.jobIds.legacy}/runs`, { token: d.t.people.member.token });
    assert.equal(legacy.status, 409);

    const batch = [await d.trigger('batch'), await d.trigger('batch')];
    assert.deepEqual(
      batch.map((r) => r.url),
      [null, null],
    );
  });

  it('skips a due time of a scheduled interactive job while its run is still active', async () => {
    const d = await deployed(h(), [
      job('board', { kind: 'interactive', trigger: { type: 'every', everySeconds: 10 } }),
    ]);
    const runs = async () =>
      (await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.board}`, { token: d.t.people.viewer.token })).data;
    h().freezeClock();
    try {
      await h().plane.scheduler.tick();
      h().advanceClock(10_500);
      await h().plane.scheduler.tick();
      assert.equal((await runs()).length, 1);
      h().advanceClock(10_000);
      await h().plane.scheduler.tick();
      assert.equal((await runs()).length, 1, 'the next due time found the first run active, and was skipped');
    } finally {
      h().advanceClock(-20_500);
      h().unfreezeClock();
    }
  });
});

eachDatabase('scheduler', (h) => {
  it('fires a once job once at its time, and never again', async () => {
    const at = new Date(Date.now() + 5_000);
    const d = await deployed(h(), [job('launch', { trigger: { type: 'once', at: at.toISOString() } })], 'once');
    const count = async () =>
      (await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.launch}`, { token: d.t.people.viewer.token })).data.length;
    h().freezeClock();
    try {
      await h().plane.scheduler.tick(); // first sight: due at its time, nothing fires
      assert.equal(await count(), 0);
      h().advanceClock(6_000);
      await h().plane.scheduler.tick();
      assert.equal(await count(), 1, 'it fired at its time');
      h().advanceClock(60_000);
      await h().plane.scheduler.tick();
      assert.equal(await count(), 1, 'and never again');
    } finally {
      h().advanceClock(-66_000);
      h().unfreezeClock();
    }
  });

  it('fires the other organizations’ jobs while a job’s stored schedule cannot be computed', async () => {
    // A schedule a report can no longer bring (deployment-reports.test.ts), as a version
    // before that check stored it: one such job failed every tick, for every tenant.
    const rogue = await deployed(h(), [job('rogue', { trigger: { type: 'cron', cron: '0 3 * * *' } })], 'rogue');
    await h().plane.deps.db.query(
      `UPDATE jobs SET trigger = '{"type":"cron","cron":"not a cron"}'::jsonb WHERE job_id = $1`,
      [rogue.jobIds.rogue],
    );
    const victim = await deployed(h(), [job('tenstep', { trigger: { type: 'every', everySeconds: 10 } })], 'victim');
    h().freezeClock();
    try {
      await h().plane.scheduler.tick(); // first sight: due times set (none for the rogue job), nothing fires
      h().advanceClock(10_500);
      await h().plane.scheduler.tick();
      const runs = await h().expect(200, 'GET', `/runs?jobId=${victim.jobIds.tenstep}`, {
        token: victim.t.people.viewer.token,
      });
      assert.equal(runs.data.length, 1, 'the other organization’s schedule fired');
      const listed = await h().expect(200, 'GET', `/workspaces/${rogue.t.workspace.workspaceId}/jobs`, {
        token: rogue.t.people.viewer.token,
      });
      assert.equal(listed.data[0].nextRunAt, null, 'the job that cannot fire says it will not');
    } finally {
      h().advanceClock(-10_500);
      h().unfreezeClock();
    }
  });

  it('fires each due time once, skips paused jobs and a due time while its earlier run waits, and catches up once after downtime', async () => {
    const d = await deployed(h(), [job('every_second', { trigger: { type: 'cron', cron: '* * * * * *' } })]);
    const count = async () =>
      (await h().expect(200, 'GET', `/runs?jobId=${d.jobIds.every_second}`, { token: d.t.people.viewer.token })).data;
    h().freezeClock();
    await h().plane.scheduler.tick(); // first sight: the next due time is set, nothing fires
    h().advanceClock(1_100);
    await h().plane.scheduler.tick();
    await h().plane.scheduler.tick(); // a second tick in the same second fires nothing more
    const once = await count();
    assert.equal(once.length, 1);
    assert.equal(once[0].trigger, 'schedule');
    assert.ok(once[0].scheduledFor !== null);
    // Its data plane has not taken it yet (down, say): the next due times are skipped
    // until it has, rather than piling up runs it would run all at once when back.
    h().advanceClock(1_000);
    await h().plane.scheduler.tick();
    assert.equal((await count()).length, 1, 'a due time is skipped while the earlier run waits in the queue');
    assert.deepEqual(
      (await d.claim()).runs.map((r: { runId: string }) => r.runId),
      [once[0].runId],
    );

    await h().expect(200, 'PATCH', `/jobs/${d.jobIds.every_second}`, {
      token: d.t.people.member.token,
      body: { paused: true },
    });
    h().advanceClock(2_000);
    await h().plane.scheduler.tick();
    assert.equal((await count()).length, 1, 'a paused job does not fire');
    await h().expect(200, 'PATCH', `/jobs/${d.jobIds.every_second}`, {
      token: d.t.people.member.token,
      body: { paused: false },
    });

    h().advanceClock(60_000); // a minute of downtime: 60 missed due times
    await h().plane.scheduler.tick();
    const after = await count();
    assert.equal(after.length, 2, 'the most recent missed time fires once; older ones are skipped');
    h().advanceClock(-64_100);
    h().unfreezeClock();
  });

  it('pages through every run one tick queued, though they share one queued time to the microsecond', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const d = await deployed(
      h(),
      names.map((name) => job(name, { trigger: { type: 'cron', cron: '* * * * * *' } })),
    );
    h().freezeClock();
    await h().plane.scheduler.tick(); // first sight: the next due times are set
    h().advanceClock(1_100);
    await h().plane.scheduler.tick(); // all five fire in one transaction
    h().advanceClock(-1_100);
    h().unfreezeClock();
    const token = d.t.people.viewer.token;
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 5; page++) {
      const answer = await h().expect(200, 'GET', `/runs?workspaceId=${d.t.workspace.workspaceId}&limit=2${cursor}`, {
        token,
      });
      seen.push(...answer.data.map((r: { jobName: string }) => r.jobName));
      if (answer.nextCursor === null) break;
      cursor = `&cursor=${answer.nextCursor}`;
    }
    assert.deepEqual([...seen].sort(), names);
  });
});

eachDatabase('claims lost in transit', (h) => {
  it('requeues a claim the instance took in but does not list; one answered after its list stays, however late', async () => {
    const d = await deployed(h(), [job('in_flight')]);
    const queued = await d.trigger('in_flight');
    const claimed = await d.claim();
    assert.equal(claimed.runs[0]?.runId, queued.runId);
    assert.ok(Number.isInteger(claimed.claimSeq) && claimed.claimSeq >= 1, 'the answer numbers its claim');
    // A heartbeat listed what the instance held just before this answer arrived, and is
    // read long after: the run is on its way to the instance, and must not be handed to
    // another one (it would run on both).
    h().advanceClock(11_000);
    try {
      await d.heartbeat([], d.instanceId, claimed.claimSeq - 1);
      assert.equal((await d.run(queued.runId)).status, 'claimed');
      assert.deepEqual((await d.claim(0, 10, randomUUID())).runs, [], 'another instance gets nothing');
      // Its next heartbeat says it took that claim in, and still does not list the run:
      // the answer was lost on the way.
      await d.heartbeat([], d.instanceId, claimed.claimSeq);
      assert.equal((await d.run(queued.runId)).status, 'queued');
      const again = await d.claim();
      assert.equal(again.runs[0]?.runId, queued.runId, 'and it is handed out again');
      assert.ok(again.claimSeq > claimed.claimSeq, 'under a later number');
    } finally {
      h().advanceClock(-11_000);
    }
  });

  it('a claim request whose requeue is applied late leaves alone a run claimed after it arrived', async (t) => {
    // Row locks are PostgreSQL's: PGlite runs one statement at a time, so none waits there.
    if (h().target !== 'postgres') return t.skip('PostgreSQL only');
    const d = await deployed(h(), [job('held_up')]);
    const queued = await d.trigger('held_up');
    await d.claim(); // claimed; this answer "never arrives"
    const { db } = h().plane.deps;
    h().freezeClock();
    const { promise: release, resolve: letGo } = Promise.withResolvers<void>();
    const { promise: locked, resolve: isLocked } = Promise.withResolvers<void>();
    try {
      // Another transaction holds the run (as a batch of run events or a heartbeat would),
      // and in it a later claim hands the run to the instance again, a second after the
      // request below arrived: the instance got that one, and does not list it yet.
      const later = db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM runs WHERE run_id = $1 FOR UPDATE', [queued.runId]);
        isLocked();
        await release;
        await tx.query(`UPDATE runs SET claimed_at = $2, claim_seq = nextval('run_claim_seq') WHERE run_id = $1`, [
          queued.runId,
          new Date(h().now().getTime() + 1_000),
        ]);
      });
      await locked;
      // The instance's next claim lists what it held when it asked (nothing): its requeue
      // waits for the run's lock, and is applied after the later claim.
      const stale = d.claim(0, 0, d.instanceId, []);
      for (let waited = 0; ; waited += 20) {
        const [row] = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE runs SET status = ''queued''%'",
        );
        if ((row?.n ?? 0) > 0) break;
        assert.ok(waited < 10_000, 'the requeue waits for the run');
        await new Promise((r) => setTimeout(r, 20));
      }
      letGo();
      await later;
      await stale;
      assert.equal((await d.run(queued.runId)).status, 'claimed', 'the run the instance got stays its own');
    } finally {
      letGo();
      h().unfreezeClock();
    }
  });

  it('from an older data plane (no claimedThrough), requeues an unlisted claim once a few seconds old', async () => {
    const d = await deployed(h(), [job('lost_answer')]);
    const queued = await d.trigger('lost_answer');
    await d.claim(); // the answer "never arrives": the instance does not list the run as held
    await d.heartbeat([]);
    assert.equal((await d.run(queued.runId)).status, 'claimed', 'a fresh claim may just be newer than the heartbeat');
    h().advanceClock(11_000);
    try {
      await d.heartbeat([]);
      assert.equal((await d.run(queued.runId)).status, 'queued');
      const again = await d.claim();
      assert.equal(again.runs[0]?.runId, queued.runId, 'and it is handed out again');
    } finally {
      h().advanceClock(-11_000);
    }
  });

  it('hands an undelivered claim out again on the instance’s next claim, which lists what it holds', async () => {
    const d = await deployed(h(), [job('lost_claim'), job('kept_claim')]);
    const kept = await d.trigger('kept_claim');
    assert.deepEqual(
      (await d.claim(0, 10, d.instanceId, [])).runs.map((r: { runId: string }) => r.runId),
      [kept.runId],
    );
    const lost = await d.trigger('lost_claim');
    await d.claim(); // this answer "never arrives"
    assert.equal((await d.run(lost.runId)).status, 'claimed');
    const again = await d.claim(0, 10, d.instanceId, [kept.runId]);
    assert.deepEqual(
      again.runs.map((r: { runId: string }) => r.runId),
      [lost.runId],
      'the lost answer’s run comes back at once; the held one stays held',
    );
    assert.equal((await d.run(kept.runId)).status, 'claimed');
  });
});
