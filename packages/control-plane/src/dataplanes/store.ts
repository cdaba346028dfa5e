import { ErrorCode, type Role } from '@sovereign/protocol';
import { NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { iso } from '../context.ts';

export interface DataplaneRow {
  dataplane_id: string;
  region_id: string;
  name: string;
  enabled: boolean;
  tombstone: boolean;
  client_id: string;
  public_url: string | null;
  created_at: Date;
  updated_at: Date;
  organization_id: string;
  region_enabled: boolean;
  region_name: string;
  is_default_org: boolean;
}

/** Airbyte's DataplaneResponse, field for field. */
export function toDataplane(row: DataplaneRow) {
  return {
    dataplaneId: row.dataplane_id,
    name: row.name,
    regionId: row.region_id,
    enabled: row.enabled,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export const selectDataplane = `SELECT d.dataplane_id, d.region_id, d.name, d.enabled, d.tombstone, d.client_id,
    d.public_url, d.created_at, d.updated_at, r.organization_id, r.enabled AS region_enabled, r.name AS region_name,
    o.is_default AS is_default_org
  FROM dataplanes d JOIN regions r USING (region_id) JOIN organizations o ON o.organization_id = r.organization_id`;

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
  const [row] = await tx.query<DataplaneRow>(`${selectDataplane} WHERE d.dataplane_id = $1 AND NOT d.tombstone`, [
    dataplaneId,
  ]);
  if (row === undefined) throw dataplaneNotFound();
  if (minimum === 'viewer' && row.is_default_org) return row;
  await requireRole(tx, principal, row.organization_id, minimum, dataplaneNotFound());
  return row;
}
