import { type Static, Type } from 'typebox';
import { Closed, Name, Timestamp, Uuid } from '../schema.ts';
import { WorkspaceMove } from './moves.ts';
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
  movedTo: Type.Union([WorkspaceMove, Type.Null()], {
    description:
      'The move of this workspace to another region, started or completed: it then takes no new deployment, trigger or write, and its history stays readable here.',
  }),
  movedFrom: Type.Union([WorkspaceMove, Type.Null()], {
    description: 'The move that made this workspace, when it was made by moving another one here.',
  }),
});
export type WorkspaceResponse = Static<typeof WorkspaceResponse>;
export const Workspace = WorkspaceResponse;
export type Workspace = WorkspaceResponse;

export const WorkspaceName = Name(100);
const RunLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()]);

export const WorkspaceCreateRequest = Closed({ name: WorkspaceName, organizationId: Uuid, regionId: Uuid });
export type WorkspaceCreateRequest = Static<typeof WorkspaceCreateRequest>;

/**
 * A move to another region: the new workspace is made in it (same organization, jobs
 * paused), and the old one frozen. Started again for the same region, the same move
 * answers: that is how an interrupted move is resumed.
 */
export const WorkspaceMoveRequest = Closed({
  regionId: Uuid,
  name: Type.Optional(WorkspaceName),
});
export type WorkspaceMoveRequest = Static<typeof WorkspaceMoveRequest>;

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
