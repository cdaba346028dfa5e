import { ErrorCode, type Role } from '@sovereign/contract';
import { NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { type DataplaneRow, findLiveDataplane } from './store.ts';

export const dataplaneNotFound = () => new NotFoundProblem(ErrorCode.dataplaneNotFound, 'No such data plane.');

/**
 * A live data plane whose organization the caller holds `minimum` in. Those of the
 * instance's default organization are readable by every signed-in user, as their
 * regions are (regionFor): workspaces of every organization run on them, and their
 * members see them and their health in the dashboard.
 */
export async function dataplaneFor(
  tx: Queryable,
  principal: Principal,
  dataplaneId: string,
  minimum: Role,
): Promise<DataplaneRow> {
  const row = await findLiveDataplane(tx, dataplaneId);
  if (row === undefined) throw dataplaneNotFound();
  if (minimum === 'viewer' && row.is_default_org) return row;
  await requireRole(tx, principal, row.organization_id, minimum, dataplaneNotFound());
  return row;
}
