import { randomUUID } from 'node:crypto';
import { Closed, Email, ErrorCode, type Role, Roles, roleAtLeast, Timestamp, Uuid } from '@sovereign/protocol';
import type { App } from '@sovereign/protocol/http';
import { ConflictProblem, ForbiddenProblem, NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { Type } from 'typebox';
import { audit, userActor } from '../audit/record.ts';
import { boundOrganization, effectiveRole, requireKeyRole, requireRole } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso } from '../context.ts';
import type { MembershipsTable, OrganizationsTable, UsersTable } from '../tables.ts';
import { announceRevocations } from '../tokens/revocations.ts';
import { revokeScopedTokens } from '../tokens/store.ts';

const RoleSchema = Type.Enum(Roles);
const OrgName = Type.String({ minLength: 1, maxLength: 100 });

const Organization = Type.Object({
  organizationId: Uuid,
  name: Type.String(),
  isDefault: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Member = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
});

const OrgParams = Closed({ organizationId: Uuid });
const MemberParams = Closed({ organizationId: Uuid, userId: Uuid });

type OrgRow = OrganizationsTable;

function toOrg(row: OrgRow) {
  return {
    organizationId: row.organization_id,
    name: row.name,
    isDefault: row.is_default,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

type MemberRow = Pick<UsersTable, 'user_id' | 'email' | 'name'> & Pick<MembershipsTable, 'role' | 'created_at'>;

function toMember(row: MemberRow) {
  return { userId: row.user_id, email: row.email, name: row.name, role: row.role, createdAt: iso(row.created_at) };
}

async function member(tx: Queryable, organizationId: string, userId: string): Promise<MemberRow> {
  const [row] = await tx.query<MemberRow>(
    `SELECT u.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u USING (user_id)
      WHERE m.organization_id = $1 AND m.user_id = $2`,
    [organizationId, userId],
  );
  if (row === undefined) throw new NotFoundProblem(ErrorCode.memberNotFound, 'That user is not a member.');
  return row;
}

/** Only an owner may make or unmake owners; an organization always keeps one. */
async function guardOwnerChange(tx: Queryable, organizationId: string, callerRole: Role, from: Role, to: Role | null) {
  if ((from === 'owner' || to === 'owner') && callerRole !== 'owner') {
    throw new ForbiddenProblem(ErrorCode.insufficientRole, 'Only an owner may grant or remove the owner role.', {
      requiredRole: 'owner',
      role: callerRole,
    });
  }
  if (from === 'owner' && to !== 'owner') {
    const [row] = await tx.query<{ owners: number }>(
      `SELECT count(*)::int AS owners FROM memberships WHERE organization_id = $1 AND role = 'owner'`,
      [organizationId],
    );
    if ((row?.owners ?? 0) <= 1) {
      throw new ConflictProblem(ErrorCode.lastOwner, 'An organization needs an owner; make someone else owner first.');
    }
  }
}

/** Organizations, and who belongs to them with which role. */
export async function organizationRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/organizations',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Create an organization; you become its owner',
        body: Closed({ name: OrgName }),
        response: { 200: Organization },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // It makes the key's user an owner: a key below owner, or for one workspace, may not.
      requireKeyRole(principal, 'owner', 'create an organization');
      const row = await db.transaction(async (tx) => {
        const [org] = await tx.query<OrgRow>(
          'INSERT INTO organizations (organization_id, name) VALUES ($1, $2) RETURNING *',
          [randomUUID(), request.body.name],
        );
        if (org === undefined) throw new Error('insert returned nothing');
        await tx.query(`INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'owner')`, [
          org.organization_id,
          principal.userId,
        ]);
        await audit(tx, userActor(principal), {
          organizationId: org.organization_id,
          action: 'organization.create',
          targetType: 'organization',
          targetId: org.organization_id,
          requestId: request.id,
        });
        return org;
      });
      return toOrg(row);
    },
  );

  app.get(
    '/organizations',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'List the organizations you belong to',
        response: {
          200: Type.Object({ data: Type.Array(Type.Object({ ...Organization.properties, role: RoleSchema })) }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A workspace key lists its workspace's organization only; any key shows the role it may act as.
      const rows = await db.query<OrgRow & Pick<MembershipsTable, 'role'>>(
        `SELECT o.*, m.role FROM organizations o JOIN memberships m USING (organization_id)
          WHERE m.user_id = $1 AND o.deleted_at IS NULL AND ($2::uuid IS NULL OR o.organization_id = $2)
          ORDER BY o.name, o.organization_id`,
        [principal.userId, boundOrganization(principal)],
      );
      return { data: rows.map((r) => ({ ...toOrg(r), role: effectiveRole(principal, r.role) })) };
    },
  );

  app.get(
    '/organizations/:organizationId',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Get an organization',
        params: OrgParams,
        response: { 200: Organization },
      },
    },
    async (request) => {
      await requireRole(db, principalOf(request), request.params.organizationId, 'viewer');
      const [row] = await db.query<OrgRow>('SELECT * FROM organizations WHERE organization_id = $1', [
        request.params.organizationId,
      ]);
      if (row === undefined) throw new NotFoundProblem(ErrorCode.organizationNotFound, 'No such organization.');
      return toOrg(row);
    },
  );

  app.patch(
    '/organizations/:organizationId',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Rename an organization',
        params: OrgParams,
        body: Closed({ name: Type.Optional(OrgName) }),
        response: { 200: Organization },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId } = request.params;
      const row = await db.transaction(async (tx) => {
        await requireRole(tx, principal, organizationId, 'admin');
        const [org] = await tx.query<OrgRow>(
          `UPDATE organizations SET name = coalesce($2, name), updated_at = now()
            WHERE organization_id = $1 RETURNING *`,
          [organizationId, request.body.name ?? null],
        );
        if (org === undefined) throw new NotFoundProblem(ErrorCode.organizationNotFound, 'No such organization.');
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'organization.update',
          targetType: 'organization',
          targetId: organizationId,
          requestId: request.id,
        });
        return org;
      });
      return toOrg(row);
    },
  );

  app.get(
    '/organizations/:organizationId/members',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'List members and their roles',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(Member) }) },
      },
    },
    async (request) => {
      await requireRole(db, principalOf(request), request.params.organizationId, 'viewer');
      const rows = await db.query<MemberRow>(
        `SELECT u.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u USING (user_id)
          WHERE m.organization_id = $1 ORDER BY u.email`,
        [request.params.organizationId],
      );
      return { data: rows.map(toMember) };
    },
  );

  app.post(
    '/organizations/:organizationId/members',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Add an existing user to the organization',
        params: OrgParams,
        body: Closed({ email: Email, role: RoleSchema }),
        response: { 200: Member },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId } = request.params;
      const row = await db.transaction(async (tx) => {
        const callerRole = await requireRole(tx, principal, organizationId, 'admin');
        if (request.body.role === 'owner') await guardOwnerChange(tx, organizationId, callerRole, 'viewer', 'owner');
        const [user] = await tx.query<{ user_id: string }>('SELECT user_id FROM users WHERE lower(email) = lower($1)', [
          request.body.email,
        ]);
        if (user === undefined) {
          throw new NotFoundProblem(ErrorCode.userNotFound, 'No user has that email; they must sign up first.');
        }
        const inserted = await tx.query(
          `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING user_id`,
          [organizationId, user.user_id, request.body.role],
        );
        if (inserted.length === 0) throw new ConflictProblem(ErrorCode.memberExists, 'That user is already a member.');
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'member.add',
          targetType: 'user',
          targetId: user.user_id,
          requestId: request.id,
        });
        return member(tx, organizationId, user.user_id);
      });
      return toMember(row);
    },
  );

  app.patch(
    '/organizations/:organizationId/members/:userId',
    {
      schema: {
        tags: ['Organizations'],
        summary: "Change a member's role",
        params: MemberParams,
        body: Closed({ role: RoleSchema }),
        response: { 200: Member },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId, userId } = request.params;
      let tell: string[] = [];
      const row = await db.transaction(async (tx) => {
        const callerRole = await requireRole(tx, principal, organizationId, 'admin');
        const current = await member(tx, organizationId, userId);
        await guardOwnerChange(tx, organizationId, callerRole, current.role, request.body.role);
        await tx.query(
          'UPDATE memberships SET role = $3, updated_at = now() WHERE organization_id = $1 AND user_id = $2',
          [organizationId, userId, request.body.role],
        );
        // A lower role ends the tokens issued with the scopes of the higher one; clients get new ones.
        if (!roleAtLeast(request.body.role, current.role)) {
          tell = await revokeScopedTokens(tx, { userId, organizationId }, deps.now());
        }
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'member.update',
          targetType: 'user',
          targetId: userId,
          requestId: request.id,
        });
        return member(tx, organizationId, userId);
      });
      await announceRevocations(deps, tell);
      return toMember(row);
    },
  );

  app.delete(
    '/organizations/:organizationId/members/:userId',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Remove a member (or leave, for yourself)',
        params: MemberParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { organizationId, userId } = request.params;
      let tell: string[] = [];
      await db.transaction(async (tx) => {
        const leaving = userId === principal.userId;
        const callerRole = await requireRole(tx, principal, organizationId, leaving ? 'viewer' : 'admin');
        const current = await member(tx, organizationId, userId);
        await guardOwnerChange(tx, organizationId, leaving ? current.role : callerRole, current.role, null);
        await tx.query('DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2', [organizationId, userId]);
        // Their scoped tokens (and the app sessions opened with them) end with the membership.
        tell = await revokeScopedTokens(tx, { userId, organizationId }, deps.now());
        await audit(tx, userActor(principal), {
          organizationId,
          action: 'member.remove',
          targetType: 'user',
          targetId: userId,
          requestId: request.id,
        });
      });
      await announceRevocations(deps, tell);
      return reply.status(204).send(null);
    },
  );
}
