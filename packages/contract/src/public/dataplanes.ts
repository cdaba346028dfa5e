import { type Static, Type } from 'typebox';
import { DataplaneHealthStatuses } from '../health.ts';
import { publicUrlPattern } from '../public-url.ts';
import { SandboxFacts } from '../sandbox.ts';
import { Closed, Name, Timestamp, Uuid } from '../schema.ts';

/**
 * Airbyte's public API schemas for data planes (shared/reference/airbyte/CONTRACT.md),
 * extended with `publicUrl`: where clients are sent with their scoped tokens.
 */
export const DataplaneResponse = Type.Object({
  dataplaneId: Uuid,
  name: Type.String(),
  regionId: Uuid,
  enabled: Type.Boolean(),
  /** Set by an administrator, or pinned by the first registration; null before either. */
  publicUrl: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type DataplaneResponse = Static<typeof DataplaneResponse>;
export const Dataplane = DataplaneResponse;
export type Dataplane = DataplaneResponse;

export const DataplanesResponse = Type.Object({ data: Type.Array(DataplaneResponse) });
export type DataplanesResponse = Static<typeof DataplanesResponse>;

/** Airbyte defines it only in its config API; the public spec $refs it. Here it is public. */
export const DataplaneCreateResponseBody = Type.Object({
  dataplaneId: Uuid,
  regionId: Uuid,
  clientId: Type.String(),
  clientSecret: Type.String({ description: 'Shown in this answer only.' }),
});
export type DataplaneCreateResponseBody = Static<typeof DataplaneCreateResponseBody>;

const DataplaneName = Name(255);
/** One URL for all its instances (behind a balancer when there are several). */
const DataplanePublicUrl = Type.Optional(
  Type.String({
    format: 'uri',
    pattern: publicUrlPattern,
    maxLength: 2048,
    description:
      'Where clients reach the data plane. Without it, the first instance to register pins the URL it reports; ' +
      'an instance reporting another is refused.',
  }),
);

export const DataplaneListQuery = Closed({ regionIds: Type.Optional(Type.Array(Uuid, { maxItems: 100 })) });
export type DataplaneListQuery = Static<typeof DataplaneListQuery>;

export const DataplaneCreateRequest = Closed({
  regionId: Uuid,
  name: DataplaneName,
  enabled: Type.Optional(Type.Boolean()),
  publicUrl: DataplanePublicUrl,
});
export type DataplaneCreateRequest = Static<typeof DataplaneCreateRequest>;

/**
 * A data plane created under its region, as Airbyte's multi-region guide does it
 * (`POST /regions/{regionId}/dataplanes`): the region is the path's.
 */
export const RegionDataplaneCreateRequest = Closed({
  name: DataplaneName,
  enabled: Type.Optional(Type.Boolean()),
  publicUrl: DataplanePublicUrl,
});
export type RegionDataplaneCreateRequest = Static<typeof RegionDataplaneCreateRequest>;

export const DataplanePatchRequest = Closed({
  name: Type.Optional(DataplaneName),
  enabled: Type.Optional(Type.Boolean()),
  publicUrl: DataplanePublicUrl,
});
export type DataplanePatchRequest = Static<typeof DataplanePatchRequest>;

/**
 * One instance as its heartbeats tell it. Its id, URL and load are for the administrators
 * of the data plane's organization only: an instance id is what a data plane names
 * itself by in the protocol, and a shared data plane's load is other tenants' business.
 */
export const DataplaneInstance = Type.Object({
  instanceId: Type.Optional(Uuid),
  version: Type.String(),
  publicUrl: Type.Optional(Type.String()),
  capacity: Type.Integer(),
  heldRuns: Type.Optional(Type.Integer()),
  startedAt: Timestamp,
  lastHeartbeatAt: Type.Union([Timestamp, Type.Null()]),
  status: Type.Enum(DataplaneHealthStatuses),
  /** What it runs jobs in, as it said in its last heartbeat: a jail per run, or none (and why). */
  sandbox: Type.Union([SandboxFacts, Type.Null()]),
});
export type DataplaneInstance = Static<typeof DataplaneInstance>;

export const DataplaneHealth = Type.Object({
  dataplaneId: Uuid,
  status: Type.Enum(DataplaneHealthStatuses),
  lastHeartbeatAt: Type.Union([Timestamp, Type.Null()]),
  version: Type.Union([Type.String(), Type.Null()]),
  publicUrl: Type.Union([Type.String(), Type.Null()]),
  /**
   * The last report of another public URL, refused (administrators only; null when none
   * since an administrator last set the URL): a misconfigured instance, or someone else
   * holding the data plane's credentials.
   */
  publicUrlMismatch: Type.Optional(Type.Union([Type.Object({ reported: Type.String(), at: Timestamp }), Type.Null()])),
  /** What the newest instance runs jobs in: a jail per run, or none (and why). Null before any said. */
  sandbox: Type.Union([SandboxFacts, Type.Null()]),
  instances: Type.Array(DataplaneInstance),
});
export type DataplaneHealth = Static<typeof DataplaneHealth>;
