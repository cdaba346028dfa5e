import { ErrorCode, type Role } from '@sovereign/contract';
import { NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { findLiveRegion, type RegionRow } from './store.ts';

export const regionNotFound = () => new NotFoundProblem(ErrorCode.regionNotFound, 'No such region.');

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
  const row = await findLiveRegion(tx, regionId);
  if (row === undefined) throw regionNotFound();
  if (minimum === 'viewer' && row.is_default_org) return row;
  await requireRole(tx, principal, row.organization_id, minimum, regionNotFound());
  return row;
}
