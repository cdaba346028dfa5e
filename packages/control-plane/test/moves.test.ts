import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { ErrorCode, InternalPaths, type JobMetadata, protocolVersion } from '@sovereign/contract';
import { eachDatabase, type Harness } from './support/harness.ts';
import { deployed, job } from './support/protocol.ts';

/**
 * Moving a workspace to another region (issue 22), as the control plane records it: the
 * new workspace, the old one frozen (no schedule, trigger, backfill or token that can
 * write), the new one's jobs paused until the move completes, and then resumed as they
 * were. The data is copied by the client between the data planes (tests/e2e/moves.test.ts);
 * here the data planes' reports are sent by the test, as a data plane sends them.
 */

/** The digest the `deployed` helper reports for the old workspace's deployment. */
const oldDigest = `sha256:${'0'.repeat(64)}`;

/** A deployed workspace (a scheduled job, a manual one, a paused one), and a second region with a data plane. */
async function movable(h: Harness, label: string) {
  const d = await deployed(
    h,
    [
      job('sync', { trigger: { type: 'every', everySeconds: 60 } }),
      job('report'),
      job('quiet', { trigger: { type: 'every', everySeconds: 60 } }),
    ],
    label,
  );
  const owner = d.t.people.owner;
  await h.expect(200, 'PATCH', `/jobs/${d.jobIds.quiet}`, { token: owner.token, body: { paused: true } });
  const euName = h.unique('eu');
  const euRegionId = await h.region(owner.token, d.t.organizationId, euName);
  const euPlane = await h.dataplane(owner.token, euRegionId);
  const { access_token: euToken } = await h.expect(200, 'POST', InternalPaths.token, {
    body: { client_id: euPlane.clientId, client_secret: euPlane.clientSecret },
  });
  /** A deployment report from the eu data plane, as it sends one once a client uploaded a bundle there. */
  const reportToEu = (workspaceId: string, jobs: JobMetadata[], digest = oldDigest) =>
    h.expect(200, 'POST', InternalPaths.deploymentReport, {
      token: euToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId,
        digest,
        sizeBytes: 10,
        createdBy: owner.userId,
        createdAt: new Date().toISOString(),
        jobs,
      },
    });
  const start = (token = owner.token, regionId = euRegionId, name?: string) =>
    h.request('POST', `/workspaces/${d.t.workspace.workspaceId}/move`, {
      token,
      body: { regionId, ...(name === undefined ? {} : { name }) },
    });
  const complete = (token = owner.token) =>
    h.request('POST', `/workspaces/${d.t.workspace.workspaceId}/move/complete`, { token });
  const jobsOf = async (workspaceId: string) =>
    Object.fromEntries(
      (await h.expect(200, 'GET', `/workspaces/${workspaceId}/jobs`, { token: owner.token })).data.map(
        (j: { name: string; paused: boolean; jobId: string; nextRunAt: string | null }) => [j.name, j],
      ),
    ) as Record<string, { jobId: string; paused: boolean; nextRunAt: string | null }>;
  return { d, owner, euName, euRegionId, euPlane, reportToEu, start, complete, jobsOf };
}

const allJobs = [
  job('sync', { trigger: { type: 'every', everySeconds: 60 } }),
  job('report'),
  job('quiet', { trigger: { type: 'every', everySeconds: 60 } }),
];

eachDatabase('moving a workspace to another region', (h) => {
  it('starts a move once: a new workspace in the region, same organization; started again, the same move answers', async () => {
    const m = await movable(h(), 'start');
    const oldId = m.d.t.workspace.workspaceId;
    // Admins and up, as for creating a workspace.
    for (const role of ['viewer', 'member'] as const) {
      const refused = await m.start(m.d.t.people[role].token);
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.code, ErrorCode.insufficientRole);
    }
    const same = await m.start(m.owner.token, m.d.t.regionId);
    assert.equal(same.status, 409);
    assert.equal(same.body.code, ErrorCode.moveSameRegion);

    const first = await m.start(m.d.t.people.admin.token);
    assert.equal(first.status, 200, first.text);
    const move = first.body;
    assert.equal(move.status, 'in_progress');
    assert.equal(move.fromWorkspaceId, oldId);
    assert.equal(move.toRegionId, m.euRegionId);
    assert.equal(move.toDataResidency, m.euName.toLowerCase());
    const old = await h().expect(200, 'GET', `/workspaces/${oldId}`, { token: m.owner.token });
    assert.equal(
      move.toWorkspaceName,
      `${old.name}-${m.euName.toLowerCase()}`,
      'named after the old one and the region',
    );
    const target = await h().expect(200, 'GET', `/workspaces/${move.toWorkspaceId}`, { token: m.owner.token });
    assert.equal(target.organizationId, m.d.t.organizationId);
    assert.equal(target.regionId, m.euRegionId);
    assert.equal(target.dataplaneId, m.euPlane.dataplaneId);
    assert.deepEqual(old.movedTo, move, 'the old workspace says where it went');
    assert.deepEqual(target.movedFrom, move, 'the new one where it came from');
    assert.equal(old.regionId, m.d.t.regionId, 'the old workspace keeps its region (R4)');

    // Again (a resumed move, whatever name it is given): the same move and workspace, nothing new.
    const again = await m.start(m.owner.token, m.euRegionId, 'another-name');
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, move);
    const listed = await h().expect(200, 'GET', `/workspaces?organizationId=${m.d.t.organizationId}`, {
      token: m.owner.token,
    });
    assert.deepEqual(
      listed.data.map((w: { workspaceId: string }) => w.workspaceId).sort(),
      [oldId, move.toWorkspaceId].sort(),
    );
    // Elsewhere: refused, naming where it goes.
    const otherRegion = await h().region(m.owner.token, m.d.t.organizationId, h().unique('ap'));
    await h().dataplane(m.owner.token, otherRegion);
    const elsewhere = await m.start(m.owner.token, otherRegion);
    assert.equal(elsewhere.status, 409);
    assert.equal(elsewhere.body.code, ErrorCode.workspaceMoved);
    assert.equal(elsewhere.body.movedTo.toWorkspaceId, move.toWorkspaceId);

    const events = await h().expect(200, 'GET', `/organizations/${m.d.t.organizationId}/audit-events?limit=100`, {
      token: m.owner.token,
    });
    const moveEvents = events.data
      .filter((e: { action: string }) => e.action.startsWith('workspace.move'))
      .map((e: { action: string; target: { id: string } }) => [e.action, e.target.id]);
    assert.deepEqual(moveEvents, [['workspace.move.start', oldId]], 'started once, whatever the calls');
  });

  it('freezes the old workspace: no trigger, backfill, or token that can write; its write tokens are revoked', async () => {
    const m = await movable(h(), 'frozen');
    const oldId = m.d.t.workspace.workspaceId;
    const before = await h().scopedToken(m.owner.token, oldId, ['deployments:write', 'deployments:read']);
    const readOnly = await h().scopedToken(m.owner.token, oldId, ['deployments:read']);
    const move = (await m.start()).body;

    const trigger = await h().request('POST', `/jobs/${m.d.jobIds.report}/runs`, { token: m.owner.token });
    assert.equal(trigger.status, 409, trigger.text);
    assert.equal(trigger.body.code, ErrorCode.workspaceMoved);
    assert.equal(trigger.body.movedTo.toWorkspaceId, move.toWorkspaceId, 'it names where the workspace went');
    assert.match(trigger.body.detail, /is being moved to .* in region/);
    const backfill = await h().request('POST', `/jobs/${m.d.jobIds.sync}/backfills`, {
      token: m.owner.token,
      body: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' },
    });
    assert.equal(backfill.status, 409, backfill.text);
    assert.equal(backfill.body.code, ErrorCode.workspaceMoved);
    for (const scope of ['deployments:write', 'variables:write', 'state:write', 'runs:trigger'] as const) {
      const token = await h().request('POST', `/workspaces/${oldId}/dataplane-token`, {
        token: m.owner.token,
        body: { scopes: ['deployments:read', scope] },
      });
      assert.equal(token.status, 409, `${scope}: ${token.text}`);
      assert.equal(token.body.code, ErrorCode.workspaceMoved);
    }
    // Its history stays readable: a token to read it, as the client copying it needs.
    await h().scopedToken(m.owner.token, oldId, ['deployments:read', 'variables:read', 'state:read', 'runs:outputs']);

    const tokens = await h().expect(200, 'GET', `/workspaces/${oldId}/dataplane-tokens`, { token: m.owner.token });
    const revokedAt = (tokenId: string) =>
      tokens.data.find((t: { tokenId: string }) => t.tokenId === tokenId)?.revokedAt ?? null;
    assert.notEqual(revokedAt(before.tokenId), null, 'a token that could write was revoked at the start');
    assert.equal(revokedAt(readOnly.tokenId), null, 'a read-only one lives on');
  });

  it('stops the old workspace’s schedules; the new one’s jobs arrive paused and resume as they were at the end', async () => {
    const m = await movable(h(), 'schedules');
    const oldId = m.d.t.workspace.workspaceId;
    h().freezeClock();
    try {
      await h().plane.scheduler.tick(); // the schedules' first sight: every 60 s from now
      h().advanceClock(61_000);
      await h().plane.scheduler.tick();
      const scheduled = async (jobId: string) =>
        (await h().expect(200, 'GET', `/runs?jobId=${jobId}`, { token: m.owner.token })).data.filter(
          (r: { trigger: string }) => r.trigger === 'schedule',
        ).length;
      assert.equal(await scheduled(m.d.jobIds.sync as string), 1, 'the schedule fires before the move (control)');
      assert.notEqual((await m.jobsOf(oldId)).sync?.nextRunAt, null);

      const move = (await m.start()).body;
      h().advanceClock(121_000);
      await h().plane.scheduler.tick();
      assert.equal(await scheduled(m.d.jobIds.sync as string), 1, 'no due time fires once the move started');
      assert.equal((await m.jobsOf(oldId)).sync?.nextRunAt, null, 'and none is shown');

      // The client uploads the bundle to the new data plane, which reports it: its jobs arrive paused.
      const early = await m.complete();
      assert.equal(early.status, 409, early.text);
      assert.equal(early.body.code, ErrorCode.moveIncomplete, 'not before the deployment arrived');
      await m.reportToEu(move.toWorkspaceId, allJobs);
      const arrived = await m.jobsOf(move.toWorkspaceId);
      assert.deepEqual(
        Object.entries(arrived).map(([name, j]) => [name, j.paused]),
        [
          ['quiet', true],
          ['report', true],
          ['sync', true],
        ],
      );
      h().advanceClock(61_000);
      await h().plane.scheduler.tick();
      h().advanceClock(61_000);
      await h().plane.scheduler.tick();
      assert.equal(await scheduled(arrived.sync?.jobId as string), 0, 'paused while the move goes on');

      // The run the schedule queued before the move is still queued: the move waits for it.
      const waiting = await m.complete();
      assert.equal(waiting.body.code, ErrorCode.moveIncomplete, waiting.text);
      for (const runId of waiting.body.runIds) {
        await h().expect(200, 'POST', `/runs/${runId}/cancel`, { token: m.owner.token });
      }
      const done = await m.complete();
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.status, 'completed');
      assert.ok(done.body.completedAt !== null);
      const resumed = await m.jobsOf(move.toWorkspaceId);
      assert.deepEqual(
        Object.entries(resumed).map(([name, j]) => [name, j.paused]),
        [
          ['quiet', true],
          ['report', false],
          ['sync', false],
        ],
        'paused in the old workspace: paused in the new; the rest resumed',
      );
      h().advanceClock(61_000);
      await h().plane.scheduler.tick();
      h().advanceClock(61_000);
      await h().plane.scheduler.tick();
      assert.ok((await scheduled(resumed.sync?.jobId as string)) >= 1, 'the new workspace’s schedule fires');
      assert.equal(await scheduled(m.d.jobIds.sync as string), 1, 'the old one’s never again');

      // Completed: answered again as it is; the old workspace says so.
      const again = await m.complete();
      assert.deepEqual(again.body, done.body);
      const old = await h().expect(200, 'GET', `/workspaces/${oldId}`, { token: m.owner.token });
      assert.equal(old.movedTo.status, 'completed');
      const trigger = await h().request('POST', `/jobs/${m.d.jobIds.report}/runs`, { token: m.owner.token });
      assert.equal(trigger.body.code, ErrorCode.workspaceMoved);
      assert.match(trigger.body.detail, /was moved to .* in region/);
      // The new workspace's jobs run.
      await h().expect(200, 'POST', `/jobs/${resumed.report?.jobId}/runs`, { token: m.owner.token });
      const events = await h().expect(200, 'GET', `/organizations/${m.d.t.organizationId}/audit-events?limit=100`, {
        token: m.owner.token,
      });
      assert.deepEqual(
        events.data
          .filter((e: { action: string }) => e.action.startsWith('workspace.move'))
          .map((e: { action: string }) => e.action),
        ['workspace.move.complete', 'workspace.move.start'],
      );
    } finally {
      h().resetClock();
    }
  });

  it('keeps a deployment reported for the old workspace after the move as history: its jobs stay as they were', async () => {
    const m = await movable(h(), 'late-deploy');
    const oldId = m.d.t.workspace.workspaceId;
    await m.start();
    const { access_token: usToken } = await h().expect(200, 'POST', InternalPaths.token, {
      body: { client_id: m.d.t.dataplane.clientId, client_secret: m.d.t.dataplane.clientSecret },
    });
    await h().expect(200, 'POST', InternalPaths.deploymentReport, {
      token: usToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: oldId,
        digest: `sha256:${'9'.repeat(64)}`,
        sizeBytes: 10,
        createdBy: m.owner.userId,
        createdAt: new Date().toISOString(),
        jobs: [job('newcomer')],
      },
    });
    assert.deepEqual(Object.keys(await m.jobsOf(oldId)).sort(), ['quiet', 'report', 'sync']);
  });

  it('does not complete while the old workspace has an active run, and names it', async () => {
    const m = await movable(h(), 'active');
    const running = await m.d.trigger('report');
    const move = (await m.start()).body;
    await m.reportToEu(move.toWorkspaceId, allJobs);
    const refused = await m.complete();
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.code, ErrorCode.moveIncomplete);
    assert.deepEqual(refused.body.runIds, [running.runId]);
    await h().expect(200, 'POST', `/runs/${running.runId}/cancel`, { token: m.owner.token });
    assert.equal((await m.complete()).status, 200);
  });

  it('answers move_not_found for a workspace whose move was never started', async () => {
    const m = await movable(h(), 'none');
    const answer = await m.complete();
    assert.equal(answer.status, 404);
    assert.equal(answer.body.code, ErrorCode.moveNotFound);
    const shown = await h().expect(200, 'GET', `/workspaces/${m.d.t.workspace.workspaceId}`, { token: m.owner.token });
    assert.deepEqual([shown.movedTo, shown.movedFrom], [null, null]);
  });
});
