import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertProblem, flowTarget } from '@sovereign/server-kit/testing';
import { call, expectStatus, Platform } from '../support/platform.ts';

/**
 * Noisy neighbours (issue 16, point 11): tenants of one data plane share its slots. A
 * tenant who queues thirty runs must not keep another tenant's one short run waiting
 * behind them all; a workspace runs no more batch runs at once than its limit, which only
 * an admin of the data plane's organization sets; and triggers are rate limited per
 * workspace. The data plane has two slots, so any unfairness shows.
 */
const project = {
  'sovereign.yaml': 'jobs:\n  - name: slow\n    run: sh slow.sh\n  - name: quick\n    run: sh quick.sh\n',
  'slow.sh': 'sleep 0.5; echo slow done\n',
  'quick.sh': 'echo quick done\n',
};

// Above the thirty runs the first test queues in one workspace.
const triggerLimit = 45;

interface RunBody {
  runId: string;
  status: string;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const target = flowTarget();

describe(`fair claims between workspaces, run limits, trigger limits, real processes [${target.name}]`, () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start(target, {
      dataplaneEnv: { SOV_CAPACITY: '2' },
      controlPlaneEnv: { SOV_TRIGGER_LIMIT_PER_WORKSPACE: String(triggerLimit) },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  async function deployed(label: string) {
    const t = await platform.tenant('eu', label);
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, project);
    const trigger = (job: 'slow' | 'quick') =>
      expectStatus<RunBody>(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token });
    const runs = async () =>
      (
        await expectStatus<{ data: RunBody[] }>(
          200,
          'GET',
          `${platform.cp}/runs?workspaceId=${t.workspace.workspaceId}&limit=200`,
          { token: t.token },
        )
      ).data;
    return { t, jobs, trigger, runs };
  }

  it("one tenant's thirty queued runs do not keep another tenant's run waiting behind them", async () => {
    const noisy = await deployed('noisy');
    const quiet = await deployed('quiet');
    for (let i = 0; i < 20; i++) await noisy.trigger('slow');
    const mine = await quiet.trigger('quick');
    for (let i = 0; i < 10; i++) await noisy.trigger('slow');
    await platform.waitFor(
      async () => (await noisy.runs()).every((r) => r.status === 'succeeded'),
      "the noisy tenant's runs to end",
      120_000,
    );
    const ran = (await call('GET', `${platform.cp}/runs/${mine.runId}`, { token: quiet.t.token })).body as RunBody;
    assert.equal(ran.status, 'succeeded');
    // First come, first served starts every run queued before it first (two slots may
    // start one a moment out of order). Fairly, the noisy backlog waits behind it.
    const overtaken = (await noisy.runs()).filter(
      (r) =>
        Date.parse(r.queuedAt) < Date.parse(ran.queuedAt) &&
        Date.parse(r.startedAt as string) > Date.parse(ran.startedAt as string),
    );
    assert.ok(
      overtaken.length >= 5,
      `the quiet tenant's run waited behind the noisy tenant's backlog: it overtook ${overtaken.length} runs queued before it`,
    );
  });

  it("runs no more of a workspace's batch runs at once than its limit, set by the data plane's admins only", async () => {
    const limited = await deployed('limited');
    const ws = `${platform.cp}/workspaces/${limited.t.workspace.workspaceId}`;
    // The workspace's own owner is no admin of the data plane's organization (the instance's default).
    assertProblem(
      await call('PATCH', ws, { token: limited.t.token, body: { maxConcurrentRuns: 100 } }),
      403,
      'insufficient_role',
      'a tenant raising its own limit on a shared data plane',
    );
    assert.equal((await expectStatus(200, 'GET', ws, { token: limited.t.token })).maxConcurrentRuns, null);
    const set = await expectStatus(200, 'PATCH', ws, { token: platform.adminToken, body: { maxConcurrentRuns: 1 } });
    assert.equal(set.maxConcurrentRuns, 1);
    // Renaming is still the workspace admin's, and leaves the limit alone.
    const renamed = await expectStatus(200, 'PATCH', ws, { token: limited.t.token, body: { name: 'renamed-ws' } });
    assert.equal(renamed.maxConcurrentRuns, 1);

    for (let i = 0; i < 4; i++) await limited.trigger('slow');
    let runs: RunBody[] = [];
    await platform.waitFor(
      async () => {
        runs = await limited.runs();
        return runs.length === 4 && runs.every((r) => r.status === 'succeeded');
      },
      'the four runs to succeed',
      60_000,
    );
    const spans = runs
      .map((r) => ({ start: Date.parse(r.startedAt as string), end: Date.parse(r.finishedAt as string) }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) {
      const [before, now] = [spans[i - 1], spans[i]] as [{ end: number }, { start: number }];
      assert.ok(now.start >= before.end, `run ${i + 1} started while run ${i} was running: ${JSON.stringify(spans)}`);
    }

    const reset = await expectStatus(200, 'PATCH', ws, {
      token: platform.adminToken,
      body: { maxConcurrentRuns: null },
    });
    assert.equal(reset.maxConcurrentRuns, null);
    assertProblem(
      await call('PATCH', ws, { token: platform.adminToken, body: { maxConcurrentRuns: 0 } }),
      400,
      'validation_failed',
      'a limit of 0',
    );
  });

  it('rate limits triggers per workspace: a looping script gets 429, its neighbours do not', async () => {
    const looping = await deployed('looping');
    const neighbour = await deployed('neighbour');
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < triggerLimit * 2 && refused === undefined; i++) {
      const answer = await call('POST', `${platform.cp}/jobs/${looping.jobs.quick}/runs`, { token: looping.t.token });
      if (answer.status !== 200) refused = answer;
    }
    assert.ok(refused !== undefined, `${triggerLimit * 2} triggers in a row were all accepted`);
    assertProblem(refused, 429, 'rate_limited', 'a trigger past the limit');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After says when to try again');
    await neighbour.trigger('quick');
  });
});
