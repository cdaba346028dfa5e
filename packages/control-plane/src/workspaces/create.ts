import { ErrorCode } from '@sovereign/contract';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { Principal } from '../auth/principal.ts';
import { findDataplaneToHost } from '../dataplanes/store.ts';
import { findOrganization } from '../organizations/store.ts';
import { regionFor } from '../regions/access.ts';
import type { RegionRow } from '../regions/store.ts';
import { insertWorkspace, isWorkspaceNameTaken } from './store.ts';

export async function assertNameFree(tx: Queryable, organizationId: string, name: string, except?: string) {
  if (await isWorkspaceNameTaken(tx, organizationId, name, except ?? null)) {
    throw new ConflictProblem(ErrorCode.workspaceNameTaken, 'The organization already has a workspace with that name.');
  }
}

/**
 * An organization created with a data region keeps every workspace there, for good: a
 * workspace elsewhere takes another organization (as in dltHub).
 */
async function assertOrganizationRegion(tx: Queryable, organizationId: string, region: RegionRow): Promise<void> {
  const organization = await findOrganization(tx, organizationId);
  if (organization?.region_id == null || organization.region_id === region.region_id) return;
  throw new ConflictProblem(
    ErrorCode.organizationRegionMismatch,
    `The organization keeps its data in region ${organization.region_name ?? organization.region_id}, for good; ` +
      'a workspace in another region needs an organization of that region.',
    { organizationRegionId: organization.region_id },
  );
}

/** The data plane of the region a new workspace is bound to for good (see findDataplaneToHost). */
async function pickDataplane(tx: Queryable, regionId: string): Promise<string> {
  const dataplaneId = await findDataplaneToHost(tx, regionId);
  if (dataplaneId === undefined) {
    throw new ConflictProblem(
      ErrorCode.noDataplaneAvailable,
      'The region has no enabled data plane to host the workspace; create or enable one first.',
    );
  }
  return dataplaneId;
}

/**
 * A region the organization may put a workspace in: its own or a shared one, enabled,
 * and the organization's data region when it has one. Not found when the caller may not see it.
 */
export async function usableRegion(
  tx: Queryable,
  principal: Principal,
  organizationId: string,
  regionId: string,
): Promise<RegionRow> {
  const region = await regionFor(tx, principal, regionId, 'viewer');
  if (region.organization_id !== organizationId && !region.is_default_org) {
    throw new ConflictProblem(
      ErrorCode.regionNotUsable,
      "The region belongs to another organization; use one of this organization's regions or a shared one.",
    );
  }
  if (!region.enabled) {
    throw new ConflictProblem(ErrorCode.regionDisabled, 'The region is disabled; enable it or choose another.');
  }
  await assertOrganizationRegion(tx, organizationId, region);
  return region;
}

/**
 * Makes a workspace in a region usableRegion() allowed, bound for good to the region and
 * one of its data planes (R4); answers its id. The caller has checked the role.
 */
export async function createWorkspace(
  tx: Queryable,
  workspace: { organizationId: string; name: string; region: RegionRow },
): Promise<string> {
  const { organizationId, name, region } = workspace;
  await assertNameFree(tx, organizationId, name);
  const dataplaneId = await pickDataplane(tx, region.region_id);
  return insertWorkspace(tx, { organizationId, name, regionId: region.region_id, dataplaneId });
}
