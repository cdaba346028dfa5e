import { type Static, Type } from 'typebox';
import { Closed, Count, Timestamp } from '../schema.ts';

/** Data plane: one line a run printed. */
export const LogLine = Type.Object({
  seq: Type.Integer(),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  at: Timestamp,
  line: Type.String(),
});
export type LogLine = Static<typeof LogLine>;

export const LogQuery = Closed({
  follow: Type.Optional(Type.Boolean()),
  after: Type.Optional(Count({ description: 'Lines after this sequence number.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
});
export type LogQuery = Static<typeof LogQuery>;

/** A page of a run's log: `ended` once the run ended and this page holds its last line. */
export const LogPage = Type.Object({
  data: Type.Array(LogLine),
  nextAfter: Type.Integer(),
  ended: Type.Boolean(),
  status: Type.String(),
});
export type LogPage = Static<typeof LogPage>;

/** The `end` event of a followed log (server-sent events, not in the OpenAPI document). */
export interface LogEnd {
  status: string;
  exitCode: number | null;
  /** The run's duration (process start to end), the one the control plane states too. */
  durationMs: number | null;
}
