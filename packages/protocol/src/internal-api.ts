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
