import { ErrorCode, type Role } from '@sovereign/protocol';
import { NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { iso } from '../context.ts';
import type { DataplanesTable, OrganizationsTable, RegionsTable } from '../tables.ts';

/** A data plane with its region's organization and standing; never its secret's hash. */
export type DataplaneRow = Omit<DataplanesTable, 'client_secret_hash'> &
  Pick<RegionsTable, 'organization_id'> & {
    region_enabled: RegionsTable['enabled'];
    region_name: RegionsTable['name'];
    is_default_org: OrganizationsTable['is_default'];
  };

/** Airbyte's DataplaneResponse, field for field, and the public URL clients are sent to. */
export function toDataplane(row: DataplaneRow) {
  return {
    dataplaneId: row.dataplane_id,
    name: row.name,
    regionId: row.region_id,
    enabled: row.enabled,
    publicUrl: row.public_url,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export const selectDataplane = `SELECT d.dataplane_id, d.region_id, d.name, d.enabled, d.tombstone, d.client_id,
    d.public_url, d.public_url_mismatch, d.public_url_mismatch_at, d.created_at, d.updated_at, r.organization_id, r.enabled AS region_enabled, r.name AS region_name,
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

/**
 * The data plane's public URL, pinned to `reported` when it has none yet (its first
 * registration). One statement that takes the row's lock, so of two instances racing to
 * register with different URLs, one pins and the other reads the winner's URL; the row is
 * written only while nothing is pinned, never by the heartbeats that follow.
 */
export async function pinnedPublicUrl(tx: Queryable, dataplaneId: string, reported: string): Promise<string> {
  const [current] = await tx.query<Pick<DataplanesTable, 'public_url'>>(
    'SELECT public_url FROM dataplanes WHERE dataplane_id = $1',
    [dataplaneId],
  );
  if (current !== undefined && current.public_url !== null) return current.public_url;
  const [pinned] = await tx.query<{ public_url: NonNullable<DataplanesTable['public_url']> }>(
    'UPDATE dataplanes SET public_url = coalesce(public_url, $2) WHERE dataplane_id = $1 RETURNING public_url',
    [dataplaneId, reported],
  );
  if (pinned === undefined) throw dataplaneNotFound();
  return pinned.public_url;
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
