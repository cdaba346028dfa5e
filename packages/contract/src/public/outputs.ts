import { type Static, Type } from 'typebox';
import { Timestamp } from '../schema.ts';

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
