import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/** How many intervals one backfill may hold: a range past it is refused (422 backfill_too_large). */
export const maxBackfillIntervals = 1000;

export const BackfillStatuses = ['running', 'done', 'cancelled'] as const;
export type BackfillStatus = (typeof BackfillStatuses)[number];

export const BackfillRequest = Closed({
  from: Timestamp,
  to: Timestamp,
  maxRunning: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 10, default: 2, description: 'How many of its runs go at once (1 to 10).' }),
  ),
  force: Type.Optional(
    Type.Boolean({ description: 'Run intervals that already succeeded again (they are skipped otherwise).' }),
  ),
});
export type BackfillRequest = Static<typeof BackfillRequest>;

export const Backfill = Type.Object({
  backfillId: Uuid,
  jobId: Uuid,
  jobName: Type.String(),
  workspaceId: Uuid,
  from: Timestamp,
  to: Timestamp,
  maxRunning: Type.Integer({ minimum: 1 }),
  force: Type.Boolean(),
  status: Type.Enum(BackfillStatuses, {
    description: 'running while it has intervals to queue or runs going; done when every run ended; cancelled.',
  }),
  intervals: Type.Integer({ minimum: 0, description: 'The schedule’s intervals within [from, to].' }),
  toRun: Type.Integer({ minimum: 0, description: 'The intervals it runs: `intervals` − `skipped`.' }),
  skipped: Type.Integer({
    minimum: 0,
    description: 'Intervals skipped: a run of the job for the same interval succeeded (unless force) or is going.',
  }),
  succeeded: Type.Integer({ minimum: 0, description: 'Intervals whose run (its last attempt) succeeded.' }),
  failed: Type.Integer({
    minimum: 0,
    description: 'Intervals whose run ended otherwise (failed, timed out, lost, cancelled).',
  }),
  active: Type.Integer({ minimum: 0, description: 'Intervals whose run is queued, claimed or running.' }),
  waiting: Type.Integer({ minimum: 0, description: 'Intervals not queued yet (at most maxRunning go at once).' }),
  createdBy: Type.Union([Uuid, Type.Null()]),
  createdAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
});
export type Backfill = Static<typeof Backfill>;

export const BackfillList = Type.Object({
  data: Type.Array(Backfill, { description: 'The newest 100, newest first.' }),
});
export type BackfillList = Static<typeof BackfillList>;
