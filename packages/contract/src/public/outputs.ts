import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/** Data plane: a file a run left in its output directory. */
export const OutputFile = Type.Object({
  path: Type.String(),
  sizeBytes: Type.Integer(),
  digest: Type.String(),
  createdAt: Timestamp,
});
export type OutputFile = Static<typeof OutputFile>;

export const OutputFileList = Type.Object({ data: Type.Array(OutputFile) });
export type OutputFileList = Static<typeof OutputFileList>;

/**
 * Data plane: an output file of a run of another workspace, copied here when that
 * workspace moved to this one's region (`sov workspace move --with-outputs`): the old
 * run's id and path, stored in this region.
 */
export const MovedOutput = Type.Object({
  runId: Uuid,
  path: Type.String(),
  sizeBytes: Type.Integer(),
  digest: Type.String(),
  movedAt: Timestamp,
});
export type MovedOutput = Static<typeof MovedOutput>;

export const MovedOutputList = Type.Object({ data: Type.Array(MovedOutput) });
export type MovedOutputList = Static<typeof MovedOutputList>;

export const MovedOutputQuery = Closed({ runId: Type.Optional(Uuid) });
export type MovedOutputQuery = Static<typeof MovedOutputQuery>;
