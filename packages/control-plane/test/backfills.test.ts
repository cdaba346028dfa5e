import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { JobMetadata } from '@sovereign/contract';
import { eachDatabase, type Harness } from './support/harness.ts';
import { deployed as deployedTenant, job } from './support/protocol.ts';
import { assertProblem } from './support/routes.ts';

type ListedRun = {
  runId: string;
  status: string;
  trigger: string;
  attempt: number;
  intervalStart: string | null;
  intervalEnd: string | null;
  backfillId: string | null;
};

/** The protocol's tenant (support/protocol.ts), with the calls about a job's backfills and runs by interval. */
async function deployed(h: Harness, jobs: JobMetadata[]) {
  const d = await deployedTenant(h, jobs, 'backfills');
  const { t, jobIds } = d;
  /** A job's runs by the interval they cover (runs queued together share their queued time). */
  const runsOf = async (name: string): Promise<ListedRun[]> =>
    (await h.expect(200, 'GET', `/runs?jobId=${jobIds[name]}&limit=200`, { token: t.people.viewer.token })).data.sort(
      (a: ListedRun, b: ListedRun) => (a.intervalEnd ?? '').localeCompare(b.intervalEnd ?? '') || a.attempt - b.attempt,
    );
  const backfill = (name: string, body: Record<string, unknown>) =>
    h.request('POST', `/jobs/${jobIds[name]}/backfills`, { token: t.people.member.token, body });
  const getBackfill = (backfillId: string) =>
    h.expect(200, 'GET', `/backfills/${backfillId}`, { token: t.people.viewer.token });
  return { ...d, runsOf, backfill, getBackfill };
}

const active = (runs: ListedRun[]) => runs.filter((r) => ['queued', 'claimed', 'running'].includes(r.status));

/** The days of November 2026, each from its midnight UTC to the next. */
const november = Array.from({ length: 30 }, (_, i) => [
  new Date(Date.UTC(2026, 10, 1 + i)).toISOString(),
  new Date(Date.UTC(2026, 10, 2 + i)).toISOString(),
]);

eachDatabase('backfills and intervals', (h) => {
  it('gives a scheduled run the interval from its previous due time: 23 hours over a DST change, one step for every', async () => {
    const d = await deployed(h(), [
      job('nightly', { trigger: { type: 'cron', cron: '0 2 * * *' }, timezone: 'Europe/Berlin', retries: 1 }),
      job('hourly', { trigger: { type: 'every', everySeconds: 3600 } }),
    ]);
    try {
      // Saturday 28 March 2026, Berlin on CET; its clocks go forward at 02:00 on Sunday the 29th.
      h().setClock(new Date('2026-03-28T12:00:00.000Z'));
      await h().plane.scheduler.tick(); // first sight: the hourly schedule counts from here
      // Sunday, just after 03:00 CEST, the first instant after the gap: the nightly run is due.
      h().setClock(new Date('2026-03-29T01:00:01.000Z'));
      assert.equal(await h().plane.scheduler.tick(), 2);
      const [nightly] = await d.runsOf('nightly');
      assert.deepEqual(
        [nightly?.trigger, nightly?.intervalStart, nightly?.intervalEnd],
        ['schedule', '2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z'],
        'from 02:00 CET on Saturday to 03:00 CEST on Sunday: 23 hours',
      );
      const [hourly] = await d.runsOf('hourly');
      assert.deepEqual(
        [hourly?.intervalStart, hourly?.intervalEnd],
        ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z'],
      );

      // The claim hands the interval to the data plane.
      const claimed = (await d.claim()).runs as Array<{ runId: string; intervalStart?: string; intervalEnd?: string }>;
      const handed = claimed.find((r) => r.runId === nightly?.runId);
      assert.deepEqual([handed?.intervalStart, handed?.intervalEnd], [nightly?.intervalStart, nightly?.intervalEnd]);

      // Its retry covers the same interval; a manual run covers none.
      await d.events([
        { runId: nightly?.runId as string, seq: 1, status: 'failed', exitCode: 1, reasonCode: 'exit_nonzero' },
      ]);
      const retry = (await d.runsOf('nightly')).find((r) => r.attempt === 2);
      assert.deepEqual(
        [retry?.trigger, retry?.intervalStart, retry?.intervalEnd],
        ['retry', nightly?.intervalStart, nightly?.intervalEnd],
      );
      const manual = await h().expect(200, 'POST', `/jobs/${d.jobIds.hourly}/runs`, { token: d.t.people.member.token });
      assert.deepEqual([manual.intervalStart, manual.intervalEnd, manual.backfillId], [null, null, null]);
    } finally {
      h().resetClock();
    }
  });

  it('backfills 30 daily intervals with 30 runs, two at a time and in order; a second backfill queues none', async () => {
    const d = await deployed(h(), [job('sync', { trigger: { type: 'cron', cron: '0 0 * * *' } })]);
    const created = await d.backfill('sync', { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' });
    assert.equal(created.status, 200, created.text);
    const b = created.body;
    assert.deepEqual(
      [b.intervals, b.toRun, b.skipped, b.maxRunning, b.status, b.jobName],
      [30, 30, 0, 2, 'running', 'sync'],
    );
    assert.equal(active(await d.runsOf('sync')).length, 2, 'two queued at once');

    // The data plane runs what it is handed, each to success, until nothing is left.
    let most = 0;
    let lastEnd = '';
    for (let round = 0; round < 40; round++) {
      const handed = (await d.claim()).runs as Array<{ runId: string; intervalStart: string; intervalEnd: string }>;
      if (handed.length === 0) break;
      // In order: each claim's intervals come after those of the claims before it.
      const starts = handed.map((r) => r.intervalStart).sort();
      assert.ok((starts[0] as string) >= lastEnd, `round ${round}: ${starts} after ${lastEnd}`);
      lastEnd = handed
        .map((r) => r.intervalEnd)
        .sort()
        .at(-1) as string;
      const going = active(await d.runsOf('sync'));
      most = Math.max(most, going.length);
      assert.ok(going.length <= 2, `round ${round}: ${going.length} runs active at once`);
      // Each run's end in a request of its own, at once: two ends race for the next
      // interval (as on two control plane replicas), and each interval still runs once.
      await Promise.all(
        handed.map((r) =>
          d.events([
            { runId: r.runId, seq: 1, status: 'running' },
            { runId: r.runId, seq: 2, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' },
          ]),
        ),
      );
    }
    assert.equal(most, 2);
    const runs = await d.runsOf('sync');
    assert.deepEqual(
      runs.map((r) => [r.intervalStart, r.intervalEnd]),
      november,
      'one run per day of November',
    );
    assert.ok(runs.every((r) => r.status === 'succeeded' && r.trigger === 'backfill' && r.backfillId === b.backfillId));
    const done = await d.getBackfill(b.backfillId);
    assert.deepEqual([done.status, done.succeeded, done.failed, done.active, done.waiting], ['done', 30, 0, 0, 0]);
    assert.ok(done.finishedAt !== null);

    // The same range again: every interval already succeeded, so nothing runs.
    const again = await d.backfill('sync', { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' });
    assert.deepEqual(
      [again.body.intervals, again.body.toRun, again.body.skipped, again.body.status],
      [30, 0, 30, 'done'],
    );
    assert.equal((await d.runsOf('sync')).length, 30, 'no run queued');

    // Forced, they run again (two at once); cancelled, its queued runs end and no more are queued.
    const forced = await d.backfill('sync', {
      from: '2026-11-01T00:00:00Z',
      to: '2026-12-01T00:00:00Z',
      force: true,
      maxRunning: 3,
    });
    assert.deepEqual([forced.body.toRun, forced.body.skipped, forced.body.active], [30, 0, 3]);
    const [first] = (await d.claim(0, 1)).runs as Array<{ runId: string }>;
    const cancelled = await h().expect(200, 'POST', `/backfills/${forced.body.backfillId}/cancel`, {
      token: d.t.people.member.token,
    });
    assert.deepEqual([cancelled.status, cancelled.active, cancelled.failed], ['cancelled', 1, 2]);
    await d.events([
      { runId: first?.runId as string, seq: 1, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' },
    ]);
    const after = await d.runsOf('sync');
    assert.equal(after.length, 33, 'no run queued after the cancel');
    assert.deepEqual(active(after), []);
    const ended = await d.getBackfill(forced.body.backfillId);
    assert.deepEqual([ended.status, ended.succeeded, ended.failed, ended.waiting], ['cancelled', 1, 2, 27]);

    const listed = await h().expect(200, 'GET', `/jobs/${d.jobIds.sync}/backfills`, { token: d.t.people.viewer.token });
    assert.deepEqual(
      listed.data.map((x: { backfillId: string }) => x.backfillId),
      [forced.body.backfillId, again.body.backfillId, b.backfillId],
    );
  });

  it('reads cron intervals in the job’s time zone: a day of 25 hours when the clocks go back', async () => {
    const d = await deployed(h(), [
      job('berlin', { trigger: { type: 'cron', cron: '0 0 * * *' }, timezone: 'Europe/Berlin' }),
    ]);
    const created = await d.backfill('berlin', {
      from: '2026-10-24T00:00:00+02:00',
      to: '2026-10-27T00:00:00+01:00',
      maxRunning: 10,
    });
    assert.equal(created.body.toRun, 3, created.text);
    assert.deepEqual(
      (await d.runsOf('berlin')).map((r) => [r.intervalStart, r.intervalEnd]),
      [
        ['2026-10-23T22:00:00.000Z', '2026-10-24T22:00:00.000Z'],
        ['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
        ['2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z'],
      ],
    );
  });

  it('queues a run the job’s own max_running held back at the next scheduler tick', async () => {
    const d = await deployed(h(), [job('single', { trigger: { type: 'cron', cron: '0 0 * * *' }, maxRunning: 1 })]);
    const manual = await h().expect(200, 'POST', `/jobs/${d.jobIds.single}/runs`, { token: d.t.people.member.token });
    const created = await d.backfill('single', { from: '2026-11-01T00:00:00Z', to: '2026-11-03T00:00:00Z' });
    assert.deepEqual([created.body.toRun, created.body.active, created.body.waiting], [2, 0, 2], created.text);
    const [claimed] = (await d.claim()).runs as Array<{ runId: string }>;
    assert.equal(claimed?.runId, manual.runId);
    await d.events([{ runId: manual.runId, seq: 1, status: 'succeeded', exitCode: 0, reasonCode: 'exit_zero' }]);
    assert.equal(
      (await d.getBackfill(created.body.backfillId)).active,
      0,
      'the manual run’s end is not the backfill’s',
    );
    await h().plane.scheduler.tick();
    const ticked = await d.getBackfill(created.body.backfillId);
    assert.deepEqual([ticked.active, ticked.waiting, ticked.status], [1, 1, 'running']);
  });

  it('refuses a range that is empty or too large, and a job without intervals, with 422 and a stable code', async () => {
    const d = await deployed(h(), [
      job('minutely', { trigger: { type: 'every', everySeconds: 60 } }),
      job('by_hand'),
      job('launch', { trigger: { type: 'once', at: '2026-12-24T18:00:00Z' } }),
    ]);
    assertProblem(
      await d.backfill('minutely', { from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }),
      422,
      'backfill_range_invalid',
      'to before from',
    );
    assertProblem(
      await d.backfill('minutely', { from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z' }),
      422,
      'backfill_too_large',
      '1440 intervals',
    );
    assertProblem(
      await d.backfill('by_hand', { from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z' }),
      422,
      'job_not_scheduled',
      'manual',
    );
    assertProblem(
      await d.backfill('launch', { from: '2026-11-01T00:00:00Z', to: '2026-12-31T00:00:00Z' }),
      422,
      'job_not_scheduled',
      'once',
    );
    assertProblem(
      await d.backfill('minutely', { from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', maxRunning: 11 }),
      400,
      'validation_failed',
      'maxRunning 11',
    );
    assert.deepEqual(await d.runsOf('minutely'), []);
  });
});
