import { randomUUID } from 'node:crypto';
import { Closed, ErrorCode, Timestamp, Uuid } from '@sovereign/protocol';
import type { App } from '@sovereign/protocol/http';
import { ConflictProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { Type } from 'typebox';
import { audit, userActor } from '../audit/record.ts';
import { requireRole } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { type RegionRow, regionFor, regionNotFound, selectRegion, toRegion } from './store.ts';

/** Airbyte's public API schemas for regions (shared/reference/airbyte/CONTRACT.md). */
export const RegionResponse = Type.Object({
  regionId: Uuid,
  name: Type.String(),
  organizationId: Uuid,
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const RegionsResponse = Type.Object({ data: Type.Array(RegionResponse) });
const RegionName = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
const RegionCreateRequest = Closed({
  name: RegionName,
  organizationId: Uuid,
  enabled: Type.Optional(Type.Boolean()),
});
const RegionPatchRequest = Closed({ name: Type.Optional(RegionName), enabled: Type.Optional(Type.Boolean()) });
const RegionParams = Closed({ regionId: Uuid });
const tags = ['Regions'];

const nameTaken = () =>
  new ConflictProblem(ErrorCode.regionNameTaken, 'The organization already has a region with that name.');

async function assertNameFree(tx: Queryable, organizationId: string, name: string, except?: string) {
  const [row] = await tx.query(
    `SELECT 1 FROM regions WHERE organization_id = $1 AND lower(name) = lower($2) AND NOT tombstone
        AND region_id IS DISTINCT FROM $3`,
    [organizationId, name, except ?? null],
  );
  if (row !== undefined) throw nameTaken();
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
        summary: "List the organization's regions and the instance's shared ones",
        querystring: Closed({ organizationId: Uuid }),
        response: { 200: RegionsResponse },
      },
    },
    async (request) => {
      const { organizationId } = request.query;
      await requireRole(db, principalOf(request), organizationId, 'viewer');
      const rows = await db.query<RegionRow>(
        `${selectRegion} WHERE NOT r.tombstone AND (r.organization_id = $1 OR o.is_default)
          ORDER BY o.is_default DESC, r.name, r.region_id`,
        [organizationId],
      );
      return { data: rows.map(toRegion) };
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
      const row = await db.transaction(async (tx) => {
        await requireRole(tx, principal, organizationId, 'admin');
        await assertNameFree(tx, organizationId, name);
        const regionId = randomUUID();
        await tx.query('INSERT INTO regions (region_id, organization_id, name, enabled) VALUES ($1, $2, $3, $4)', [
          regionId,
          organizationId,
          name,
          enabled ?? true,
        ]);
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'region.create',
          targetType: 'region',
          targetId: regionId,
          requestId: request.id,
        });
        return regionFor(tx, principal, regionId, 'admin');
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
      const row = await db.transaction(async (tx) => {
        const region = await regionFor(tx, principal, regionId, 'admin');
        if (request.body.name !== undefined)
          await assertNameFree(tx, region.organization_id, request.body.name, regionId);
        await tx.query(
          `UPDATE regions SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = now()
            WHERE region_id = $1`,
          [regionId, request.body.name ?? null, request.body.enabled ?? null],
        );
        await audit(tx, userActor(principal), {
          organizationId: region.organization_id,
          action: 'region.update',
          targetType: 'region',
          targetId: regionId,
          requestId: request.id,
        });
        return regionFor(tx, principal, regionId, 'admin');
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
      const row = await db.transaction(async (tx) => {
        const region = await regionFor(tx, principal, regionId, 'admin');
        // As Airbyte: the region's data planes go first, and their credentials with them.
        const planes = await tx.query<{ dataplane_id: string }>(
          `UPDATE dataplanes SET tombstone = true, enabled = false, client_secret_hash = NULL, updated_at = now()
            WHERE region_id = $1 AND NOT tombstone RETURNING dataplane_id`,
          [regionId],
        );
        for (const plane of planes) {
          await audit(tx, userActor(principal), {
            organizationId: region.organization_id,
            action: 'dataplane.delete',
            targetType: 'dataplane',
            targetId: plane.dataplane_id,
            requestId: request.id,
          });
        }
        const [deleted] = await tx.query<RegionRow>(
          `UPDATE regions SET tombstone = true, enabled = false, updated_at = now() WHERE region_id = $1
           RETURNING *, false AS is_default_org`,
          [regionId],
        );
        if (deleted === undefined) throw regionNotFound();
        await audit(tx, userActor(principal), {
          organizationId: region.organization_id,
          action: 'region.delete',
          targetType: 'region',
          targetId: regionId,
          requestId: request.id,
        });
        return deleted;
      });
      return toRegion(row);
    },
  );
}
