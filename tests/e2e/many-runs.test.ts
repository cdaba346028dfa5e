import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InternalPaths, type Run, type RunEventsRequest } from '@sovereign/contract';
import { flowTarget } from '@sovereign/server-kit/testing';
import { expectStatus, Platform } from '../support/platform.ts';
import { decoded } from '../support/tap.ts';

/**
 * Many short runs (issue 23): run events travel in batches and a slot is freed as soon as
 * its process ends, so this is where a lost or doubled event would show. Runs of a job
 * that does nothing, with the control plane restarted while they run: every
 * one ends succeeded in its first attempt, and the control plane heard, for each, its
 * running event and then its end, and nothing else (a redelivery after the restart
 * repeats an event, never adds one: an attempt started twice would have a third).
 */
// 5,000 is the issue's figure: `SOV_TEST_MANY_RUNS=5000 node --test tests/e2e/many-runs.test.ts`
// (about seven minutes here). `npm test` runs 100, which keeps CI within its time.
const runs = Number(process.env.SOV_TEST_MANY_RUNS ?? 100);
const inFlight = 8;
const target = flowTarget();

describe(`${runs} short runs across a control plane restart, real processes [${target.name}]`, () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start(target, {
      tap: true,
      controlPlaneEnv: { SOV_TRIGGER_LIMIT_PER_WORKSPACE: '0', SOV_WORKSPACE_RUN_LIMIT: '100' },
      dataplaneEnv: { SOV_CAPACITY: '4', SOV_LOG_LEVEL: 'warn' },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('ends every run once, succeeded, with its events in order and none lost', async () => {
    const t = await platform.tenant('eu', 'many');
    const ws = t.workspace.workspaceId;
    const { jobs } = await platform.deploy(t.token, ws, {
      'sovereign.yaml': 'jobs:\n  - name: blink\n    run: "true"\n',
    });
    const triggered: string[] = [];
    const trigger = async (count: number) => {
      const workers = Array.from({ length: inFlight }, async () => {
        while (triggered.length < count) {
          triggered.push('');
          const at = triggered.length - 1;
          triggered[at] = (
            await expectStatus<Run>(200, 'POST', `${platform.cp}/jobs/${jobs.blink}/runs`, { token: t.token })
          ).runId;
        }
      });
      await Promise.all(workers);
    };
    await trigger(Math.floor(runs / 2));
    // Restarted while half of them are queued or running: claims held open, leases and
    // event deliveries are cut, and pick up again.
    await platform.controlPlane.stop('SIGTERM');
    await platform.startControlPlane();
    await trigger(runs);

    const page = async (status: string, cursor?: string) =>
      expectStatus<{ data: Run[]; nextCursor: string | null }>(
        200,
        'GET',
        `${platform.cp}/runs?workspaceId=${ws}&status=${status}&limit=200${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        { token: t.token },
      );
    await platform.waitFor(
      async () => {
        for (const status of ['queued', 'claimed', 'running']) if ((await page(status)).data.length > 0) return false;
        return true;
      },
      `all ${runs} runs to end`,
      900_000,
    );
    const ended = new Map<string, Run>();
    for (const status of ['succeeded', 'failed', 'lost', 'timed_out', 'cancelled']) {
      let cursor: string | undefined;
      do {
        const answer = await page(status, cursor);
        for (const run of answer.data) ended.set(run.runId, run);
        cursor = answer.nextCursor ?? undefined;
      } while (cursor !== undefined);
    }
    assert.equal(ended.size, runs, 'no run more than those triggered (no retry was needed)');
    const notSucceeded = triggered.filter((runId) => ended.get(runId)?.status !== 'succeeded');
    assert.deepEqual(notSucceeded, [], 'every run succeeded');
    assert.ok(
      [...ended.values()].every((run) => run.attempt === 1 && run.exitCode === 0),
      'each in its first attempt',
    );

    // What the control plane accepted, run by run, in the order it was told.
    const heard = new Map<string, string[]>();
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    for (const { request } of tap.json(InternalPaths.runEvents)) {
      for (const event of (request as RunEventsRequest).events) {
        const said = heard.get(event.runId) ?? [];
        const line = `${event.seq} ${event.status}`;
        // A delivery repeated after the restart (its answer was cut) says nothing new.
        if (!said.includes(line)) said.push(line);
        heard.set(event.runId, said);
      }
    }
    const odd = triggered.filter((runId) => heard.get(runId)?.join(', ') !== '1 running, 2 succeeded');
    // For each, every exchange between the planes that named it, in order: what to read first.
    const story = (runId: string) =>
      tap.exchanges
        .map((e, i) => ({
          i,
          e,
          text: `${decoded(e.requestBody, e.requestHeaders['content-encoding'])} ${decoded(e.responseBody, e.responseHeaders['content-encoding'])}`,
        }))
        .filter(({ text }) => text.includes(runId))
        .map(({ i, e, text }) => `#${i} ${e.url} ${e.status}: ${text.replaceAll(/\s+/g, ' ').slice(0, 600)}`);
    for (const runId of odd.slice(0, 2)) console.log(`run ${runId}:\n${story(runId).join('\n')}`);
    assert.deepEqual(
      odd.slice(0, 5).map((runId) => ({ runId, heard: heard.get(runId) })),
      [],
      `${odd.length} runs whose events were not their running event and then their end, once`,
    );
    // A batch carries several runs' events: fewer calls than events.
    const calls = tap.json(InternalPaths.runEvents).length;
    console.log(`${runs} runs: ${calls} run event deliveries for ${2 * runs} events`);
  });
});
