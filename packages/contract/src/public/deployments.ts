import { type Static, Type } from 'typebox';
import { JobMetadata } from '../internal-api.ts';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/** A deployment as the control plane knows it: metadata only, the bundle stays in its data plane. */
export const DeploymentMetadata = Type.Object({
  deploymentId: Uuid,
  workspaceId: Uuid,
  digest: Type.String(),
  sizeBytes: Type.Integer(),
  jobNames: Type.Array(Type.String()),
  createdBy: Type.Union([Uuid, Type.Null()]),
  createdAt: Timestamp,
});
export type DeploymentMetadata = Static<typeof DeploymentMetadata>;

export const DeploymentMetadataList = Type.Object({ data: Type.Array(DeploymentMetadata) });
export type DeploymentMetadataList = Static<typeof DeploymentMetadataList>;

/** Data plane: the jobs a deployment added, changed, left alone and archived. */
export const JobChanges = Type.Object({
  added: Type.Array(Type.String()),
  updated: Type.Array(Type.String()),
  unchanged: Type.Array(Type.String()),
  archived: Type.Array(Type.String()),
});
export type JobChanges = Static<typeof JobChanges>;

/** Data plane: a stored deployment, with its jobs' metadata. */
export const Deployment = Type.Object({
  deploymentId: Uuid,
  workspaceId: Uuid,
  digest: Type.String(),
  sizeBytes: Type.Integer(),
  jobs: Type.Array(JobMetadata),
  createdBy: Uuid,
  createdAt: Timestamp,
  current: Type.Boolean(),
});
export type Deployment = Static<typeof Deployment>;

export const DeploymentList = Type.Object({ data: Type.Array(Deployment) });
export type DeploymentList = Static<typeof DeploymentList>;

export const DeployQuery = Closed({ dryRun: Type.Optional(Type.Boolean()) });
export type DeployQuery = Static<typeof DeployQuery>;

/** Data plane: the answer to an upload (or a dry run, which stores nothing and has no id). */
export const DeployResult = Type.Object({
  deploymentId: Type.Union([Uuid, Type.Null()]),
  dryRun: Type.Boolean(),
  digest: Type.String(),
  sizeBytes: Type.Integer(),
  jobs: Type.Array(JobMetadata),
  changes: JobChanges,
  environments: Type.Array(
    Type.Object({
      kind: Type.Union([Type.Literal('python'), Type.Literal('node')]),
      /** Built for this deployment (a dry run: would be); false when one built before serves it. */
      built: Type.Boolean(),
    }),
    {
      description:
        'The environments the bundle declares (requirements.txt; package.json with package-lock.json), built in the region from the data plane’s package sources.',
    },
  ),
});
export type DeployResult = Static<typeof DeployResult>;

export const DeploymentManifest = Type.Object({ deploymentId: Uuid, manifest: Type.String() });
export type DeploymentManifest = Static<typeof DeploymentManifest>;
