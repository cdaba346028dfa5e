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
  roleAtLeast,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundWorkspace, roleIn } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
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

/** An event of the trail of the organization the data plane's region belongs to. */
function dataplaneEvent(organizationId: string, action: string, dataplaneId: string): AuditEntry {
  return { organizationId, action, targetType: 'dataplane', targetId: dataplaneId };
}

/** Data planes, in Airbyte's shapes; create answers the client credentials once. */
export async function dataplaneRoutes(app: App, deps: Deps) {
  const { db } = deps;

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
    async (request) => {
      const principal = principalOf(request);
      const { regionId, name, enabled, publicUrl } = request.body;
      const clientSecret = newSecret(SecretPrefix.dataplaneSecret);
      const created = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
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
    },
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
    async (request) => toDataplane(await dataplaneFor(db, principalOf(request), request.params.dataplaneId, 'viewer')),
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
    async (request) => {
      const principal = principalOf(request);
      const { dataplaneId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const plane = await dataplaneFor(tx, principal, dataplaneId, 'admin');
        if (request.body.name !== undefined) await assertNameFree(tx, plane.region_id, request.body.name, dataplaneId);
        await updateDataplane(tx, dataplaneId, {
          name: request.body.name ?? null,
          enabled: request.body.enabled ?? null,
        });
        if (request.body.publicUrl !== undefined) {
          await setPublicUrl(tx, dataplaneId, normalizePublicUrl(request.body.publicUrl));
        }
        return {
          result: await dataplaneFor(tx, principal, dataplaneId, 'admin'),
          audit: dataplaneEvent(plane.organization_id, 'dataplane.update', dataplaneId),
        };
      });
      return toDataplane(row);
    },
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
    async (request) => {
      const principal = principalOf(request);
      const { dataplaneId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const plane = await dataplaneFor(tx, principal, dataplaneId, 'admin');
        await deleteDataplanes(tx, { dataplaneId });
        const deleted = await findDataplane(tx, dataplaneId);
        if (deleted === undefined) throw dataplaneNotFound();
        return { result: deleted, audit: dataplaneEvent(plane.organization_id, 'dataplane.delete', dataplaneId) };
      });
      return toDataplane(row);
    },
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
}
