import {
  Closed,
  ErrorCode,
  roleAtLeast,
  Uuid,
  WorkspaceCreateRequest,
  WorkspaceList,
  WorkspaceListQuery,
  WorkspacePatchRequest,
  WorkspaceResponse,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem, ForbiddenProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundWorkspace, requireRole, roleIn } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso } from '../context.ts';
import { findDataplaneOrganization, findDataplaneToHost } from '../dataplanes/store.ts';
import { findOrganization } from '../organizations/store.ts';
import { decodeCursor, isText, isUuid, page } from '../paging.ts';
import { regionFor } from '../regions/access.ts';
import type { RegionRow } from '../regions/store.ts';
import { workspaceFor, workspaceNotFound } from './access.ts';
import {
  deleteWorkspace,
  insertWorkspace,
  isWorkspaceNameTaken,
  listWorkspaces,
  renameWorkspace,
  setRunLimit,
  type WorkspaceRow,
} from './store.ts';

const WorkspaceParams = Closed({ workspaceId: Uuid });
const tags = ['Workspaces'];

async function assertNameFree(tx: Queryable, organizationId: string, name: string, except?: string) {
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

/** Airbyte's WorkspaceResponse (`dataResidency` = the region's name, lower case) plus our ids. */
function toWorkspace(row: WorkspaceRow) {
  return {
    workspaceId: row.workspace_id,
    name: row.name,
    organizationId: row.organization_id,
    regionId: row.region_id,
    dataplaneId: row.dataplane_id,
    dataResidency: row.region_name.toLowerCase(),
    maxConcurrentRuns: row.max_concurrent_runs,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function workspaceEvent(organizationId: string, action: string, workspaceId: string): AuditEntry {
  return { organizationId, action, targetType: 'workspace', targetId: workspaceId };
}

/** Workspaces: each bound at creation to one region and one of its data planes, for good (R4). */
export async function workspaceRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/workspaces',
    {
      schema: {
        tags,
        summary: 'Create a workspace in a region (organization owner or admin)',
        body: WorkspaceCreateRequest,
        response: { 200: WorkspaceResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { name, organizationId, regionId } = request.body;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await requireRole(tx, principal, organizationId, 'admin');
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
        await assertNameFree(tx, organizationId, name);
        const dataplaneId = await pickDataplane(tx, regionId);
        const workspaceId = await insertWorkspace(tx, { organizationId, name, regionId, dataplaneId });
        return {
          result: await workspaceFor(tx, principal, workspaceId, 'viewer'),
          audit: workspaceEvent(organizationId, 'workspace.create', workspaceId),
        };
      });
      return toWorkspace(row);
    },
  );

  app.get(
    '/workspaces',
    {
      schema: {
        tags,
        summary: 'List the workspaces of your organizations, by name',
        querystring: WorkspaceListQuery,
        response: { 200: WorkspaceList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId, cursor } = request.query;
      const limit = request.query.limit ?? 100;
      const bound = boundWorkspace(principal);
      if (organizationId !== undefined) {
        await requireRole(db, principal, organizationId, 'viewer', undefined, bound ?? undefined);
      }
      const [afterName, afterId] = cursor === undefined ? [] : decodeCursor(cursor, [isText, isUuid]);
      const rows = await listWorkspaces(db, {
        userId: principal.userId,
        organizationId: organizationId ?? null,
        // An instance administrator lists any organization's workspaces by naming it.
        anyOrganization: principal.isInstanceAdmin && organizationId !== undefined,
        boundWorkspaceId: bound,
        after: afterName === undefined || afterId === undefined ? null : { name: afterName, workspaceId: afterId },
        limit: limit + 1,
      });
      const listed = page(rows, limit, (w) => [w.name, w.workspace_id]);
      return { data: listed.rows.map(toWorkspace), nextCursor: listed.nextCursor };
    },
  );

  app.get(
    '/workspaces/:workspaceId',
    { schema: { tags, summary: 'Get a workspace', params: WorkspaceParams, response: { 200: WorkspaceResponse } } },
    async (request) => toWorkspace(await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer')),
  );

  app.patch(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        summary: 'Rename a workspace, or set its run limit; its region can never change',
        description:
          "A regionId other than the current one is refused with 409 workspace_region_immutable: to move, create a workspace in the target region and deploy there. maxConcurrentRuns protects the other tenants of the workspace's data plane, so only an admin of the organization that data plane belongs to may set it (null: back to the default).",
        params: WorkspaceParams,
        body: WorkspacePatchRequest,
        response: { 200: WorkspaceResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { workspaceId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const workspace = await workspaceFor(tx, principal, workspaceId, 'admin');
        if (request.body.regionId !== undefined && request.body.regionId !== workspace.region_id) {
          throw new ConflictProblem(
            ErrorCode.workspaceRegionImmutable,
            "A workspace's region never changes. To move, create a workspace in the target region and deploy to it.",
            { regionId: workspace.region_id },
          );
        }
        if (request.body.name !== undefined) {
          await assertNameFree(tx, workspace.organization_id, request.body.name, workspaceId);
          await renameWorkspace(tx, workspaceId, request.body.name);
        }
        const { maxConcurrentRuns } = request.body;
        if (maxConcurrentRuns !== undefined && maxConcurrentRuns !== workspace.max_concurrent_runs) {
          const owner = await findDataplaneOrganization(tx, workspace.dataplane_id);
          const role = owner === workspace.organization_id ? workspace.role : await roleIn(tx, principal, owner);
          if (role === null || !roleAtLeast(role, 'admin')) {
            throw new ForbiddenProblem(
              ErrorCode.insufficientRole,
              "A workspace's run limit is set by an admin of the organization its data plane belongs to.",
              { requiredRole: 'admin' },
            );
          }
          await setRunLimit(tx, workspaceId, maxConcurrentRuns);
        }
        return {
          result: await workspaceFor(tx, principal, workspaceId, 'admin'),
          audit: workspaceEvent(workspace.organization_id, 'workspace.update', workspaceId),
        };
      });
      return toWorkspace(row);
    },
  );

  app.delete(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        summary: 'Delete a workspace (soft delete)',
        params: WorkspaceParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { workspaceId } = request.params;
      await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const workspace = await workspaceFor(tx, principal, workspaceId, 'admin');
        if (!(await deleteWorkspace(tx, workspaceId))) throw workspaceNotFound();
        return { result: undefined, audit: workspaceEvent(workspace.organization_id, 'workspace.delete', workspaceId) };
      });
      return reply.status(204).send(null);
    },
  );
}
