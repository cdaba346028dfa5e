import type { WorkspaceMove } from '@sovereign/contract';
import { iso, isoOrNull } from '../context.ts';
import type { MoveRow } from './store.ts';

/** A move as the API shows it. */
export function toMove(row: MoveRow): WorkspaceMove {
  return {
    moveId: row.move_id,
    organizationId: row.organization_id,
    fromWorkspaceId: row.from_workspace_id,
    fromWorkspaceName: row.from_name,
    fromDataResidency: row.from_region_name.toLowerCase(),
    toWorkspaceId: row.to_workspace_id,
    toWorkspaceName: row.to_name,
    toRegionId: row.to_region_id,
    toDataResidency: row.to_region_name.toLowerCase(),
    status: row.status,
    startedBy: row.started_by,
    startedAt: iso(row.started_at),
    completedBy: row.completed_by,
    completedAt: isoOrNull(row.completed_at),
  };
}
