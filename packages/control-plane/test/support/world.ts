import { randomUUID } from 'node:crypto';
import { InternalPaths, protocolVersion } from '@sovereign/contract';
import type { Harness } from './harness.ts';

export type Tenant = Awaited<ReturnType<Harness['tenant']>>;

/**
 * A deployment report from the tenant's data plane (as a data plane sends it), so the
 * workspace has a job; and a run of that job, triggered by the owner. The deployment
 * also has a daily job (`daily`, a cron at midnight UTC), whose backfill over November
 * 2026 the owner started: `backfillId`.
 */
export async function jobAndRun(
  h: Harness,
  t: Tenant,
): Promise<{ jobId: string; runId: string; scheduledJobId: string; backfillId: string }> {
  const { access_token: dataplaneToken } = await h.expect(200, 'POST', InternalPaths.token, {
    body: { client_id: t.dataplane.clientId, client_secret: t.dataplane.clientSecret },
  });
  await h.expect(200, 'POST', InternalPaths.deploymentReport, {
    token: dataplaneToken,
    body: {
      protocolVersion,
      deploymentId: randomUUID(),
      workspaceId: t.workspace.workspaceId,
      digest: `sha256:${'2'.repeat(64)}`,
      sizeBytes: 1,
      createdBy: t.people.owner.userId,
      createdAt: new Date().toISOString(),
      jobs: [
        { name: 'j', kind: 'batch', trigger: { type: 'manual' }, timezone: 'UTC', timeoutSeconds: 60, retries: 0 },
        {
          name: 'daily',
          kind: 'batch',
          trigger: { type: 'cron', cron: '0 0 * * *' },
          timezone: 'UTC',
          timeoutSeconds: 60,
          retries: 0,
        },
      ],
    },
  });
  const jobs = await h.expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
    token: t.people.owner.token,
  });
  const jobIdOf = (name: string): string => jobs.data.find((j: { name: string }) => j.name === name).jobId;
  const jobId = jobIdOf('j');
  const run = await h.expect(200, 'POST', `/jobs/${jobId}/runs`, { token: t.people.owner.token });
  const scheduledJobId = jobIdOf('daily');
  const backfill = await h.expect(200, 'POST', `/jobs/${scheduledJobId}/backfills`, {
    token: t.people.owner.token,
    body: { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' },
  });
  return { jobId, runId: run.runId as string, scheduledJobId, backfillId: backfill.backfillId as string };
}
