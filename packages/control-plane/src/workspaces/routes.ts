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
import { findDataplaneOrganization } from '../dataplanes/store.ts';
import { listMovesTouching, type MoveRow } from '../moves/store.ts';
import { toMove } from '../moves/view.ts';
import { decodeCursor, isText, isUuid, page } from '../paging.ts';
import { workspaceFor, workspaceNotFound } from './access.ts';
import { assertNameFree, createWorkspace, usableRegion } from './create.ts';
import { deleteWorkspace, listWorkspaces, renameWorkspace, setRunLimit, type WorkspaceRow } from './store.ts';

const WorkspaceParams = Closed({ workspaceId: Uuid });
const tags = ['Workspaces'];

/**
 * Airbyte's WorkspaceResponse (`dataResidency` = the region's name, lower case) plus our
 * ids, and the moves the workspace went out by or came in by.
 */
function toWorkspace(row: WorkspaceRow, moves: readonly MoveRow[]): WorkspaceResponse {
  const out = moves.find((m) => m.from_workspace_id === row.workspace_id);
  const into = moves.find((m) => m.to_workspace_id === row.workspace_id);
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
    movedTo: out === undefined ? null : toMove(out),
    movedFrom: into === undefined ? null : toMove(into),
  };
}

/** Workspaces as the API shows them, their moves read in one statement. */
async function shown(db: Queryable, rows: WorkspaceRow[]): Promise<WorkspaceResponse[]> {
  const moves = await listMovesTouching(
    db,
    rows.map((r) => r.workspace_id),
  );
  return rows.map((row) => toWorkspace(row, moves));
}

async function shownOne(db: Queryable, row: WorkspaceRow): Promise<WorkspaceResponse> {
  const [one] = await shown(db, [row]);
  if (one === undefined) throw new Error('a workspace shown as none');
  return one;
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
        const region = await usableRegion(tx, principal, organizationId, regionId);
        const workspaceId = await createWorkspace(tx, { organizationId, name, region });
        return {
          result: await workspaceFor(tx, principal, workspaceId, 'viewer'),
          audit: workspaceEvent(organizationId, 'workspace.create', workspaceId),
        };
      });
      return shownOne(db, row);
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
      return { data: await shown(db, listed.rows), nextCursor: listed.nextCursor };
    },
  );

  app.get(
    '/workspaces/:workspaceId',
    { schema: { tags, summary: 'Get a workspace', params: WorkspaceParams, response: { 200: WorkspaceResponse } } },
    async (request) => shownOne(db, await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer')),
  );

  app.patch(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        summary: 'Rename a workspace, or set its run limit; its region can never change',
        description:
          "A regionId other than the current one is refused with 409 workspace_region_immutable: to move, POST /workspaces/{workspaceId}/move (a new workspace in the target region, filled by the client). maxConcurrentRuns protects the other tenants of the workspace's data plane, so only an admin of the organization that data plane belongs to may set it (null: back to the default).",
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
            "A workspace's region never changes. To move, POST /workspaces/{workspaceId}/move (sov workspace move): a new workspace in the target region gets a copy of this one.",
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
      return shownOne(db, row);
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
