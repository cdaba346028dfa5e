import { randomUUID } from 'node:crypto';
import { Closed, ErrorCode, roleAtLeast, Timestamp, Uuid } from '@sovereign/protocol';
import type { App } from '@sovereign/protocol/http';
import { ConflictProblem, ForbiddenProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { Type } from 'typebox';
import { audit, userActor } from '../audit/record.ts';
import { boundWorkspace, requireRole, roleIn } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { CursorParam, decodeCursor, isText, isUuid, NextCursor, page } from '../paging.ts';
import { regionFor } from '../regions/store.ts';
import {
  dataplaneOrganization,
  selectWorkspace,
  setRunLimit,
  toWorkspace,
  type WorkspaceRow,
  workspaceFor,
  workspaceNotFound,
} from './store.ts';

export const WorkspaceResponse = Type.Object({
  workspaceId: Uuid,
  name: Type.String(),
  organizationId: Uuid,
  regionId: Uuid,
  dataplaneId: Uuid,
  dataResidency: Type.String({ description: "The region's name in lower case." }),
  maxConcurrentRuns: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
    description:
      "Batch runs of the workspace claimed or running at once on its data plane; null: the control plane's default (SOV_WORKSPACE_RUN_LIMIT).",
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const WorkspaceName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const RunLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()]);
const WorkspaceParams = Closed({ workspaceId: Uuid });
const tags = ['Workspaces'];

async function assertNameFree(tx: Queryable, organizationId: string, name: string, except?: string) {
  const [row] = await tx.query(
    `SELECT 1 FROM workspaces WHERE organization_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL
        AND workspace_id IS DISTINCT FROM $3`,
    [organizationId, name, except ?? null],
  );
  if (row !== undefined) {
    throw new ConflictProblem(ErrorCode.workspaceNameTaken, 'The organization already has a workspace with that name.');
  }
}

/**
 * The enabled data plane of the region a new workspace is bound to for good: the one
 * that heartbeat most recently, then the one hosting the fewest workspaces.
 */
async function pickDataplane(tx: Queryable, regionId: string): Promise<string> {
  const [row] = await tx.query<{ dataplane_id: string }>(
    `SELECT d.dataplane_id FROM dataplanes d
       LEFT JOIN LATERAL (SELECT max(last_heartbeat_at) AS seen FROM dataplane_instances i
                           WHERE i.dataplane_id = d.dataplane_id) h ON true
       LEFT JOIN LATERAL (SELECT count(*) AS hosted FROM workspaces w
                           WHERE w.dataplane_id = d.dataplane_id AND w.deleted_at IS NULL) c ON true
      WHERE d.region_id = $1 AND d.enabled AND NOT d.tombstone
      ORDER BY h.seen DESC NULLS LAST, c.hosted, d.created_at LIMIT 1`,
    [regionId],
  );
  if (row === undefined) {
    throw new ConflictProblem(
      ErrorCode.noDataplaneAvailable,
      'The region has no enabled data plane to host the workspace; create or enable one first.',
    );
  }
  return row.dataplane_id;
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
        body: Closed({ name: WorkspaceName, organizationId: Uuid, regionId: Uuid }),
        response: { 200: WorkspaceResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { name, organizationId, regionId } = request.body;
      const row = await db.transaction(async (tx) => {
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
        await assertNameFree(tx, organizationId, name);
        const dataplaneId = await pickDataplane(tx, regionId);
        const workspaceId = randomUUID();
        await tx.query(
          `INSERT INTO workspaces (workspace_id, organization_id, name, region_id, dataplane_id)
           VALUES ($1, $2, $3, $4, $5)`,
          [workspaceId, organizationId, name, regionId, dataplaneId],
        );
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'workspace.create',
          targetType: 'workspace',
          targetId: workspaceId,
          requestId: request.id,
        });
        return workspaceFor(tx, principal, workspaceId, 'viewer');
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
        querystring: Closed({
          organizationId: Type.Optional(Uuid),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          cursor: CursorParam,
        }),
        response: { 200: Type.Object({ data: Type.Array(WorkspaceResponse), nextCursor: NextCursor }) },
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
      const rows = await db.query<WorkspaceRow>(
        `${selectWorkspace} WHERE w.deleted_at IS NULL
            AND ($2::uuid IS NULL OR w.organization_id = $2)
            AND ($3 OR w.organization_id IN (SELECT organization_id FROM memberships WHERE user_id = $1))
            AND ($4::text IS NULL OR (w.name, w.workspace_id) > ($4, $5::uuid))
            AND ($7::uuid IS NULL OR w.workspace_id = $7)
          ORDER BY w.name, w.workspace_id LIMIT $6`,
        [
          principal.userId,
          organizationId ?? null,
          principal.isInstanceAdmin && organizationId !== undefined,
          afterName ?? null,
          afterId ?? null,
          limit + 1,
          bound,
        ],
      );
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
        body: Closed({
          name: Type.Optional(WorkspaceName),
          regionId: Type.Optional(Uuid),
          maxConcurrentRuns: Type.Optional(RunLimit),
        }),
        response: { 200: WorkspaceResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { workspaceId } = request.params;
      const row = await db.transaction(async (tx) => {
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
          await tx.query('UPDATE workspaces SET name = $2, updated_at = now() WHERE workspace_id = $1', [
            workspaceId,
            request.body.name,
          ]);
        }
        const { maxConcurrentRuns } = request.body;
        if (maxConcurrentRuns !== undefined && maxConcurrentRuns !== workspace.max_concurrent_runs) {
          const owner = await dataplaneOrganization(tx, workspace.dataplane_id);
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
        await audit(tx, userActor(principal), {
          organizationId: workspace.organization_id,
          action: 'workspace.update',
          targetType: 'workspace',
          targetId: workspaceId,
          requestId: request.id,
        });
        return workspaceFor(tx, principal, workspaceId, 'admin');
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
      await db.transaction(async (tx) => {
        const workspace = await workspaceFor(tx, principal, workspaceId, 'admin');
        const [row] = await tx.query(
          'UPDATE workspaces SET deleted_at = now() WHERE workspace_id = $1 AND deleted_at IS NULL RETURNING 1',
          [workspaceId],
        );
        if (row === undefined) throw workspaceNotFound();
        await audit(tx, userActor(principal), {
          organizationId: workspace.organization_id,
          action: 'workspace.delete',
          targetType: 'workspace',
          targetId: workspaceId,
          requestId: request.id,
        });
      });
      return reply.status(204).send(null);
    },
  );
}
