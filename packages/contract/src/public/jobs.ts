import { type Static, Type } from 'typebox';
import { JobTrigger } from '../internal-api.ts';
import { RunStatuses } from '../run-states.ts';
import { Closed, Timestamp, Uuid } from '../schema.ts';
import { RunTriggers } from './runs.ts';

export const Job = Type.Object({
  jobId: Uuid,
  workspaceId: Uuid,
  name: Type.String(),
  kind: Type.Union([Type.Literal('batch'), Type.Literal('interactive')]),
  trigger: JobTrigger,
  timezone: Type.String(),
  timeoutSeconds: Type.Integer(),
  retries: Type.Integer(),
  retryDelaySeconds: Type.Integer({ description: 'Seconds before the first retry; later ones wait longer.' }),
  retryBackoff: Type.Number({ description: 'Each retry waits this many times longer than the one before.' }),
  maxRunning: Type.Union([Type.Integer(), Type.Null()], {
    description: 'At most this many runs at once (queued, claimed or running); null for no limit.',
  }),
  paused: Type.Boolean(),
  archived: Type.Boolean(),
  deploymentId: Uuid,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  archivedAt: Type.Union([Timestamp, Type.Null()]),
  nextRunAt: Type.Union([Timestamp, Type.Null()], {
    description:
      'When the scheduler next queues a run (cron, every, once), in the job’s time zone; null for manual and `after` triggers, paused or archived jobs, and a `once` that has passed.',
  }),
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
export type Job = Static<typeof Job>;

export const JobList = Type.Object({ data: Type.Array(Job) });
export type JobList = Static<typeof JobList>;

export const JobListQuery = Closed({ includeArchived: Type.Optional(Type.Boolean()) });
export type JobListQuery = Static<typeof JobListQuery>;

export const JobPatchRequest = Closed({ paused: Type.Boolean() });
export type JobPatchRequest = Static<typeof JobPatchRequest>;

export const JobPatchResponse = Type.Object({ jobId: Uuid, paused: Type.Boolean() });
export type JobPatchResponse = Static<typeof JobPatchResponse>;
