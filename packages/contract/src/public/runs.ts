import { type Static, Type } from 'typebox';
import { RunStatuses } from '../run-states.ts';
import { Closed, Timestamp, Uuid } from '../schema.ts';
import { CursorParam, NextCursor } from './paging.ts';

/** What started a run. */
export const RunTriggers = ['manual', 'api', 'schedule', 'after', 'retry', 'backfill'] as const;
export type RunTrigger = (typeof RunTriggers)[number];

export const Run = Type.Object({
  runId: Uuid,
  jobId: Uuid,
  jobName: Type.String(),
  workspaceId: Uuid,
  dataplaneId: Uuid,
  deploymentId: Uuid,
  attempt: Type.Integer(),
  rootRunId: Uuid,
  trigger: Type.Enum(RunTriggers),
  status: Type.Enum(RunStatuses),
  reasonCode: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  scheduledFor: Type.Union([Timestamp, Type.Null()], {
    description:
      'A scheduled run’s due time; a retry’s earliest start (it waits its delay, queued): "attempt 2 in 30 s".',
  }),
  createdBy: Type.Union([Uuid, Type.Null()]),
  intervalStart: Type.Union([Timestamp, Type.Null()], {
    description:
      'The start of the interval the run covers: its schedule’s previous due time (a scheduled or backfilled run, and their retries; the job sees it as SOV_INTERVAL_START). Null for other runs.',
  }),
  intervalEnd: Type.Union([Timestamp, Type.Null()], {
    description: 'The end of the interval the run covers: its own due time (SOV_INTERVAL_END). Null for other runs.',
  }),
  backfillId: Type.Union([Uuid, Type.Null()], { description: 'The backfill that queued the run, if one did.' }),
  queuedAt: Timestamp,
  claimedAt: Type.Union([Timestamp, Type.Null()]),
  startedAt: Type.Union([Timestamp, Type.Null()], {
    description: 'When the job’s process started, as its data plane saw it; null until then.',
  }),
  finishedAt: Type.Union([Timestamp, Type.Null()], {
    description: 'When the run ended: its process’s end, or when it was cancelled or found lost; null until then.',
  }),
  durationMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description:
      'The run’s duration, the one every client shows: from its process’s start to its end (finishedAt − startedAt). Null until it ended, and for a run that never started.',
  }),
  cancelRequested: Type.Boolean(),
  parametersId: Type.Union([Uuid, Type.Null()], {
    description:
      "The id of the run's parameters, stored on its workspace's data plane (read them there); null when it was given none. The values never reach the control plane.",
  }),
  url: Type.Union([Type.String(), Type.Null()], {
    description:
      "Interactive runs: where to open the app, on the workspace's data plane (with a scoped token carrying the interactive scope). Null for batch runs.",
  }),
});
export type Run = Static<typeof Run>;

/**
 * A trigger's body: the id of parameters stored on the workspace's data plane, and nothing
 * else (never values). Optional: a request without a body is a run without parameters.
 */
export const TriggerRunRequest = Closed({ parametersId: Type.Optional(Uuid) });
export type TriggerRunRequest = Static<typeof TriggerRunRequest>;

export const RunListQuery = Closed({
  workspaceId: Type.Optional(Uuid),
  jobId: Type.Optional(Uuid),
  status: Type.Optional(Type.Enum(RunStatuses)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: CursorParam,
});
export type RunListQuery = Static<typeof RunListQuery>;

export const RunList = Type.Object({ data: Type.Array(Run), nextCursor: NextCursor });
export type RunList = Static<typeof RunList>;
