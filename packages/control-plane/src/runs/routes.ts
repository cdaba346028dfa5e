import {
  Closed,
  ErrorCode,
  interactiveUrl,
  Run,
  RunList,
  RunListQuery,
  runDurationMs,
  TriggerRunRequest,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundWorkspace } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { jobFor } from '../jobs/access.ts';
import type { JobToRun } from '../jobs/store.ts';
import { assertNotMoved } from '../moves/guard.ts';
import { decodeCursor, isMicros, isUuid, page } from '../paging.ts';
import { runFor, runNotFound } from './access.ts';
import { endRun } from './lifecycle.ts';
import { enqueueRun, findRun, listRuns, type RunRow, requestCancel, runsAtLimit } from './store.ts';
import { Wakes } from './wakes.ts';

const tags = ['Runs'];

/**
 * Where an interactive run is opened: its data plane's URL for it. Metadata only: the
 * app's pages and answers travel between the client and the data plane, never here.
 */
export function runUrl(row: Pick<RunRow, 'run_id' | 'job_kind' | 'dataplane_url'>): string | null {
  return row.job_kind === 'interactive' && row.dataplane_url !== null
    ? interactiveUrl(row.dataplane_url, row.run_id)
    : null;
}

function toRun(row: RunRow) {
  return {
    runId: row.run_id,
    jobId: row.job_id,
    jobName: row.job_name,
    workspaceId: row.workspace_id,
    dataplaneId: row.dataplane_id,
    deploymentId: row.deployment_id,
    attempt: row.attempt,
    rootRunId: row.root_run_id,
    trigger: row.trigger,
    status: row.status,
    reasonCode: row.reason_code,
    exitCode: row.exit_code,
    scheduledFor: isoOrNull(row.scheduled_for),
    createdBy: row.created_by,
    intervalStart: isoOrNull(row.interval_start),
    intervalEnd: isoOrNull(row.interval_end),
    backfillId: row.backfill_id,
    queuedAt: iso(row.queued_at),
    claimedAt: isoOrNull(row.claimed_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    durationMs: runDurationMs(row.started_at, row.finished_at),
    cancelRequested: row.cancel_requested_at !== null,
    parametersId: row.parameters_id,
    url: runUrl(row),
  };
}

function runEvent(run: Pick<RunRow, 'organization_id'>, action: string, runId: string): AuditEntry {
  return { organizationId: run.organization_id, action, targetType: 'run', targetId: runId };
}

/** The refusal of a trigger past the job's limit: it names the runs to use (or cancel) instead. */
async function runLimitProblem(tx: Queryable, job: JobToRun, active: string[]): Promise<ConflictProblem> {
  const first = active[0] === undefined ? undefined : await findRun(tx, active[0]);
  const url = first === undefined ? null : runUrl(first);
  const limit = job.max_running ?? active.length;
  return new ConflictProblem(
    ErrorCode.runLimitReached,
    `The job ${job.name} already has ${active.length} active run${active.length === 1 ? '' : 's'} and allows ${limit} at once (max_running): use ${active.length === 1 ? 'it' : 'them'}, or cancel one first.`,
    { maxRunning: limit, runIds: active, runId: active[0], url },
  );
}

/** Runs: trigger, list with filters and a cursor, get, cancel. */
export async function runRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/jobs/:jobId/runs',
    {
      schema: {
        tags,
        summary: 'Trigger a run of a job now (members and up)',
        description:
          'A job that already has as many active runs as its max_running allows (one, for interactive jobs, unless the manifest says otherwise) answers 409 run_limit_reached, naming those runs (and the URL of the first, for interactive jobs). Triggers are rate limited per workspace (SOV_TRIGGER_LIMIT_PER_WORKSPACE a minute): past it, 429 rate_limited with Retry-After.',
        params: Closed({ jobId: Uuid }),
        body: TriggerRunRequest,
        response: { 200: Run },
      },
      // No body at all (no content type) is a run without parameters; a JSON body must be the object.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // An id of parameters stored on the data plane, never their values (R1): the body is closed.
      const parametersId = request.body.parametersId ?? null;
      const job = await jobFor(db, principal, request.params.jobId, 'member');
      if (job.archived_at !== null) {
        throw new ConflictProblem(ErrorCode.jobArchived, 'The job is archived: it is no longer in the deployment.');
      }
      await assertNotMoved(db, job.workspace_id, 'It starts no new run');
      // Per workspace, whoever triggers: a script looping on this route cannot fill the
      // queue its data plane's other tenants share.
      deps.limiter.take([
        { key: `trigger:workspace:${job.workspace_id}`, limit: deps.config.rateLimits.triggersPerWorkspace },
      ]);
      const trigger = principal.credential.type === 'api_key' ? 'api' : 'manual';
      const run = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const active = await runsAtLimit(tx, job);
        if (active !== undefined) throw await runLimitProblem(tx, job, active);
        const queued = await enqueueRun(tx, job, { trigger, createdBy: principal.userId, parametersId });
        if (queued === undefined) throw new Error('a manual run cannot conflict');
        return { result: await findRun(tx, queued.runId), audit: runEvent(job, 'run.trigger', queued.runId) };
      });
      if (run === undefined) throw runNotFound();
      await deps.dispatcher.wake(run.dataplane_id, job.kind);
      return toRun(run);
    },
  );

  app.get(
    '/runs',
    {
      schema: {
        tags,
        summary: 'List runs, newest first, of the workspaces you belong to',
        querystring: RunListQuery,
        response: { 200: RunList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { workspaceId, jobId, status, cursor } = request.query;
      const limit = request.query.limit ?? 50;
      // queued_at in microseconds: runs queued together (a scheduler tick) share one time.
      const [afterMicros, afterRunId] = cursor === undefined ? [] : decodeCursor(cursor, [isMicros, isUuid]);
      const rows = await listRuns(db, {
        isInstanceAdmin: principal.isInstanceAdmin,
        userId: principal.userId,
        workspaceId: workspaceId ?? null,
        jobId: jobId ?? null,
        status: status ?? null,
        after:
          afterMicros === undefined || afterRunId === undefined
            ? null
            : { queuedMicros: afterMicros, runId: afterRunId },
        limit: limit + 1,
        boundWorkspaceId: boundWorkspace(principal),
      });
      const listed = page(rows, limit, (r) => [String(r.queued_us), r.run_id]);
      return { data: listed.rows.map(toRun), nextCursor: listed.nextCursor };
    },
  );

  app.get(
    '/runs/:runId',
    { schema: { tags, summary: 'Get a run', params: Closed({ runId: Uuid }), response: { 200: Run } } },
    async (request) => toRun(await runFor(db, principalOf(request), request.params.runId, 'viewer')),
  );

  app.post(
    '/runs/:runId/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a run: a queued one ends at once, a claimed or running one is stopped on its data plane',
        params: Closed({ runId: Uuid }),
        response: { 200: Run },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const wakes = new Wakes();
      const run = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const row = await runFor(tx, principal, request.params.runId, 'member', { lock: true });
        if (row.status === 'queued') {
          await endRun(tx, row.run_id, 'cancelled', { reasonCode: 'cancelled', at: deps.now() }, wakes, deps.now());
        } else if (row.status === 'claimed' || row.status === 'running') {
          await requestCancel(tx, row.run_id, deps.now());
          wakes.add(row.dataplane_id);
        }
        return { result: await findRun(tx, row.run_id), audit: runEvent(row, 'run.cancel', row.run_id) };
      });
      if (run === undefined) throw runNotFound();
      // A cancel for a run its data plane holds, or runs queued after one that ended.
      for (const dataplaneId of wakes.dataplanes()) await deps.dispatcher.wake(dataplaneId, 'cancels');
      return toRun(run);
    },
  );
}
