import { Closed, ErrorCode, JobTrigger, RunStatuses, Timestamp, Uuid } from '@sovereign/protocol';
import type { App } from '@sovereign/protocol/http';
import { NotFoundProblem } from '@sovereign/protocol/http';
import { Type } from 'typebox';
import { requireRole } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { type DeploymentsTable, type JobsTable, type RunsTable, RunTriggers, type WorkspacesTable } from '../tables.ts';
import { workspaceFor } from '../workspaces/store.ts';

const Job = Type.Object({
  jobId: Uuid,
  workspaceId: Uuid,
  name: Type.String(),
  kind: Type.Union([Type.Literal('batch'), Type.Literal('interactive')]),
  trigger: JobTrigger,
  timezone: Type.String(),
  timeoutSeconds: Type.Integer(),
  retries: Type.Integer(),
  maxRunning: Type.Union([Type.Integer(), Type.Null()], {
    description: 'At most this many runs at once (queued, claimed or running); null for no limit.',
  }),
  paused: Type.Boolean(),
  archived: Type.Boolean(),
  deploymentId: Uuid,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  archivedAt: Type.Union([Timestamp, Type.Null()]),
  lastRun: Type.Union([
    Type.Object(
      {
        runId: Uuid,
        status: Type.Enum(RunStatuses),
        trigger: Type.Enum(RunTriggers),
        queuedAt: Timestamp,
        finishedAt: Type.Union([Timestamp, Type.Null()]),
      },
      { description: 'The newest run of the job (any attempt), or null when it never ran.' },
    ),
    Type.Null(),
  ]),
});

const Deployment = Type.Object({
  deploymentId: Uuid,
  workspaceId: Uuid,
  digest: Type.String(),
  sizeBytes: Type.Integer(),
  jobNames: Type.Array(Type.String()),
  createdBy: Type.Union([Uuid, Type.Null()]),
  createdAt: Timestamp,
});

/** A job, its workspace's organization, and its newest run's columns (all null when it never ran). */
type JobRow = JobsTable &
  Pick<WorkspacesTable, 'organization_id'> & {
    last_run_id: RunsTable['run_id'] | null;
    last_run_status: RunsTable['status'] | null;
    last_run_trigger: RunsTable['trigger'] | null;
    last_run_queued_at: RunsTable['queued_at'] | null;
    last_run_finished_at: RunsTable['finished_at'];
  };

function toJob(row: JobRow) {
  return {
    jobId: row.job_id,
    workspaceId: row.workspace_id,
    name: row.name,
    kind: row.kind,
    trigger: row.trigger,
    timezone: row.timezone,
    timeoutSeconds: row.timeout_seconds,
    retries: row.retries,
    maxRunning: row.max_running,
    paused: row.paused,
    archived: row.archived_at !== null,
    deploymentId: row.deployment_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    archivedAt: isoOrNull(row.archived_at),
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

/** A job with its newest run, so a list of jobs shows how each last went without a call per job. */
const selectJob = `SELECT j.*, w.organization_id, lr.run_id AS last_run_id, lr.status AS last_run_status,
    lr.trigger AS last_run_trigger, lr.queued_at AS last_run_queued_at, lr.finished_at AS last_run_finished_at
  FROM jobs j JOIN workspaces w USING (workspace_id)
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.trigger, r.queued_at, r.finished_at FROM runs r
                      WHERE r.job_id = j.job_id ORDER BY r.queued_at DESC, r.run_id DESC LIMIT 1) lr ON true`;

/** Jobs and deployments as metadata: what ran where and when, never what it contains. */
export async function jobRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.get(
    '/workspaces/:workspaceId/jobs',
    {
      schema: {
        tags: ['Jobs'],
        summary: "The workspace's jobs, from its deployments",
        params: Closed({ workspaceId: Uuid }),
        querystring: Closed({ includeArchived: Type.Optional(Type.Boolean()) }),
        response: { 200: Type.Object({ data: Type.Array(Job) }) },
      },
    },
    async (request) => {
      const workspace = await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer');
      const rows = await db.query<JobRow>(
        `${selectJob} WHERE j.workspace_id = $1 AND ($2 OR j.archived_at IS NULL) ORDER BY j.name`,
        [workspace.workspace_id, request.query.includeArchived ?? false],
      );
      return { data: rows.map(toJob) };
    },
  );

  app.get(
    '/jobs/:jobId',
    {
      schema: { tags: ['Jobs'], summary: 'Get a job', params: Closed({ jobId: Uuid }), response: { 200: Job } },
    },
    async (request) => {
      const notFound = new NotFoundProblem(ErrorCode.jobNotFound, 'No such job.');
      const [row] = await db.query<JobRow>(`${selectJob} WHERE j.job_id = $1 AND w.deleted_at IS NULL`, [
        request.params.jobId,
      ]);
      if (row === undefined) throw notFound;
      await requireRole(db, principalOf(request), row.organization_id, 'viewer', notFound, row.workspace_id);
      return toJob(row);
    },
  );

  app.get(
    '/workspaces/:workspaceId/deployments',
    {
      schema: {
        tags: ['Deployments'],
        summary: "The workspace's deployments, newest first (metadata; the bundles stay in the data plane)",
        params: Closed({ workspaceId: Uuid }),
        response: { 200: Type.Object({ data: Type.Array(Deployment) }) },
      },
    },
    async (request) => {
      const workspace = await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer');
      const rows = await db.query<DeploymentsTable>(
        'SELECT * FROM deployments WHERE workspace_id = $1 ORDER BY created_at DESC LIMIT 200',
        [workspace.workspace_id],
      );
      return {
        data: rows.map((r) => ({
          deploymentId: r.deployment_id,
          workspaceId: r.workspace_id,
          digest: r.digest,
          sizeBytes: Number(r.size_bytes),
          jobNames: r.job_names,
          createdBy: r.created_by,
          createdAt: iso(r.created_at),
        })),
      };
    },
  );
}
