import { type Static, Type } from 'typebox';
import { Closed, Count, maxInt32 } from './schema.ts';

/** The limits of one run, as a data plane applies them (bytes, CPUs, processes). */
export const RunLimitsSchema = Closed({
  memoryBytes: Count(),
  cpus: Type.Number({ minimum: 0, maximum: 100_000 }),
  pids: Type.Integer({ minimum: 0, maximum: maxInt32 }),
  tmpBytes: Count(),
  logBytes: Count(),
  outputBytes: Count(),
});

/**
 * What a data plane instance runs jobs in (R9), reported with every heartbeat and shown
 * in the data plane's health: a jail per run (bubblewrap), or none. No customer data:
 * the instance's own settings.
 */
export const SandboxFacts = Closed({
  mode: Type.Union([Type.Literal('bubblewrap'), Type.Literal('off')]),
  /** When off: why (`SOV_SANDBOX=off`, or what a development instance lacked to build one). */
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
  /** The cgroup version that enforces memory, CPU and process limits. */
  cgroups: Type.Optional(Type.Union([Type.Literal('v1'), Type.Literal('v2')])),
  /** What a run gets unless its job asks, and the most a job may ask. */
  limits: Closed({ defaults: RunLimitsSchema, max: RunLimitsSchema }),
});
export type SandboxFacts = Static<typeof SandboxFacts>;
