import { randomUUID } from 'node:crypto';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { DataplanesTable, OrganizationsTable, RegionsTable } from '../tables.ts';

/** A data plane with its region's organization and standing; never its secret's hash. */
export type DataplaneRow = Omit<DataplanesTable, 'client_secret_hash'> &
  Pick<RegionsTable, 'organization_id'> & {
    region_enabled: RegionsTable['enabled'];
    region_name: RegionsTable['name'];
    is_default_org: OrganizationsTable['is_default'];
  };

const selectDataplane = `SELECT d.dataplane_id, d.region_id, d.name, d.enabled, d.tombstone, d.client_id,
    d.public_url, d.public_url_mismatch, d.public_url_mismatch_at, d.created_at, d.updated_at, r.organization_id,
    r.enabled AS region_enabled, r.name AS region_name, o.is_default AS is_default_org
  FROM dataplanes d JOIN regions r USING (region_id) JOIN organizations o ON o.organization_id = r.organization_id`;

/** A data plane, deleted or not. */
export async function findDataplane(db: Queryable, dataplaneId: string): Promise<DataplaneRow | undefined> {
  const [row] = await db.query<DataplaneRow>(`${selectDataplane} WHERE d.dataplane_id = $1`, [dataplaneId]);
  return row;
}

/** A data plane that is not deleted. */
export async function findLiveDataplane(db: Queryable, dataplaneId: string): Promise<DataplaneRow | undefined> {
  const [row] = await db.query<DataplaneRow>(`${selectDataplane} WHERE d.dataplane_id = $1 AND NOT d.tombstone`, [
    dataplaneId,
  ]);
  return row;
}

/** A data plane whose client credentials still work: not deleted, its secret not wiped. */
export async function findCredentialedDataplane(db: Queryable, dataplaneId: string): Promise<DataplaneRow | undefined> {
  const [row] = await db.query<DataplaneRow>(
    `${selectDataplane} WHERE d.dataplane_id = $1 AND NOT d.tombstone AND d.client_secret_hash IS NOT NULL`,
    [dataplaneId],
  );
  return row;
}

/** What exchanging client credentials needs of the data plane they name. */
export type DataplaneCredentialsRow = Pick<
  DataplanesTable,
  'dataplane_id' | 'client_secret_hash' | 'tombstone' | 'region_id'
> &
  Pick<RegionsTable, 'organization_id'>;

/** The data plane of a client id (text: any string a caller sends is looked up, never cast). */
export async function findDataplaneByClientId(
  db: Queryable,
  clientId: string,
): Promise<DataplaneCredentialsRow | undefined> {
  const [row] = await db.query<DataplaneCredentialsRow>(
    `SELECT d.dataplane_id, d.client_secret_hash, d.tombstone, d.region_id, r.organization_id
       FROM dataplanes d JOIN regions r USING (region_id)
      WHERE d.client_id::text = $1`,
    [clientId],
  );
  return row;
}

/** The live data planes of the given regions, by name. */
export async function listDataplanesInRegions(db: Queryable, regionIds: string[]): Promise<DataplaneRow[]> {
  return db.query<DataplaneRow>(
    `${selectDataplane} WHERE NOT d.tombstone AND d.region_id = ANY($1::uuid[]) ORDER BY d.name, d.dataplane_id`,
    [regionIds],
  );
}

/**
 * The live data planes of the user's organizations (of every organization for an
 * instance administrator), by name; none for a key bound to one workspace.
 */
export async function listDataplanesOf(
  db: Queryable,
  caller: { userId: string; isInstanceAdmin: boolean; boundToWorkspace: boolean },
): Promise<DataplaneRow[]> {
  return db.query<DataplaneRow>(
    `${selectDataplane} WHERE NOT d.tombstone AND NOT $3 AND ($2 OR r.organization_id IN
       (SELECT organization_id FROM memberships WHERE user_id = $1))
     ORDER BY d.name, d.dataplane_id`,
    [caller.userId, caller.isInstanceAdmin, caller.boundToWorkspace],
  );
}

/** Whether another live data plane of the region has the name, whatever its case. */
export async function isDataplaneNameTaken(
  db: Queryable,
  regionId: string,
  name: string,
  exceptDataplaneId: string | null,
): Promise<boolean> {
  const [row] = await db.query(
    `SELECT 1 FROM dataplanes WHERE region_id = $1 AND lower(name) = lower($2) AND NOT tombstone
        AND dataplane_id IS DISTINCT FROM $3`,
    [regionId, name, exceptDataplaneId],
  );
  return row !== undefined;
}

/** Makes a data plane with the hash of its client secret; answers its ids. */
export async function insertDataplane(
  tx: Queryable,
  plane: { regionId: string; name: string; enabled: boolean; clientSecretHash: string; publicUrl: string | null },
): Promise<{ dataplaneId: string; clientId: string }> {
  const dataplaneId = randomUUID();
  const clientId = randomUUID();
  await tx.query(
    `INSERT INTO dataplanes (dataplane_id, region_id, name, enabled, client_id, client_secret_hash, public_url)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [dataplaneId, plane.regionId, plane.name, plane.enabled, clientId, plane.clientSecretHash, plane.publicUrl],
  );
  return { dataplaneId, clientId };
}

/** Renames, enables or disables a data plane; a null keeps what it had. */
export async function updateDataplane(
  tx: Queryable,
  dataplaneId: string,
  change: { name: string | null; enabled: boolean | null },
): Promise<void> {
  await tx.query(
    `UPDATE dataplanes SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = now()
      WHERE dataplane_id = $1`,
    [dataplaneId, change.name, change.enabled],
  );
}

/**
 * Deletes data planes, one or every one of a region, as Airbyte does: tombstoned and
 * disabled, and their client secret wiped, so their credentials stop working at once.
 * Answers the ids of those it deleted.
 */
export async function deleteDataplanes(
  tx: Queryable,
  which: { dataplaneId: string } | { regionId: string },
): Promise<string[]> {
  const rows = await tx.query<Pick<DataplanesTable, 'dataplane_id'>>(
    `UPDATE dataplanes SET tombstone = true, enabled = false, client_secret_hash = NULL, updated_at = now()
      WHERE NOT tombstone AND ($1::uuid IS NULL OR dataplane_id = $1) AND ($2::uuid IS NULL OR region_id = $2)
      RETURNING dataplane_id`,
    ['dataplaneId' in which ? which.dataplaneId : null, 'regionId' in which ? which.regionId : null],
  );
  return rows.map((r) => r.dataplane_id);
}

/** The organization whose region holds a data plane: its admins set the limits of the workspaces it hosts. */
export async function findDataplaneOrganization(tx: Queryable, dataplaneId: string): Promise<string> {
  const [row] = await tx.query<Pick<RegionsTable, 'organization_id'>>(
    'SELECT r.organization_id FROM dataplanes d JOIN regions r USING (region_id) WHERE d.dataplane_id = $1',
    [dataplaneId],
  );
  if (row === undefined) throw new Error(`data plane ${dataplaneId} has no region`);
  return row.organization_id;
}

/**
 * The enabled data plane of a region to host a new workspace: the one that heartbeat most
 * recently, then the one hosting the fewest workspaces. Undefined when the region has none.
 */
export async function findDataplaneToHost(tx: Queryable, regionId: string): Promise<string | undefined> {
  const [row] = await tx.query<Pick<DataplanesTable, 'dataplane_id'>>(
    `SELECT d.dataplane_id FROM dataplanes d
       LEFT JOIN LATERAL (SELECT max(last_heartbeat_at) AS seen FROM dataplane_instances i
                           WHERE i.dataplane_id = d.dataplane_id) h ON true
       LEFT JOIN LATERAL (SELECT count(*) AS hosted FROM workspaces w
                           WHERE w.dataplane_id = d.dataplane_id AND w.deleted_at IS NULL) c ON true
      WHERE d.region_id = $1 AND d.enabled AND NOT d.tombstone
      ORDER BY h.seen DESC NULLS LAST, c.hosted, d.created_at LIMIT 1`,
    [regionId],
  );
  return row?.dataplane_id;
}

/**
 * The data plane's public URL, pinned to `reported` when it has none yet (its first
 * registration). One statement that takes the row's lock, so of two instances racing to
 * register with different URLs, one pins and the other reads the winner's URL; the row is
 * written only while nothing is pinned, never by the heartbeats that follow. Undefined when
 * there is no such data plane.
 */
export async function pinnedPublicUrl(
  tx: Queryable,
  dataplaneId: string,
  reported: string,
): Promise<string | undefined> {
  const [current] = await tx.query<Pick<DataplanesTable, 'public_url'>>(
    'SELECT public_url FROM dataplanes WHERE dataplane_id = $1',
    [dataplaneId],
  );
  if (current !== undefined && current.public_url !== null) return current.public_url;
  const [pinned] = await tx.query<{ public_url: NonNullable<DataplanesTable['public_url']> }>(
    'UPDATE dataplanes SET public_url = coalesce(public_url, $2) WHERE dataplane_id = $1 RETURNING public_url',
    [dataplaneId, reported],
  );
  return pinned?.public_url;
}

/**
 * Notes that an instance reported another public URL than the data plane's. Answers
 * whether that URL is news (not the last one noted), so each is audited once, not at
 * every heartbeat of a misconfigured instance.
 */
export async function notePublicUrlMismatch(
  tx: Queryable,
  dataplaneId: string,
  reported: string,
  at: Date,
): Promise<boolean> {
  const [before] = await tx.query<Pick<DataplanesTable, 'public_url_mismatch'>>(
    'SELECT public_url_mismatch FROM dataplanes WHERE dataplane_id = $1 FOR UPDATE',
    [dataplaneId],
  );
  await tx.query(
    'UPDATE dataplanes SET public_url_mismatch = $2, public_url_mismatch_at = $3 WHERE dataplane_id = $1',
    [dataplaneId, reported, at],
  );
  return before?.public_url_mismatch !== reported;
}

/** An administrator sets the public URL: the next heartbeat is held to it, and past mismatches are settled. */
export async function setPublicUrl(tx: Queryable, dataplaneId: string, publicUrl: string): Promise<void> {
  await tx.query(
    `UPDATE dataplanes SET public_url = $2, public_url_mismatch = NULL, public_url_mismatch_at = NULL
      WHERE dataplane_id = $1`,
    [dataplaneId, publicUrl],
  );
}
