import { type Static, Type } from 'typebox';
import { Closed, Uuid } from './schema.ts';

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
  protocolVersion: Type.Integer({ minimum: 1 }),
  instanceId: Uuid,
  version: Type.String({ minLength: 1, maxLength: 64 }),
  publicUrl: Type.String({ format: 'uri', maxLength: 2048 }),
  capacity: Type.Integer({ minimum: 0, maximum: 100_000 }),
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
});
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export const RevokedToken = Type.Object({
  jti: Type.String(),
  /** The token's own expiry: after it, the data plane may forget the revocation. */
  expiresAt: Type.String({ format: 'date-time' }),
});

export const HeartbeatResponse = Type.Object({
  dataplaneEnabled: Type.Boolean(),
  regionEnabled: Type.Boolean(),
  /** False when the data plane or its region is disabled: take no new work. */
  accepting: Type.Boolean(),
  /** Why `accepting` is false, as a stable code; absent when accepting. */
  reason: Type.Optional(Type.Union([Type.Literal('dataplane_disabled'), Type.Literal('region_disabled')])),
  /** Workspaces bound to this data plane: the only ones whose tokens it accepts. */
  workspaceIds: Type.Array(Uuid),
  /** Revoked scoped token ids that have not expired yet. */
  revokedTokens: Type.Array(RevokedToken),
  /** Runs the data plane must stop. */
  cancelRunIds: Type.Array(Uuid),
  heartbeatIntervalSeconds: Type.Integer(),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/** Job names: what a manifest may call a job, unique in a workspace. */
export const jobNamePattern = '^[a-z0-9][a-z0-9_-]{0,62}$';

/**
 * How a job is started, as the control plane needs it to schedule: never the command.
 * `manual` jobs start only when someone (or the API) triggers them.
 */
export const JobTrigger = Type.Union([
  Closed({ type: Type.Literal('manual') }),
  Closed({ type: Type.Literal('cron'), cron: Type.String({ minLength: 1, maxLength: 200 }) }),
  Closed({ type: Type.Literal('every'), everySeconds: Type.Integer({ minimum: 1 }) }),
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
  timeoutSeconds: Type.Integer({ minimum: 1 }),
  retries: Type.Integer({ minimum: 0, maximum: 10 }),
});
export type JobMetadata = Static<typeof JobMetadata>;

/**
 * What a data plane tells the control plane after it stored a deployment: names,
 * kinds, triggers, limits, digest and size. Idempotent by deploymentId.
 */
export const DeploymentReport = Closed({
  protocolVersion: Type.Integer({ minimum: 1 }),
  deploymentId: Uuid,
  workspaceId: Uuid,
  /** `sha256:<hex>` of the uploaded bundle as stored. */
  digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
  sizeBytes: Type.Integer({ minimum: 0 }),
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
