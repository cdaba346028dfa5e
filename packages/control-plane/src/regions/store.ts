import { ErrorCode, type Role } from '@sovereign/protocol';
import { NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { iso } from '../context.ts';
import type { OrganizationsTable, RegionsTable } from '../tables.ts';

export type RegionRow = RegionsTable & { is_default_org: OrganizationsTable['is_default'] };

/** Airbyte's RegionResponse, field for field. */
export function toRegion(row: RegionRow) {
  return {
    regionId: row.region_id,
    name: row.name,
    organizationId: row.organization_id,
    enabled: row.enabled,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export const regionNotFound = () => new NotFoundProblem(ErrorCode.regionNotFound, 'No such region.');

export const selectRegion = `SELECT r.*, o.is_default AS is_default_org
  FROM regions r JOIN organizations o USING (organization_id)`;

/**
 * A live region the caller may act on with `minimum`. Regions of the instance's
 * default organization are readable by every signed-in user: every organization may
 * put workspaces in them.
 */
export async function regionFor(
  tx: Queryable,
  principal: Principal,
  regionId: string,
  minimum: Role,
): Promise<RegionRow> {
  const [row] = await tx.query<RegionRow>(`${selectRegion} WHERE r.region_id = $1 AND NOT r.tombstone`, [regionId]);
  if (row === undefined) throw regionNotFound();
  if (minimum === 'viewer' && row.is_default_org) return row;
  await requireRole(tx, principal, row.organization_id, minimum, regionNotFound());
  return row;
}
