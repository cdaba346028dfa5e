import { type Static, Type } from 'typebox';
import { PublicUrl } from './public-url.ts';
import { SandboxFacts } from './sandbox.ts';
import { Closed, Count, maxInt32, ProtocolVersion, Uuid } from './schema.ts';

/**
 * The control plane <-> data plane protocol. Every call is made by the data plane
 * (outbound only), carries the protocol version, and is idempotent.
 */
export const protocolVersion = 1;
export const internalApiPrefix = '/api/internal/v1';

export const InternalPaths = {
  token: `${internalApiPrefix}/dataplanes/token`,
  initialize: `${internalApiPrefix}/dataplanes/initialize`,
  heartbeat: `${internalApiPrefix}/dataplanes/heartbeat`,
  deploymentReport: `${internalApiPrefix}/deployments/report`,
  claim: `${internalApiPrefix}/runs/claim`,
  runEvents: `${internalApiPrefix}/runs/events`,
  revocations: `${internalApiPrefix}/tokens/revocations`,
} as const;

/** OAuth 2 client credentials, as Airbyte's `/dataplanes/token`. */
export const DataplaneTokenRequest = Closed({
  client_id: Type.String({ minLength: 1, maxLength: 200 }),
  client_secret: Type.String({ minLength: 1, maxLength: 200 }),
  grant_type: Type.Optional(Type.Literal('client_credentials')),
});
export type DataplaneTokenRequest = Static<typeof DataplaneTokenRequest>;

export const DataplaneTokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
});
export type DataplaneTokenResponse = Static<typeof DataplaneTokenResponse>;

const InstanceFacts = {
  protocolVersion: ProtocolVersion,
  instanceId: Uuid,
  version: Type.String({ minLength: 1, maxLength: 64 }),
  /**
   * Where clients reach this data plane. It must be the data plane's public URL (set by
   * an administrator, or pinned by its first registration): an instance reporting
   * another is refused (`dataplane_public_url_mismatch`).
   */
  publicUrl: PublicUrl,
  capacity: Type.Integer({ minimum: 0, maximum: 100_000 }),
  /** What the instance runs jobs in (R9); optional for data planes older than jails. */
  sandbox: Type.Optional(SandboxFacts),
};

export const InitializeRequest = Closed(InstanceFacts);
export type InitializeRequest = Static<typeof InitializeRequest>;

/** What a data plane learns about itself when it starts. */
export const InitializeResponse = Type.Object({
  dataplaneId: Uuid,
  dataplaneName: Type.String(),
  dataplaneEnabled: Type.Boolean(),
  regionId: Uuid,
  regionName: Type.String(),
  regionEnabled: Type.Boolean(),
  organizationId: Uuid,
  /** `iss` of the scoped tokens this data plane must accept. */
  issuer: Type.String(),
  jwksUrl: Type.String(),
  heartbeatIntervalSeconds: Type.Integer(),
});
export type InitializeResponse = Static<typeof InitializeResponse>;

export const HeartbeatRequest = Closed({
  ...InstanceFacts,
  /** Runs this instance holds (claimed or running), to renew their leases. */
  heldRuns: Type.Array(Uuid, { maxItems: 10_000 }),
  /**
   * The highest `claimSeq` among the claim answers this instance had taken in when it
   * listed `heldRuns` (0 before any). A claim up to it that is not listed never reached
   * the instance and goes back to the queue; a later one may still be on its way and is
   * left alone. Optional for older data planes, whose unlisted claims are requeued once
   * a few seconds old instead.
   */
  claimedThrough: Type.Optional(Count()),
});
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export const RevokedToken = Type.Object({
  jti: Type.String(),
  /** The token's own expiry: after it, the data plane may forget the revocation. */
  expiresAt: Type.String({ format: 'date-time' }),
});
export type RevokedToken = Static<typeof RevokedToken>;

/**
 * Held open until a token of this data plane is revoked after `after` (or `waitMs`
 * passed): a revocation reaches every data plane in well under a second, not at its
 * next heartbeat. The heartbeat's full list stays the fallback.
 */
export const RevocationsRequest = Closed({
  protocolVersion: ProtocolVersion,
  /** The highest `through` this data plane has seen; 0 at first. */
  after: Count(),
  waitMs: Type.Integer({ minimum: 0, maximum: 30_000 }),
});
export type RevocationsRequest = Static<typeof RevocationsRequest>;

export const RevocationsResponse = Type.Object({
  /** Tokens revoked after `after`, oldest revocation first (at most a page of them). */
  revokedTokens: Type.Array(RevokedToken),
  /** Where the next request starts: the number of the newest revocation listed. */
  through: Count(),
});
export type RevocationsResponse = Static<typeof RevocationsResponse>;

export const HeartbeatResponse = Type.Object({
  dataplaneEnabled: Type.Boolean(),
  regionEnabled: Type.Boolean(),
  /** False when the data plane or its region is disabled: take no new work. */
  accepting: Type.Boolean(),
  /** Why `accepting` is false, as a stable code; absent when accepting. */
  reason: Type.Optional(Type.Union([Type.Literal('dataplane_disabled'), Type.Literal('region_disabled')])),
  /** Workspaces bound to this data plane: the only ones whose tokens it accepts. */
  workspaceIds: Type.Array(Uuid),
  /**
   * Revoked scoped token ids, until `interactiveSessionMaxSeconds` past their expiry
   * (an interactive session opened with one may last that long).
   */
  revokedTokens: Type.Array(RevokedToken),
  /** Runs the data plane must stop: their cancel was asked for. */
  cancelRunIds: Type.Array(Uuid),
  /** Held runs whose lease this instance lost (it was taken over, or ended): stop them. */
  fencedRunIds: Type.Array(Uuid),
  heartbeatIntervalSeconds: Type.Integer(),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/** Job names: what a manifest may call a job, unique in a workspace. */
export const jobNamePattern = '^[a-z0-9][a-z0-9_-]{0,62}$';

/**
 * The longest `timeout`. A job running for more than a week is a service; and the
 * executor's timer (setTimeout) cannot count past 24.8 days at all.
 */
export const maxTimeoutSeconds = 7 * 86400;
/** The longest interval of an `every` trigger: a year and a day. */
export const maxEverySeconds = 366 * 86400;
/** A retry waits at most this long, however many attempts came before (an hour). */
export const maxRetryDelaySeconds = 3600;
/** Retry delays when the manifest says nothing: 10 s, then twice as long each time. */
export const defaultRetryDelaySeconds = 10;
export const defaultRetryBackoff = 2;

/**
 * How a job is started, as the control plane needs it to schedule: never the command.
 * `manual` jobs start only when someone (or the API) triggers them.
 */
export const JobTrigger = Type.Union([
  Closed({ type: Type.Literal('manual') }),
  Closed({ type: Type.Literal('cron'), cron: Type.String({ minLength: 1, maxLength: 200 }) }),
  Closed({ type: Type.Literal('every'), everySeconds: Type.Integer({ minimum: 1, maximum: maxEverySeconds }) }),
  Closed({ type: Type.Literal('once'), at: Type.String({ format: 'date-time' }) }),
  Closed({
    type: Type.Literal('after'),
    job: Type.String({ pattern: jobNamePattern }),
    on: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('completion')]),
  }),
]);
export type JobTrigger = Static<typeof JobTrigger>;

/** One job of a deployment, in metadata only (R1): no command, no environment. */
export const JobMetadata = Closed({
  name: Type.String({ pattern: jobNamePattern }),
  kind: Type.Union([Type.Literal('batch'), Type.Literal('interactive')]),
  trigger: JobTrigger,
  /** IANA time zone the trigger is read in. */
  timezone: Type.String({ minLength: 1, maxLength: 64 }),
  timeoutSeconds: Type.Integer({ minimum: 1, maximum: maxTimeoutSeconds }),
  retries: Type.Integer({ minimum: 0, maximum: 10 }),
  /**
   * Seconds before the first retry (`retry_delay`); each later one waits `retryBackoff`
   * times longer, at most an hour, give or take a tenth at random. Absent: 10.
   */
  retryDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: maxRetryDelaySeconds })),
  /** How much longer each retry waits than the one before (`retry_backoff`); absent: 2. */
  retryBackoff: Type.Optional(Type.Number({ minimum: 1, maximum: 10 })),
  /**
   * At most this many runs of the job at once (queued, claimed or running); absent
   * means no limit. Interactive jobs default to 1: a second trigger answers the first.
   */
  maxRunning: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
export type JobMetadata = Static<typeof JobMetadata>;

/**
 * What a data plane tells the control plane after it stored a deployment: names,
 * kinds, triggers, limits, digest and size. Idempotent by deploymentId.
 */
export const DeploymentReport = Closed({
  protocolVersion: ProtocolVersion,
  deploymentId: Uuid,
  workspaceId: Uuid,
  /** `sha256:<hex>` of the uploaded bundle as stored. */
  digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
  sizeBytes: Count(),
  /** The user whose scoped token made the upload (`sub`). */
  createdBy: Uuid,
  createdAt: Type.String({ format: 'date-time' }),
  jobs: Type.Array(JobMetadata, { maxItems: 1000 }),
});
export type DeploymentReport = Static<typeof DeploymentReport>;

export const DeploymentReportResponse = Type.Object({
  deploymentId: Uuid,
  /** Jobs created, updated, left as they were, and archived (gone from the manifest). */
  jobs: Type.Object({
    added: Type.Array(Type.String()),
    updated: Type.Array(Type.String()),
    unchanged: Type.Array(Type.String()),
    archived: Type.Array(Type.String()),
  }),
});
export type DeploymentReportResponse = Static<typeof DeploymentReportResponse>;

/** Why a run ended the way it did: a stable code, never text produced by the job (R5). */
export const ReasonCodes = [
  'exit_zero',
  'exit_nonzero',
  'killed_by_signal',
  'timeout',
  'cancelled',
  'lease_expired',
  'spawn_failed',
  'secrets_unreadable',
  'deployment_missing',
  'job_missing',
  'dataplane_shutdown',
  'internal_error',
  // Interactive jobs: their port never answered within the start timeout; the process
  // ended before its port answered; stopped after its idle limit without requests.
  'start_timeout',
  'exited_before_ready',
  'idle_timeout',
  // Stopped by a limit of its own (R9): the kernel's OOM killer ran and the run failed;
  // its processes filled their limit; its /tmp filled; it printed more log bytes or left
  // more output bytes than its limit; its jail could not be built.
  'out_of_memory',
  'pids_limit',
  'tmp_limit',
  'log_limit',
  'output_limit',
  'sandbox_failed',
  // Its job's environment was gone from the cache and could not be built again.
  'environment_failed',
  // The run's parameters (issue 20) are not on this data plane for its workspace and job;
  // or they no longer match its job's declaration (a required one missing, a wrong type).
  'parameters_missing',
  'parameters_invalid',
] as const;
export type ReasonCode = (typeof ReasonCodes)[number];

/** A run handed to a data plane instance, with the lease it holds it under. */
export const ClaimedRun = Type.Object({
  runId: Uuid,
  jobId: Uuid,
  jobName: Type.String(),
  kind: Type.Union([Type.Literal('batch'), Type.Literal('interactive')]),
  workspaceId: Uuid,
  deploymentId: Uuid,
  attempt: Type.Integer({ minimum: 1 }),
  timeoutSeconds: Type.Integer({ minimum: 1 }),
  leaseExpiresAt: Type.String({ format: 'date-time' }),
  /** The interval a scheduled or backfilled run covers (SOV_INTERVAL_START/END); absent for others. */
  intervalStart: Type.Optional(Type.String({ format: 'date-time' })),
  intervalEnd: Type.Optional(Type.String({ format: 'date-time' })),
  /** The run's parameters, stored on this data plane (issue 20): an id, never the values. */
  parametersId: Type.Optional(Uuid),
});
export type ClaimedRun = Static<typeof ClaimedRun>;

export const ClaimRequest = Closed({
  protocolVersion: ProtocolVersion,
  instanceId: Uuid,
  /** Free slots: at most this many runs are handed out (batch runs only when interactiveCapacity is given). */
  capacity: Type.Integer({ minimum: 0, maximum: 1000 }),
  /**
   * Free slots for interactive runs, counted apart: an app lives for hours and is mostly
   * idle, and must not keep batch runs from starting. Optional for older data planes.
   */
  interactiveCapacity: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  /** How long the control plane may hold the request open waiting for a run. */
  waitMs: Type.Integer({ minimum: 0, maximum: 30_000 }),
  /**
   * Runs this instance holds as it asks. An instance claims one request at a time, so a
   * run claimed for it earlier and missing here never reached it (the answer was lost):
   * it goes back to the queue at once. Optional for data planes older than this field.
   */
  heldRuns: Type.Optional(Type.Array(Uuid, { maxItems: 10_000 })),
});
export type ClaimRequest = Static<typeof ClaimRequest>;

export const ClaimResponse = Type.Object({
  runs: Type.Array(ClaimedRun),
  /**
   * Orders the claims of every instance (a database sequence, not a clock): present when
   * `runs` is not empty. The instance sends the highest it has taken in with its
   * heartbeats, as `claimedThrough`.
   */
  claimSeq: Type.Optional(Count({ minimum: 1 })),
  /** Runs this instance holds whose cancel was asked for: stop them. */
  cancelRunIds: Type.Array(Uuid),
});
export type ClaimResponse = Static<typeof ClaimResponse>;

/** A status change of a run, as the data plane saw it. Idempotent by (runId, seq). */
export const RunEvent = Closed({
  runId: Uuid,
  /** 1, 2, 3... per run and attempt, in the order the data plane recorded them. */
  seq: Type.Integer({ minimum: 1, maximum: maxInt32 }),
  status: Type.Union([
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('timed_out'),
    Type.Literal('cancelled'),
  ]),
  exitCode: Type.Optional(Type.Union([Type.Integer({ minimum: -maxInt32 - 1, maximum: maxInt32 }), Type.Null()])),
  reasonCode: Type.Optional(Type.Enum(ReasonCodes)),
  at: Type.String({ format: 'date-time' }),
});
export type RunEvent = Static<typeof RunEvent>;

export const RunEventsRequest = Closed({
  protocolVersion: ProtocolVersion,
  instanceId: Uuid,
  events: Type.Array(RunEvent, { minItems: 1, maxItems: 500 }),
});
export type RunEventsRequest = Static<typeof RunEventsRequest>;

export const RunEventsResponse = Type.Object({
  /** Recorded now or before (a redelivery). */
  accepted: Type.Array(Type.Object({ runId: Uuid, seq: Type.Integer() })),
  /**
   * Runs whose lease this instance no longer holds: the event was refused and the
   * instance must stop the process (fencing): an attempt never runs twice.
   */
  fenced: Type.Array(Uuid),
});
export type RunEventsResponse = Static<typeof RunEventsResponse>;

/**
 * Every call of the protocol: where it goes, what the data plane sends and what it is
 * answered. The control plane's routes take their schemas from here and the data
 * plane's client checks each answer against them, so the two cannot drift apart.
 */
export const InternalRoutes = {
  token: { path: InternalPaths.token, body: DataplaneTokenRequest, response: DataplaneTokenResponse },
  initialize: { path: InternalPaths.initialize, body: InitializeRequest, response: InitializeResponse },
  heartbeat: { path: InternalPaths.heartbeat, body: HeartbeatRequest, response: HeartbeatResponse },
  deploymentReport: {
    path: InternalPaths.deploymentReport,
    body: DeploymentReport,
    response: DeploymentReportResponse,
  },
  claim: { path: InternalPaths.claim, body: ClaimRequest, response: ClaimResponse },
  runEvents: { path: InternalPaths.runEvents, body: RunEventsRequest, response: RunEventsResponse },
  revocations: { path: InternalPaths.revocations, body: RevocationsRequest, response: RevocationsResponse },
} as const;
export type InternalRoute = (typeof InternalRoutes)[keyof typeof InternalRoutes];
