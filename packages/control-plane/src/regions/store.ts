import { randomUUID } from 'node:crypto';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { OrganizationsTable, RegionsTable } from '../tables.ts';

export type RegionRow = RegionsTable & { is_default_org: OrganizationsTable['is_default'] };

const selectRegion = `SELECT r.*, o.is_default AS is_default_org
  FROM regions r JOIN organizations o USING (organization_id)`;

/** A region that is not deleted. */
export async function findLiveRegion(db: Queryable, regionId: string): Promise<RegionRow | undefined> {
  const [row] = await db.query<RegionRow>(`${selectRegion} WHERE r.region_id = $1 AND NOT r.tombstone`, [regionId]);
  return row;
}

/** The organization's live regions and the instance's shared ones (those first), by name. */
export async function listRegions(db: Queryable, organizationId: string): Promise<RegionRow[]> {
  return db.query<RegionRow>(
    `${selectRegion} WHERE NOT r.tombstone AND (r.organization_id = $1 OR o.is_default)
      ORDER BY o.is_default DESC, r.name, r.region_id`,
    [organizationId],
  );
}

/** The live regions a user may use: the shared ones and their organizations' (all, for an instance admin). */
export async function listUsableRegions(
  db: Queryable,
  viewer: { userId: string; isInstanceAdmin: boolean },
): Promise<RegionRow[]> {
  return db.query<RegionRow>(
    `${selectRegion} WHERE NOT r.tombstone AND o.deleted_at IS NULL
        AND (o.is_default OR $2 OR EXISTS (SELECT 1 FROM memberships m
                                   WHERE m.organization_id = r.organization_id AND m.user_id = $1))
      ORDER BY o.is_default DESC, r.name, r.region_id`,
    [viewer.userId, viewer.isInstanceAdmin],
  );
}

/** Whether another live region of the organization has the name, whatever its case. */
export async function isRegionNameTaken(
  db: Queryable,
  organizationId: string,
  name: string,
  exceptRegionId: string | null,
): Promise<boolean> {
  const [row] = await db.query(
    `SELECT 1 FROM regions WHERE organization_id = $1 AND lower(name) = lower($2) AND NOT tombstone
        AND region_id IS DISTINCT FROM $3`,
    [organizationId, name, exceptRegionId],
  );
  return row !== undefined;
}

/** Makes a region; answers its id. */
export async function insertRegion(
  tx: Queryable,
  region: { organizationId: string; name: string; enabled: boolean },
): Promise<string> {
  const regionId = randomUUID();
  await tx.query('INSERT INTO regions (region_id, organization_id, name, enabled) VALUES ($1, $2, $3, $4)', [
    regionId,
    region.organizationId,
    region.name,
    region.enabled,
  ]);
  return regionId;
}

/** Renames, enables or disables a region; a null keeps what it had. */
export async function updateRegion(
  tx: Queryable,
  regionId: string,
  change: { name: string | null; enabled: boolean | null },
): Promise<void> {
  await tx.query(
    `UPDATE regions SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = now()
      WHERE region_id = $1`,
    [regionId, change.name, change.enabled],
  );
}

/** Tombstones a region (its data planes are the caller's to delete first); answers it as deleted. */
export async function deleteRegion(tx: Queryable, regionId: string): Promise<RegionRow | undefined> {
  const [row] = await tx.query<RegionRow>(
    `UPDATE regions SET tombstone = true, enabled = false, updated_at = now() WHERE region_id = $1
     RETURNING *, false AS is_default_org`,
    [regionId],
  );
  return row;
}
