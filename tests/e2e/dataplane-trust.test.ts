import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, InternalPaths, protocolVersion } from '@sovereign/contract';
import { assertProblem, flowTarget, startService } from '@sovereign/server-kit/testing';
import { type Answer, call, dataPlaneMain, expectStatus, Platform } from '../support/platform.ts';

/**
 * The trust boundaries of the internal API (issue 16), on the real platform:
 *
 * 1. A data plane's public URL, where the control plane sends clients with their scoped
 *    tokens, is set by an administrator or pinned by the first registration: whoever
 *    holds a data plane's credentials cannot move it by reporting another in a heartbeat.
 * 2. An instance id is no credential: every internal call is bound to the calling data
 *    plane, so a rogue data plane of another organization that names a shared data
 *    plane's instance reaches none of its runs, and learns nothing of them; and instance
 *    ids are shown to the administrators of the data plane's organization only.
 */

const attackerUrl = 'http://127.0.0.1:9099';

interface Instance {
  instanceId: string;
  publicUrl: string;
}

const target = flowTarget();

describe(`the internal API's trust boundaries: public URLs and instance ids, real processes [${target.name}]`, () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start(target);
  });
  after(async () => {
    await platform?.stop();
  });

  /** A data plane's access token, for its client credentials. */
  async function dataplaneToken(plane: { clientId: string; clientSecret: string }): Promise<string> {
    const answer = await expectStatus(200, 'POST', `${platform.controlPlaneUrl}${InternalPaths.token}`, {
      body: { client_id: plane.clientId, client_secret: plane.clientSecret },
    });
    return answer.access_token;
  }

  /** One protocol call, as a data plane makes it. */
  function internal(path: string, token: string, body: Record<string, unknown>): Promise<Answer> {
    return call('POST', `${platform.controlPlaneUrl}${path}`, { token, body: { protocolVersion, ...body } });
  }

  const facts = (instance: Instance) => ({ ...instance, version: '0.1.0', capacity: 4 });
  const initialize = (token: string, instance: Instance) => internal(InternalPaths.initialize, token, facts(instance));
  const heartbeat = (token: string, instance: Instance, heldRuns: string[] = []) =>
    internal(InternalPaths.heartbeat, token, { ...facts(instance), heldRuns });

  /** An organization of its own, its owner signed in. */
  async function organization(label: string) {
    const owner = await platform.user(label);
    const { organizationId } = await expectStatus(200, 'POST', `${platform.cp}/organizations`, {
      token: owner.token,
      body: { name: `${label} org` },
    });
    return { owner, organizationId: organizationId as string };
  }

  /** A region of the organization with one data plane, created by `token` (an administrator of it). */
  async function regionWithPlane(token: string, organizationId: string, name: string, publicUrl?: string) {
    const { regionId } = await expectStatus(200, 'POST', `${platform.cp}/regions`, {
      token,
      body: { name, organizationId },
    });
    const plane = await expectStatus(200, 'POST', `${platform.cp}/dataplanes`, {
      token,
      body: { name: `${name}-1`, regionId, ...(publicUrl === undefined ? {} : { publicUrl }) },
    });
    return { regionId: regionId as string, ...plane } as {
      regionId: string;
      dataplaneId: string;
      clientId: string;
      clientSecret: string;
    };
  }

  const health = (token: string, dataplaneId: string) =>
    expectStatus(200, 'GET', `${platform.cp}/dataplanes/${dataplaneId}/health`, { token });

  it('1: a heartbeat with a data plane’s credentials cannot send its clients elsewhere: refused, audited, shown to its administrators', async () => {
    const eu = platform.dp('eu-1');
    const victim = await platform.tenant('eu', 'victim');
    const token = await dataplaneToken(eu);
    const rogue = { instanceId: randomUUID(), publicUrl: attackerUrl };

    // eu-1's first instance pinned its URL when the platform started.
    for (const [what, answer] of [
      ['initialize', await initialize(token, rogue)],
      ['heartbeat', await heartbeat(token, rogue)],
    ] as const) {
      assertProblem(answer, 409, ErrorCode.dataplanePublicUrlMismatch, `${what} naming ${attackerUrl}`);
      assert.equal(answer.body.publicUrl, eu.url, 'the refusal names the data plane’s URL');
      assert.equal(answer.body.reportedUrl, attackerUrl);
    }

    // Clients are still sent to eu-1, and eu-1 itself goes on as before.
    const issued = await platform.scopedToken(victim.token, victim.workspace.workspaceId, ['deployments:read']);
    assert.equal(issued.dataplane.url, eu.url, 'the scoped token points at eu-1, not at the attacker');
    await platform.waitUntilHosted(victim.token, victim.workspace.workspaceId);
    const plane = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${eu.dataplaneId}`, {
      token: platform.adminToken,
    });
    assert.equal(plane.publicUrl, eu.url);

    // Its administrators see the refused report; other organizations see neither it nor instance ids.
    const seen = await health(platform.adminToken, eu.dataplaneId);
    assert.equal(seen.publicUrl, eu.url);
    assert.equal(seen.publicUrlMismatch?.reported, attackerUrl);
    assert.ok(!Number.isNaN(Date.parse(seen.publicUrlMismatch?.at)), 'when it was refused');
    assert.ok(
      seen.instances.every((i: { instanceId: string }) => i.instanceId !== rogue.instanceId),
      'the refused instance is not recorded',
    );
    const seenByTenant = await health(victim.token, eu.dataplaneId);
    assert.equal(seenByTenant.publicUrl, eu.url);
    assert.equal(seenByTenant.publicUrlMismatch, undefined, 'the mismatch is for the administrators');

    const audit = await expectStatus(
      200,
      'GET',
      `${platform.cp}/organizations/${platform.defaultOrganizationId}/audit-events?limit=500`,
      { token: platform.adminToken },
    );
    const refusals = audit.data.filter(
      (e: { action: string; target: { id: string } }) =>
        e.action === 'dataplane_instance.public_url_refused' && e.target.id === rogue.instanceId,
    );
    assert.equal(refusals.length, 1, 'audited once for that URL, not at every heartbeat');
    assert.deepEqual(refusals[0].actor, { type: 'dataplane', id: eu.dataplaneId });
  });

  it('1: the first registration pins the URL: of two instances racing with different URLs, one is refused', async () => {
    const { owner, organizationId } = await organization('pinning');
    const plane = await regionWithPlane(owner.token, organizationId, 'pinning');
    const url = `${platform.cp}/dataplanes/${plane.dataplaneId}`;
    assert.equal((await expectStatus(200, 'GET', url, { token: owner.token })).publicUrl, null, 'nothing pinned yet');
    const token = await dataplaneToken(plane);
    const a = { instanceId: randomUUID(), publicUrl: 'http://127.0.0.1:7001' };
    const b = { instanceId: randomUUID(), publicUrl: 'http://127.0.0.1:7002' };

    const answers = await Promise.all([initialize(token, a), initialize(token, b)]);
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], JSON.stringify(answers.map((r) => r.body)));
    const [winner, loser] = answers[0]?.status === 200 ? [a, b] : [b, a];
    const refused = answers.find((r) => r.status === 409) as Answer;
    assertProblem(refused, 409, ErrorCode.dataplanePublicUrlMismatch, 'the second instance to register');
    assert.equal(refused.body.publicUrl, winner.publicUrl);
    assert.equal((await expectStatus(200, 'GET', url, { token: owner.token })).publicUrl, winner.publicUrl);

    // The winner's heartbeats hold (written as its data plane may, with a trailing slash); the loser's do not.
    assert.equal((await heartbeat(token, { ...winner, publicUrl: `${winner.publicUrl}/` })).status, 200);
    assertProblem(await heartbeat(token, loser), 409, ErrorCode.dataplanePublicUrlMismatch, 'the loser');
    const seen = await health(owner.token, plane.dataplaneId);
    assert.equal(seen.publicUrlMismatch.reported, loser.publicUrl);
    assert.deepEqual(
      seen.instances.map((i: { instanceId: string }) => i.instanceId),
      [winner.instanceId],
    );
  });

  it('1: an administrator sets the URL at creation or later; the next heartbeat is held to it', async () => {
    const { owner, organizationId } = await organization('setting');
    const plane = await regionWithPlane(owner.token, organizationId, 'setting', 'https://DP.example.test:443/base/');
    const url = `${platform.cp}/dataplanes/${plane.dataplaneId}`;
    assert.equal(
      (await expectStatus(200, 'GET', url, { token: owner.token })).publicUrl,
      'https://dp.example.test/base',
    );
    const token = await dataplaneToken(plane);
    const first = { instanceId: randomUUID(), publicUrl: 'http://127.0.0.1:7003' };
    const second = { instanceId: randomUUID(), publicUrl: 'https://dp.example.test/base' };
    assertProblem(await initialize(token, first), 409, ErrorCode.dataplanePublicUrlMismatch, 'not the set URL');
    assert.equal((await initialize(token, second)).status, 200, 'the set URL, as a data plane writes it');
    assert.equal((await heartbeat(token, second)).status, 200);

    // A member may not move it; an administrator may, and clears the mismatch it answers.
    const member = await platform.member(owner.token, organizationId, 'member');
    assertProblem(
      await call('PATCH', url, { token: member.token, body: { publicUrl: first.publicUrl } }),
      403,
      ErrorCode.insufficientRole,
      'a member sets the URL',
    );
    const moved = await expectStatus(200, 'PATCH', url, { token: owner.token, body: { publicUrl: first.publicUrl } });
    assert.equal(moved.publicUrl, first.publicUrl);
    assert.equal((await health(owner.token, plane.dataplaneId)).publicUrlMismatch, null, 'settled by the change');

    // From the next heartbeat on: the instance at the old URL is refused, the one at the new URL taken.
    assertProblem(await heartbeat(token, second), 409, ErrorCode.dataplanePublicUrlMismatch, 'the old URL');
    assert.equal((await heartbeat(token, first)).status, 200);
    const ws = await expectStatus(200, 'POST', `${platform.cp}/workspaces`, {
      token: owner.token,
      body: { name: 'setting-ws', organizationId, regionId: plane.regionId },
    });
    const issued = await platform.scopedToken(owner.token, ws.workspaceId, ['deployments:read']);
    assert.equal(issued.dataplane.url, first.publicUrl, 'clients are sent where the administrator said');
  });

  it('1: a data plane process at another URL says so in its log, takes no work, and starts once its URL is set', async () => {
    const { owner, organizationId } = await organization('process');
    const created = await regionWithPlane(owner.token, organizationId, 'process', 'http://127.0.0.1:1');
    const plane = await platform.prepareDataPlane('process-1', created.regionId, created);
    // Ready only once registered, after its URL is set: a start with time for that, even on a busy machine.
    const starting = startService({ args: [dataPlaneMain], url: plane.url, env: plane.env, timeoutMs: 120_000 });
    try {
      await platform.waitFor(
        async () => (await health(owner.token, created.dataplaneId)).publicUrlMismatch?.reported === plane.url,
        'the refused report in the data plane’s health',
        90_000,
      );
      const ready = await call('GET', `${plane.url}/readyz`);
      assert.equal(ready.status, 503, 'not ready while refused');
      assert.match(ready.body.reason, /refuses its public URL/);
      await expectStatus(200, 'PATCH', `${platform.cp}/dataplanes/${created.dataplaneId}`, {
        token: owner.token,
        body: { publicUrl: plane.url },
      });
    } catch (error) {
      // It never gets ready: the start gives up and stops it.
      await starting.catch(() => {});
      throw error;
    }
    const service = await starting;
    platform.dataplanes.set(plane.name, { ...plane, service });
    const output = service.output();
    assert.ok(
      output.includes(
        `the control plane refused this instance: it reports public URL ${plane.url} (SOV_PUBLIC_URL), ` +
          "but this data plane's public URL is http://127.0.0.1:1. It takes no work until they agree",
      ),
      output.slice(-3000),
    );
    assert.match(output, /"level":50[^\n]*dataplane_public_url_mismatch/, 'logged as an error, with its code');
    // Said once its next call is taken, which may come a moment after it is ready.
    await platform.waitFor(
      async () => /accepts this instance’s public URL now/.test(service.output()),
      'the data plane to say the control plane accepts it now',
    );
  });

  it('2: a rogue data plane of another organization, naming a shared data plane’s instance, reaches none of its runs and learns nothing', async () => {
    // A shared region of the instance's default organization; the test speaks for its data plane.
    const shared = await regionWithPlane(platform.adminToken, platform.defaultOrganizationId, 'shared');
    const sharedToken = await dataplaneToken(shared);
    const owner = { instanceId: randomUUID(), publicUrl: 'http://127.0.0.1:7010' };
    assert.equal((await initialize(sharedToken, owner)).status, 200);

    // The victim's organization runs a job there: two runs held by the shared instance.
    const victim = await organization('victim');
    const ws = await expectStatus(200, 'POST', `${platform.cp}/workspaces`, {
      token: victim.owner.token,
      body: { name: 'victim-ws', organizationId: victim.organizationId, regionId: shared.regionId },
    });
    await expectStatus(200, 'POST', `${platform.controlPlaneUrl}${InternalPaths.deploymentReport}`, {
      token: sharedToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: ws.workspaceId,
        digest: `sha256:${'3'.repeat(64)}`,
        sizeBytes: 1,
        createdBy: victim.owner.userId,
        createdAt: new Date().toISOString(),
        jobs: [
          {
            name: 'sync',
            kind: 'batch',
            trigger: { type: 'manual' },
            timezone: 'UTC',
            timeoutSeconds: 600,
            retries: 0,
          },
        ],
      },
    });
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws.workspaceId}/jobs`, {
      token: victim.owner.token,
    });
    const jobId = jobs.data[0].jobId;
    const trigger = async () =>
      (await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: victim.owner.token })).runId;
    const running = await trigger();
    const claimed = await trigger();
    const taken = await internal(InternalPaths.claim, sharedToken, {
      instanceId: owner.instanceId,
      capacity: 2,
      waitMs: 0,
      heldRuns: [],
    });
    assert.deepEqual(taken.body.runs.map((r: { runId: string }) => r.runId).sort(), [running, claimed].sort());
    const started = await internal(InternalPaths.runEvents, sharedToken, {
      instanceId: owner.instanceId,
      events: [{ runId: running, seq: 1, status: 'running', at: new Date().toISOString() }],
    });
    assert.deepEqual(started.body.fenced, []);
    await expectStatus(200, 'POST', `${platform.cp}/runs/${running}/cancel`, { token: victim.owner.token });
    const status = async (runId: string) =>
      (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: victim.owner.token })).status;

    // The rogue: another organization with a data plane of its own, its credentials in hand.
    const rogueOrg = await organization('rogue');
    const roguePlane = await regionWithPlane(rogueOrg.owner.token, rogueOrg.organizationId, 'rogue');
    const rogueToken = await dataplaneToken(roguePlane);

    // Instance ids are not shown to it (nor to the victim): only the shared plane's organization's administrators see them.
    for (const [who, token] of [
      ['the rogue', rogueOrg.owner.token],
      ['the victim', victim.owner.token],
    ] as const) {
      const seen = await health(token, shared.dataplaneId);
      assert.equal(seen.instances.length, 1, `${who} sees the instance`);
      assert.ok(!JSON.stringify(seen).includes(owner.instanceId), `${who} does not see its id`);
      assert.equal(seen.instances[0].heldRuns, undefined, `${who} does not see its load`);
    }
    const seenByAdmin = await health(platform.adminToken, shared.dataplaneId);
    assert.equal(seenByAdmin.instances[0].instanceId, owner.instanceId);

    // The id leaked anyway: registering or heartbeating as that instance is refused.
    const bogus = randomUUID();
    const posing = { instanceId: owner.instanceId, publicUrl: attackerUrl };
    assertProblem(
      await heartbeat(rogueToken, posing, [running, claimed, bogus]),
      409,
      ErrorCode.instanceIdTaken,
      'a heartbeat renewing the victim’s leases',
    );
    assertProblem(await initialize(rogueToken, posing), 409, ErrorCode.instanceIdTaken, 'initialize');

    // A claim as that instance matches nothing: no cancel told, no run taken back to the queue.
    const claim = await internal(InternalPaths.claim, rogueToken, {
      instanceId: owner.instanceId,
      capacity: 1,
      waitMs: 0,
      heldRuns: [running, bogus],
    });
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    assert.deepEqual(claim.body, { runs: [], cancelRunIds: [] }, 'the cancel of the victim’s run is not told');
    assert.equal(await status(claimed), 'claimed', 'the victim’s claimed run is not put back in the queue');

    // Events as that instance are fenced, exactly as for a run that does not exist.
    const events = await internal(InternalPaths.runEvents, rogueToken, {
      instanceId: owner.instanceId,
      events: [
        {
          runId: running,
          seq: 2,
          status: 'succeeded',
          exitCode: 0,
          reasonCode: 'exit_zero',
          at: new Date().toISOString(),
        },
        { runId: bogus, seq: 1, status: 'running', at: new Date().toISOString() },
      ],
    });
    assert.deepEqual(events.body, { accepted: [], fenced: [running, bogus] });
    assert.equal(await status(running), 'running');

    // The shared instance holds both runs still, and is told of the cancel.
    const beat = await heartbeat(sharedToken, owner, [running, claimed]);
    assert.equal(beat.status, 200, JSON.stringify(beat.body));
    assert.deepEqual(beat.body.fencedRunIds, []);
    assert.deepEqual(beat.body.cancelRunIds, [running]);

    // An id of the shared data plane that has claimed runs but not registered yet: whoever
    // registers it first, a rogue's heartbeat renews and learns nothing of the shared plane's runs.
    const early = randomUUID();
    const third = await trigger();
    const earlyClaim = await internal(InternalPaths.claim, sharedToken, {
      instanceId: early,
      capacity: 1,
      waitMs: 0,
      heldRuns: [],
    });
    assert.deepEqual(
      earlyClaim.body.runs.map((r: { runId: string }) => r.runId),
      [third],
    );
    const squatted = await heartbeat(rogueToken, { instanceId: early, publicUrl: attackerUrl }, [third, bogus]);
    assert.equal(squatted.status, 200, JSON.stringify(squatted.body));
    assert.deepEqual(squatted.body.fencedRunIds, [third, bogus].sort(), 'a run of the shared plane is as unknown');
    assert.deepEqual(squatted.body.cancelRunIds, []);
    assert.equal(await status(third), 'claimed');
  });
});
