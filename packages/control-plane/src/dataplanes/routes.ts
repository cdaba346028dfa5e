import {
  Closed,
  DataplaneCreateRequest,
  DataplaneCreateResponseBody,
  DataplaneHealth,
  DataplaneListQuery,
  DataplanePatchRequest,
  DataplaneResponse,
  DataplanesResponse,
  dataplaneHealth,
  ErrorCode,
  normalizePublicUrl,
  RegionDataplaneCreateRequest,
  type Role,
  roleAtLeast,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundWorkspace, roleIn } from '../auth/access.ts';
import { type Principal, principalOf } from '../auth/principal.ts';
import { hashSecret, newSecret, SecretPrefix } from '../auth/secrets.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { listInstances } from '../instances/store.ts';
import { regionFor } from '../regions/access.ts';
import { dataplaneFor, dataplaneNotFound } from './access.ts';
import {
  type DataplaneRow,
  deleteDataplanes,
  findDataplane,
  insertDataplane,
  isDataplaneNameTaken,
  listDataplanesInRegions,
  listDataplanesOf,
  setPublicUrl,
  updateDataplane,
} from './store.ts';

const DataplaneParams = Closed({ dataplaneId: Uuid });
const RegionParams = Closed({ regionId: Uuid });
const RegionDataplaneParams = Closed({ regionId: Uuid, dataplaneId: Uuid });

const tags = ['Dataplanes'];

async function assertNameFree(tx: Queryable, regionId: string, name: string, except?: string) {
  if (await isDataplaneNameTaken(tx, regionId, name, except ?? null)) {
    throw new ConflictProblem(ErrorCode.dataplaneNameTaken, 'The region already has a data plane with that name.');
  }
}

/** Airbyte's DataplaneResponse, field for field, and the public URL clients are sent to. */
function toDataplane(row: DataplaneRow) {
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

/** Where a route names a data plane: by its id, and under Airbyte's nested paths its region's. */
interface PlaneAt {
  dataplaneId: string;
  regionId?: string;
}

/** An event of the trail of the organization the data plane's region belongs to. */
function dataplaneEvent(organizationId: string, action: string, dataplaneId: string): AuditEntry {
  return { organizationId, action, targetType: 'dataplane', targetId: dataplaneId };
}

/** Data planes, in Airbyte's shapes; create answers the client credentials once. */
export async function dataplaneRoutes(app: App, deps: Deps) {
  const { db } = deps;

  /**
   * The data plane a route names, with `minimum` in its organization. Under a region's
   * path (Airbyte's guide) the region must be one the caller sees, and the data plane
   * one of its own: another region's is not found there.
   */
  async function planeAt(tx: Queryable, principal: Principal, at: PlaneAt, minimum: Role): Promise<DataplaneRow> {
    if (at.regionId !== undefined) await regionFor(tx, principal, at.regionId, 'viewer');
    const plane = await dataplaneFor(tx, principal, at.dataplaneId, minimum);
    if (at.regionId !== undefined && plane.region_id !== at.regionId) throw dataplaneNotFound();
    return plane;
  }

  async function create(principal: Principal, requestId: string, body: DataplaneCreateRequest) {
    const { regionId, name, enabled, publicUrl } = body;
    const clientSecret = newSecret(SecretPrefix.dataplaneSecret);
    const created = await audited(db, userAuthor(principal.userId, requestId), async (tx) => {
      const region = await regionFor(tx, principal, regionId, 'admin');
      await assertNameFree(tx, regionId, name);
      const { dataplaneId, clientId } = await insertDataplane(tx, {
        regionId,
        name,
        enabled: enabled ?? true,
        clientSecretHash: hashSecret(clientSecret),
        publicUrl: publicUrl === undefined ? null : normalizePublicUrl(publicUrl),
      });
      return {
        result: { dataplaneId, regionId, clientId },
        audit: dataplaneEvent(region.organization_id, 'dataplane.create', dataplaneId),
      };
    });
    return { ...created, clientSecret };
  }

  async function update(principal: Principal, requestId: string, at: PlaneAt, body: DataplanePatchRequest) {
    const { dataplaneId } = at;
    const row = await audited(db, userAuthor(principal.userId, requestId), async (tx) => {
      const plane = await planeAt(tx, principal, at, 'admin');
      if (body.name !== undefined) await assertNameFree(tx, plane.region_id, body.name, dataplaneId);
      await updateDataplane(tx, dataplaneId, { name: body.name ?? null, enabled: body.enabled ?? null });
      if (body.publicUrl !== undefined) await setPublicUrl(tx, dataplaneId, normalizePublicUrl(body.publicUrl));
      return {
        result: await dataplaneFor(tx, principal, dataplaneId, 'admin'),
        audit: dataplaneEvent(plane.organization_id, 'dataplane.update', dataplaneId),
      };
    });
    return toDataplane(row);
  }

  async function remove(principal: Principal, requestId: string, at: PlaneAt) {
    const { dataplaneId } = at;
    const row = await audited(db, userAuthor(principal.userId, requestId), async (tx) => {
      const plane = await planeAt(tx, principal, at, 'admin');
      await deleteDataplanes(tx, { dataplaneId });
      const deleted = await findDataplane(tx, dataplaneId);
      if (deleted === undefined) throw dataplaneNotFound();
      return { result: deleted, audit: dataplaneEvent(plane.organization_id, 'dataplane.delete', dataplaneId) };
    });
    return toDataplane(row);
  }

  app.get(
    '/dataplanes',
    {
      schema: {
        tags,
        operationId: 'listDataplanes',
        summary: 'List data planes, of the given regions or of every organization you belong to',
        querystring: DataplaneListQuery,
        response: { 200: DataplanesResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { regionIds } = request.query;
      let rows: DataplaneRow[];
      if (regionIds !== undefined && regionIds.length > 0) {
        for (const regionId of regionIds) await regionFor(db, principal, regionId, 'viewer');
        rows = await listDataplanesInRegions(db, regionIds);
      } else {
        rows = await listDataplanesOf(db, {
          userId: principal.userId,
          isInstanceAdmin: principal.isInstanceAdmin,
          // A key bound to one workspace acts on nothing of its organization's: it lists none.
          boundToWorkspace: boundWorkspace(principal) !== null,
        });
      }
      return { data: rows.map(toDataplane) };
    },
  );

  app.post(
    '/dataplanes',
    {
      schema: {
        tags,
        operationId: 'createDataplane',
        summary: 'Create a data plane; its client credentials are shown in this answer only',
        body: DataplaneCreateRequest,
        response: { 200: DataplaneCreateResponseBody },
      },
    },
    async (request) => create(principalOf(request), request.id, request.body),
  );

  app.get(
    '/dataplanes/:dataplaneId',
    {
      schema: {
        tags,
        operationId: 'getDataplane',
        summary: 'Get a data plane',
        params: DataplaneParams,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => toDataplane(await planeAt(db, principalOf(request), request.params, 'viewer')),
  );

  app.patch(
    '/dataplanes/:dataplaneId',
    {
      schema: {
        tags,
        operationId: 'updateDataplane',
        summary: 'Rename, enable or disable a data plane, or set its public URL (merge patch)',
        description:
          'A new publicUrl holds from the next heartbeat on: instances reporting another are refused. Setting it ' +
          'also clears a past mismatch from the health.',
        params: DataplaneParams,
        body: DataplanePatchRequest,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => update(principalOf(request), request.id, request.params, request.body),
  );

  app.delete(
    '/dataplanes/:dataplaneId',
    {
      schema: {
        tags,
        operationId: 'deleteDataplane',
        summary: 'Delete a data plane (soft delete); its credentials stop working at once',
        params: DataplaneParams,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => remove(principalOf(request), request.id, request.params),
  );

  app.get(
    '/dataplanes/:dataplaneId/health',
    {
      schema: {
        tags,
        summary: 'Health of a data plane and its instances, from their heartbeats',
        description:
          'healthy: a heartbeat within 60 s; degraded: within 5 minutes; unhealthy: older; unknown: none yet. ' +
          "Instance ids, URLs and held runs, and publicUrlMismatch, are shown to the data plane's organization's " +
          'administrators only.',
        params: DataplaneParams,
        response: { 200: DataplaneHealth },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const plane = await dataplaneFor(db, principal, request.params.dataplaneId, 'viewer');
      const role = await roleIn(db, principal, plane.organization_id);
      const admin = role !== null && roleAtLeast(role, 'admin');
      const instances = await listInstances(db, plane.dataplane_id);
      const now = deps.now();
      const newest = instances[0];
      return {
        dataplaneId: plane.dataplane_id,
        status: dataplaneHealth(newest?.last_heartbeat_at ?? null, now),
        lastHeartbeatAt: isoOrNull(newest?.last_heartbeat_at ?? null),
        version: newest?.version ?? null,
        publicUrl: plane.public_url,
        ...(admin
          ? {
              publicUrlMismatch:
                plane.public_url_mismatch === null
                  ? null
                  : { reported: plane.public_url_mismatch, at: iso(plane.public_url_mismatch_at ?? plane.updated_at) },
            }
          : {}),
        sandbox: newest?.sandbox ?? null,
        instances: instances.map((i) => ({
          ...(admin ? { instanceId: i.instance_id, publicUrl: i.public_url, heldRuns: i.held_runs } : {}),
          version: i.version,
          capacity: i.capacity,
          startedAt: iso(i.started_at),
          lastHeartbeatAt: isoOrNull(i.last_heartbeat_at),
          status: dataplaneHealth(i.last_heartbeat_at, now),
          sandbox: i.sandbox,
        })),
      };
    },
  );

  // The same data planes under their region, as Airbyte's multi-region guide addresses
  // them: same bodies (the region is the path's), answers and errors.
  const regionTags = ['Dataplanes'];
  app.get(
    '/regions/:regionId/dataplanes',
    {
      schema: {
        tags: regionTags,
        operationId: 'listRegionDataplanes',
        summary: "List a region's data planes",
        params: RegionParams,
        response: { 200: DataplanesResponse },
      },
    },
    async (request) => {
      const { regionId } = request.params;
      await regionFor(db, principalOf(request), regionId, 'viewer');
      return { data: (await listDataplanesInRegions(db, [regionId])).map(toDataplane) };
    },
  );

  app.post(
    '/regions/:regionId/dataplanes',
    {
      schema: {
        tags: regionTags,
        operationId: 'createRegionDataplane',
        summary: 'Create a data plane in the region; its client credentials are shown in this answer only',
        params: RegionParams,
        body: RegionDataplaneCreateRequest,
        response: { 200: DataplaneCreateResponseBody },
      },
    },
    async (request) => create(principalOf(request), request.id, { ...request.body, regionId: request.params.regionId }),
  );

  app.get(
    '/regions/:regionId/dataplanes/:dataplaneId',
    {
      schema: {
        tags: regionTags,
        operationId: 'getRegionDataplane',
        summary: 'Get a data plane of the region',
        params: RegionDataplaneParams,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => toDataplane(await planeAt(db, principalOf(request), request.params, 'viewer')),
  );

  app.patch(
    '/regions/:regionId/dataplanes/:dataplaneId',
    {
      schema: {
        tags: regionTags,
        operationId: 'updateRegionDataplane',
        summary: 'Rename, enable or disable a data plane of the region, or set its public URL (merge patch)',
        params: RegionDataplaneParams,
        body: DataplanePatchRequest,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => update(principalOf(request), request.id, request.params, request.body),
  );

  app.delete(
    '/regions/:regionId/dataplanes/:dataplaneId',
    {
      schema: {
        tags: regionTags,
        operationId: 'deleteRegionDataplane',
        summary: 'Delete a data plane of the region (soft delete); its credentials stop working at once',
        params: RegionDataplaneParams,
        response: { 200: DataplaneResponse },
      },
    },
    async (request) => remove(principalOf(request), request.id, request.params),
  );
}
