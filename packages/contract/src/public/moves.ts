import { type Static, Type } from 'typebox';
import { Timestamp, Uuid } from '../schema.ts';

export const WorkspaceMoveStatuses = ['in_progress', 'completed'] as const;
export type WorkspaceMoveStatus = (typeof WorkspaceMoveStatuses)[number];

/**
 * A workspace's move to another region (issue 22), as the control plane records it: which
 * workspace went where, who moved it and when. Metadata only: the client copied the
 * bundle, variables and state from one data plane to the other itself (R2, R8).
 */
export const WorkspaceMove = Type.Object({
  moveId: Uuid,
  organizationId: Uuid,
  fromWorkspaceId: Uuid,
  fromWorkspaceName: Type.String(),
  fromDataResidency: Type.String({ description: "The old workspace's region name, lower case." }),
  toWorkspaceId: Uuid,
  toWorkspaceName: Type.String(),
  toRegionId: Uuid,
  toDataResidency: Type.String({ description: "The new workspace's region name, lower case." }),
  status: Type.Enum(WorkspaceMoveStatuses, {
    description:
      'in_progress: the old workspace is frozen (no new deployment, trigger or write; its schedules stopped) and the new one holds its jobs paused; completed: the new workspace runs them.',
  }),
  startedBy: Type.Union([Uuid, Type.Null()]),
  startedAt: Timestamp,
  completedBy: Type.Union([Uuid, Type.Null()]),
  completedAt: Type.Union([Timestamp, Type.Null()]),
});
export type WorkspaceMove = Static<typeof WorkspaceMove>;
