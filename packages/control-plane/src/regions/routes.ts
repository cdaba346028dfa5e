import {
  Closed,
  ErrorCode,
  RegionCreateRequest,
  RegionListQuery,
  RegionPatchRequest,
  RegionResponse,
  RegionsResponse,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundOrganization, boundWorkspace, requireRole, roleIn } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso } from '../context.ts';
import { deleteDataplanes } from '../dataplanes/store.ts';
import { regionFor, regionNotFound } from './access.ts';
import {
  deleteRegion,
  insertRegion,
  isRegionNameTaken,
  listRegions,
  listUsableRegions,
  type RegionRow,
  updateRegion,
} from './store.ts';

const RegionParams = Closed({ regionId: Uuid });
const tags = ['Regions'];

const nameTaken = () =>
  new ConflictProblem(ErrorCode.regionNameTaken, 'The organization already has a region with that name.');

async function assertNameFree(tx: Queryable, organizationId: string, name: string, except?: string) {
  if (await isRegionNameTaken(tx, organizationId, name, except ?? null)) throw nameTaken();
}

/** Airbyte's RegionResponse, field for field. */
function toRegion(row: RegionRow) {
  return {
    regionId: row.region_id,
    name: row.name,
    organizationId: row.organization_id,
    enabled: row.enabled,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** An event of the region's organization's trail, about the region or one of its data planes. */
function regionEvent(
  organizationId: string,
  action: string,
  target: { type: 'region' | 'dataplane'; id: string },
): AuditEntry {
  return { organizationId, action, targetType: target.type, targetId: target.id };
}

/** Regions, in Airbyte's shapes: 200 on every success, soft delete, `{data}` lists. */
export async function regionRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.get(
    '/regions',
    {
      schema: {
        tags,
        operationId: 'listRegions',
        summary:
          "List the organization's regions and the instance's shared ones (without organizationId: every region you may use)",
        querystring: RegionListQuery,
        response: { 200: RegionsResponse },
      },
    },
    async (request) => {
      const { organizationId } = request.query;
      const principal = principalOf(request);
      if (organizationId === undefined) {
        // A key bound to one workspace acts in its workspace's organization only, and only
        // while its user is still a member there (as every other call of such a key).
        const bound = boundOrganization(principal);
        if (bound === null) return { data: (await listUsableRegions(db, principal)).map(toRegion) };
        const member = (await roleIn(db, principal, bound, boundWorkspace(principal) ?? undefined)) !== null;
        return { data: member ? (await listRegions(db, bound)).map(toRegion) : [] };
      }
      await requireRole(db, principal, organizationId, 'viewer');
      return { data: (await listRegions(db, organizationId)).map(toRegion) };
    },
  );

  app.post(
    '/regions',
    {
      schema: {
        tags,
        operationId: 'createRegion',
        summary: 'Create a region (organization owner or admin)',
        body: RegionCreateRequest,
        response: { 200: RegionResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { name, organizationId, enabled } = request.body;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await requireRole(tx, principal, organizationId, 'admin');
        await assertNameFree(tx, organizationId, name);
        const regionId = await insertRegion(tx, { organizationId, name, enabled: enabled ?? true });
        return {
          result: await regionFor(tx, principal, regionId, 'admin'),
          audit: regionEvent(organizationId, 'region.create', { type: 'region', id: regionId }),
        };
      });
      return toRegion(row);
    },
  );

  app.get(
    '/regions/:regionId',
    {
      schema: {
        tags,
        operationId: 'getRegion',
        summary: 'Get a region',
        params: RegionParams,
        response: { 200: RegionResponse },
      },
    },
    async (request) => toRegion(await regionFor(db, principalOf(request), request.params.regionId, 'viewer')),
  );

  app.patch(
    '/regions/:regionId',
    {
      schema: {
        tags,
        operationId: 'updateRegion',
        summary: 'Rename, enable or disable a region (merge patch)',
        params: RegionParams,
        body: RegionPatchRequest,
        response: { 200: RegionResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { regionId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const region = await regionFor(tx, principal, regionId, 'admin');
        if (request.body.name !== undefined)
          await assertNameFree(tx, region.organization_id, request.body.name, regionId);
        await updateRegion(tx, regionId, { name: request.body.name ?? null, enabled: request.body.enabled ?? null });
        return {
          result: await regionFor(tx, principal, regionId, 'admin'),
          audit: regionEvent(region.organization_id, 'region.update', { type: 'region', id: regionId }),
        };
      });
      return toRegion(row);
    },
  );

  app.delete(
    '/regions/:regionId',
    {
      schema: {
        tags,
        operationId: 'deleteRegion',
        summary: 'Delete a region and its data planes (soft delete); answers the deleted region',
        params: RegionParams,
        response: { 200: RegionResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { regionId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const region = await regionFor(tx, principal, regionId, 'admin');
        // As Airbyte: the region's data planes go first, and their credentials with them.
        const planes = await deleteDataplanes(tx, { regionId });
        const deleted = await deleteRegion(tx, regionId);
        if (deleted === undefined) throw regionNotFound();
        const organizationId = region.organization_id;
        return {
          result: deleted,
          audit: [
            ...planes.map((id) => regionEvent(organizationId, 'dataplane.delete', { type: 'dataplane', id })),
            regionEvent(organizationId, 'region.delete', { type: 'region', id: regionId }),
          ],
        };
      });
      return toRegion(row);
    },
  );
}
