import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/** Data plane: a job's saved state. */
export const JobState = Type.Object({
  job: Type.String(),
  state: Type.Unknown(),
  updatedAt: Timestamp,
  updatedByRun: Type.Union([Uuid, Type.Null()]),
});
export type JobState = Static<typeof JobState>;

export const JobStateRequest = Closed({ state: Type.Unknown() });
export type JobStateRequest = Static<typeof JobStateRequest>;
