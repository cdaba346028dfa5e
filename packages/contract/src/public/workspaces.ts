import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';
import { CursorParam, NextCursor } from './paging.ts';

export const WorkspaceResponse = Type.Object({
  workspaceId: Uuid,
  name: Type.String(),
  organizationId: Uuid,
  regionId: Uuid,
  dataplaneId: Uuid,
  dataResidency: Type.String({ description: "The region's name in lower case." }),
  maxConcurrentRuns: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
    description:
      "Batch runs of the workspace claimed or running at once on its data plane; null: the control plane's default (SOV_WORKSPACE_RUN_LIMIT).",
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type WorkspaceResponse = Static<typeof WorkspaceResponse>;
export const Workspace = WorkspaceResponse;
export type Workspace = WorkspaceResponse;

const WorkspaceName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const RunLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()]);

export const WorkspaceCreateRequest = Closed({ name: WorkspaceName, organizationId: Uuid, regionId: Uuid });
export type WorkspaceCreateRequest = Static<typeof WorkspaceCreateRequest>;

export const WorkspaceListQuery = Closed({
  organizationId: Type.Optional(Uuid),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: CursorParam,
});
export type WorkspaceListQuery = Static<typeof WorkspaceListQuery>;

export const WorkspaceList = Type.Object({ data: Type.Array(WorkspaceResponse), nextCursor: NextCursor });
export type WorkspaceList = Static<typeof WorkspaceList>;

export const WorkspacePatchRequest = Closed({
  name: Type.Optional(WorkspaceName),
  regionId: Type.Optional(Uuid),
  maxConcurrentRuns: Type.Optional(RunLimit),
});
export type WorkspacePatchRequest = Static<typeof WorkspacePatchRequest>;
