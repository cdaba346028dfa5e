import { Closed, Job, JobList, JobListQuery, JobPatchRequest, JobPatchResponse, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { audited, userAuthor } from '../audit/record.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { nextRunAt } from '../scheduler/due-times.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { jobFor } from './access.ts';
import { type JobRow, listJobs, setJobPaused } from './store.ts';

function toJob(row: JobRow, now: Date) {
  const archived = row.archived_at !== null;
  return {
    jobId: row.job_id,
    workspaceId: row.workspace_id,
    name: row.name,
    kind: row.kind,
    trigger: row.trigger,
    timezone: row.timezone,
    timeoutSeconds: row.timeout_seconds,
    retries: row.retries,
    retryDelaySeconds: row.retry_delay_seconds,
    retryBackoff: row.retry_backoff,
    maxRunning: row.max_running,
    paused: row.paused,
    archived,
    deploymentId: row.deployment_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    archivedAt: isoOrNull(row.archived_at),
    // A moved workspace's schedules stopped: nothing will fire, whatever its paused flag says.
    nextRunAt: isoOrNull(
      nextRunAt({ ...row, archived, paused: row.paused || row.workspace_moved }, now, row.schedule_anchor),
    ),
    lastRun:
      row.last_run_id === null || row.last_run_status === null || row.last_run_queued_at === null
        ? null
        : {
            runId: row.last_run_id,
            status: row.last_run_status,
            trigger: row.last_run_trigger ?? 'manual',
            queuedAt: iso(row.last_run_queued_at),
            finishedAt: isoOrNull(row.last_run_finished_at),
          },
  };
}

/** Jobs as metadata: what runs where and when, never what it contains; and pausing a job's schedule. */
export async function jobRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.get(
    '/workspaces/:workspaceId/jobs',
    {
      schema: {
        tags: ['Jobs'],
        summary: "The workspace's jobs, from its deployments",
        params: Closed({ workspaceId: Uuid }),
        querystring: JobListQuery,
        response: { 200: JobList },
      },
    },
    async (request) => {
      const workspace = await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer');
      const rows = await listJobs(db, workspace.workspace_id, request.query.includeArchived ?? false);
      return { data: rows.map((row) => toJob(row, deps.now())) };
    },
  );

  app.get(
    '/jobs/:jobId',
    {
      schema: { tags: ['Jobs'], summary: 'Get a job', params: Closed({ jobId: Uuid }), response: { 200: Job } },
    },
    async (request) => toJob(await jobFor(db, principalOf(request), request.params.jobId, 'viewer'), deps.now()),
  );

  app.patch(
    '/jobs/:jobId',
    {
      schema: {
        tags: ['Jobs'],
        summary: "Pause or resume a job's schedule (members and up)",
        params: Closed({ jobId: Uuid }),
        body: JobPatchRequest,
        response: { 200: JobPatchResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const job = await jobFor(db, principal, request.params.jobId, 'member');
      await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await setJobPaused(tx, job.job_id, request.body.paused);
        return {
          result: undefined,
          audit: {
            organizationId: job.organization_id,
            action: request.body.paused ? 'job.pause' : 'job.resume',
            targetType: 'job',
            targetId: job.job_id,
          },
        };
      });
      return { jobId: job.job_id, paused: request.body.paused };
    },
  );
}
