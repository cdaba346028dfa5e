import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { InternalPaths, type JobMetadata, protocolVersion } from '@sovereign/contract';
import { eachDatabase, type Harness } from './support/harness.ts';

const digest = `sha256:${'ab'.repeat(32)}`;

function job(name: string, overrides: Partial<JobMetadata> = {}): JobMetadata {
  return {
    name,
    kind: 'batch',
    trigger: { type: 'manual' },
    timezone: 'UTC',
    timeoutSeconds: 7200,
    retries: 0,
    ...overrides,
  };
}

async function dataplaneToken(h: Harness, clientId: string, clientSecret: string): Promise<string> {
  const answer = await h.expect(200, 'POST', InternalPaths.token, {
    body: { client_id: clientId, client_secret: clientSecret },
  });
  return answer.access_token;
}

type Tenant = Awaited<ReturnType<Harness['tenant']>>;

/** A deployment report of `t`'s workspace naming `jobs`. */
function reportOf(t: Tenant, jobs: JobMetadata[], deploymentId = randomUUID(), createdAt = new Date().toISOString()) {
  return {
    protocolVersion,
    deploymentId,
    workspaceId: t.workspace.workspaceId,
    digest,
    sizeBytes: 10,
    createdBy: t.people.member.userId,
    createdAt,
    jobs,
  };
}

eachDatabase('deployment reports from data planes', (h) => {
  it('refuses a report with another workspace’s deployment id: it tells none of its jobs and takes not its place', async () => {
    const victim = await h().tenant('id-victim');
    const rogue = await h().tenant('id-rogue');
    const victimToken = await dataplaneToken(h(), victim.dataplane.clientId, victim.dataplane.clientSecret);
    const rogueToken = await dataplaneToken(h(), rogue.dataplane.clientId, rogue.dataplane.clientSecret);
    const deploymentId = randomUUID();
    await h().expect(200, 'POST', InternalPaths.deploymentReport, {
      token: victimToken,
      body: reportOf(victim, [job('confidential_payroll')], deploymentId),
    });
    const refused = await h().request('POST', InternalPaths.deploymentReport, {
      token: rogueToken,
      body: reportOf(rogue, [job('decoy')], deploymentId),
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'deployment_id_taken');
    assert.doesNotMatch(JSON.stringify(refused.body), /confidential_payroll/);
    const rogueJobs = await h().expect(200, 'GET', `/workspaces/${rogue.workspace.workspaceId}/jobs`, {
      token: rogue.people.viewer.token,
    });
    assert.deepEqual(rogueJobs.data, [], 'nothing of the refused report is kept');
  });

  it('refuses a report naming a schedule the scheduler cannot compute, whole, keeping nothing of it', async () => {
    const t = await h().tenant('bad-schedule');
    const token = await dataplaneToken(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const refused = await h().request('POST', InternalPaths.deploymentReport, {
      token,
      body: reportOf(t, [
        job('fine', { trigger: { type: 'cron', cron: '0 3 * * *' } }),
        job('garbled', { trigger: { type: 'cron', cron: 'not a cron' } }),
        job('nowhere', { trigger: { type: 'every', everySeconds: 60 }, timezone: 'Mars/Base' }),
        job('never', { trigger: { type: 'cron', cron: '0 0 30 2 *' } }),
      ]),
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'validation_failed');
    assert.deepEqual(
      refused.body.errors.map((e: { path: string }) => e.path),
      ['jobs[1]', 'jobs[2]', 'jobs[3]'],
    );
    assert.match(refused.body.errors[0].message, /"not a cron" is not a valid cron expression/);
    assert.match(refused.body.errors[1].message, /"Mars\/Base" is not an IANA time zone/);
    assert.match(refused.body.errors[2].message, /never fires/);
    const jobs = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
      token: t.people.viewer.token,
    });
    assert.deepEqual(jobs.data, [], 'not even the valid job of the report is kept');
  });

  it('upserts the reported jobs, archives the missing ones and keeps their ids', async () => {
    const t = await h().tenant('report');
    const token = await dataplaneToken(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const report = (jobs: JobMetadata[], at: string) => reportOf(t, jobs, randomUUID(), at);
    const first = report(
      [job('daily_sync', { trigger: { type: 'cron', cron: '0 3 * * *' }, timezone: 'Europe/Berlin' }), job('report')],
      '2026-11-01T00:00:00.000Z',
    );
    const applied = await h().expect(200, 'POST', InternalPaths.deploymentReport, { token, body: first });
    assert.deepEqual(applied.jobs, { added: ['daily_sync', 'report'], updated: [], unchanged: [], archived: [] });
    const again = await h().expect(200, 'POST', InternalPaths.deploymentReport, { token, body: first });
    assert.deepEqual(again.jobs, applied.jobs, 'a report delivered twice has one effect');

    const jobs = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
      token: t.people.viewer.token,
    });
    const reportJob = jobs.data.find((j: { name: string }) => j.name === 'report');
    assert.deepEqual(jobs.data.find((j: { name: string }) => j.name === 'daily_sync').trigger, {
      type: 'cron',
      cron: '0 3 * * *',
    });

    const second = report(
      [job('daily_sync', { trigger: { type: 'cron', cron: '0 4 * * *' }, timezone: 'Europe/Berlin' })],
      '2026-11-02T00:00:00.000Z',
    );
    const next = await h().expect(200, 'POST', InternalPaths.deploymentReport, { token, body: second });
    assert.deepEqual(next.jobs, { added: [], updated: ['daily_sync'], unchanged: [], archived: ['report'] });
    const live = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
      token: t.people.viewer.token,
    });
    assert.deepEqual(
      live.data.map((j: { name: string }) => j.name),
      ['daily_sync'],
    );
    const archived = await h().expect(200, 'GET', `/jobs/${reportJob.jobId}`, { token: t.people.viewer.token });
    assert.equal(archived.archived, true, 'an archived job keeps its record');

    const third = report([job('daily_sync'), job('report')], '2026-11-03T00:00:00.000Z');
    await h().expect(200, 'POST', InternalPaths.deploymentReport, { token, body: third });
    const back = await h().expect(200, 'GET', `/jobs/${reportJob.jobId}`, { token: t.people.viewer.token });
    assert.equal(back.archived, false, 'a job that returns keeps its id and history');

    const late = report([job('stale')], '2026-10-01T00:00:00.000Z');
    await h().expect(200, 'POST', InternalPaths.deploymentReport, { token, body: late });
    const after = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
      token: t.people.viewer.token,
    });
    assert.ok(!after.data.some((j: { name: string }) => j.name === 'stale'), 'a late, older report moves no job');

    const deployments = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/deployments`, {
      token: t.people.viewer.token,
    });
    assert.equal(deployments.data.length, 4);
    assert.equal(deployments.data[0].deploymentId, third.deploymentId);
    assert.equal(deployments.data[0].digest, digest);
  });

  it('refuses a report that carries anything beyond metadata, or a workspace of another data plane', async () => {
    const t = await h().tenant('strict');
    const other = await h().tenant('other');
    const token = await dataplaneToken(h(), t.dataplane.clientId, t.dataplane.clientSecret);
    const base = {
      protocolVersion,
      deploymentId: randomUUID(),
      workspaceId: t.workspace.workspaceId,
      digest,
      sizeBytes: 1,
      createdBy: t.people.owner.userId,
      createdAt: new Date().toISOString(),
    };
    const withCommand = await h().request('POST', InternalPaths.deploymentReport, {
      token,
      body: { ...base, jobs: [{ ...job('x'), run: 'node secret-sync.js' }] },
    });
    assert.equal(withCommand.status, 400, 'a job command is not metadata: the schema refuses it');
    assert.equal(withCommand.body.code, 'validation_failed');
    const foreign = await h().request('POST', InternalPaths.deploymentReport, {
      token,
      body: { ...base, workspaceId: other.workspace.workspaceId, jobs: [job('x')] },
    });
    assert.equal(foreign.status, 409);
    assert.equal(foreign.body.code, 'workspace_not_on_dataplane');
  });
});
