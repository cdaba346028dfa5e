import {
  Closed,
  ErrorCode,
  Member,
  MemberAddRequest,
  MemberList,
  MemberPatchRequest,
  Organization,
  OrganizationCreateRequest,
  OrganizationList,
  OrganizationPatchRequest,
  type Role,
  roleAtLeast,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem, ForbiddenProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { boundOrganization, effectiveRole, requireKeyRole, requireRole, requireSession } from '../auth/access.ts';
import { type Principal, principalOf } from '../auth/principal.ts';
import { findUserByEmail } from '../auth/store.ts';
import { type Deps, iso } from '../context.ts';
import { regionFor } from '../regions/access.ts';
import { announceRevocations } from '../tokens/revocations.ts';
import { revokeScopedTokens } from '../tokens/store.ts';
import {
  countOwners,
  deleteMembership,
  findMember,
  findOrganization,
  insertMembership,
  insertOrganization,
  listMembers,
  listMemberships,
  type MemberRow,
  type OrganizationRow,
  renameOrganization,
  setMemberRole,
} from './store.ts';

const OrgParams = Closed({ organizationId: Uuid });
const MemberParams = Closed({ organizationId: Uuid, userId: Uuid });

function toOrg(row: OrganizationRow) {
  return {
    organizationId: row.organization_id,
    name: row.name,
    isDefault: row.is_default,
    regionId: row.region_id,
    dataResidency: row.region_name?.toLowerCase() ?? null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/**
 * An organization's region is a shared one (of the instance's default organization): a
 * new organization has none of its own, and its region is for good.
 */
async function assertSharedRegion(tx: Queryable, principal: Principal, regionId: string): Promise<void> {
  const region = await regionFor(tx, principal, regionId, 'viewer');
  if (!region.is_default_org) {
    throw new ConflictProblem(
      ErrorCode.regionNotUsable,
      "An organization's region must be a shared one; this one belongs to an organization.",
    );
  }
  if (!region.enabled) {
    throw new ConflictProblem(ErrorCode.regionDisabled, 'The region is disabled; enable it or choose another.');
  }
}

function toMember(row: MemberRow) {
  return { userId: row.user_id, email: row.email, name: row.name, role: row.role, createdAt: iso(row.created_at) };
}

async function member(tx: Queryable, organizationId: string, userId: string): Promise<MemberRow> {
  const row = await findMember(tx, organizationId, userId);
  if (row === undefined) throw new NotFoundProblem(ErrorCode.memberNotFound, 'That user is not a member.');
  return row;
}

const organizationNotFound = () => new NotFoundProblem(ErrorCode.organizationNotFound, 'No such organization.');

/** An event of the organization's trail, about the organization or one of its members. */
function organizationEvent(
  organizationId: string,
  action: string,
  target: { type: 'organization' | 'user'; id: string },
): AuditEntry {
  return { organizationId, action, targetType: target.type, targetId: target.id };
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
    if ((await countOwners(tx, organizationId)) <= 1) {
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
        body: OrganizationCreateRequest,
        response: { 200: Organization },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // It makes the key's user an owner: a key below owner, or for one workspace, may not.
      requireKeyRole(principal, 'owner', 'create an organization');
      const { name, regionId } = request.body;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        if (regionId !== undefined) await assertSharedRegion(tx, principal, regionId);
        const org = await insertOrganization(tx, { name, isDefault: false, regionId: regionId ?? null });
        await insertMembership(tx, org.organization_id, principal.userId, 'owner');
        return {
          result: org,
          audit: organizationEvent(org.organization_id, 'organization.create', {
            type: 'organization',
            id: org.organization_id,
          }),
        };
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
        response: { 200: OrganizationList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A workspace key lists its workspace's organization only; any key shows the role it may act as.
      const rows = await listMemberships(db, principal.userId, boundOrganization(principal));
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
      const row = await findOrganization(db, request.params.organizationId);
      if (row === undefined) throw organizationNotFound();
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
        body: OrganizationPatchRequest,
        response: { 200: Organization },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await requireRole(tx, principal, organizationId, 'admin');
        const org = await renameOrganization(tx, organizationId, request.body.name ?? null);
        if (org === undefined) throw organizationNotFound();
        return {
          result: org,
          audit: organizationEvent(organizationId, 'organization.update', { type: 'organization', id: organizationId }),
        };
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
        response: { 200: MemberList },
      },
    },
    async (request) => {
      await requireRole(db, principalOf(request), request.params.organizationId, 'viewer');
      return { data: (await listMembers(db, request.params.organizationId)).map(toMember) };
    },
  );

  app.post(
    '/organizations/:organizationId/members',
    {
      schema: {
        tags: ['Organizations'],
        summary: 'Add an existing user to the organization',
        params: OrgParams,
        body: MemberAddRequest,
        response: { 200: Member },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId } = request.params;
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const callerRole = await requireRole(tx, principal, organizationId, 'admin');
        if (request.body.role === 'owner') await guardOwnerChange(tx, organizationId, callerRole, 'viewer', 'owner');
        const user = await findUserByEmail(tx, request.body.email);
        if (user === undefined) {
          throw new NotFoundProblem(ErrorCode.userNotFound, 'No user has that email; they must sign up first.');
        }
        if (!(await insertMembership(tx, organizationId, user.user_id, request.body.role))) {
          throw new ConflictProblem(ErrorCode.memberExists, 'That user is already a member.');
        }
        return {
          result: await member(tx, organizationId, user.user_id),
          audit: organizationEvent(organizationId, 'member.add', { type: 'user', id: user.user_id }),
        };
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
        body: MemberPatchRequest,
        response: { 200: Member },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { organizationId, userId } = request.params;
      const { row, tell } = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const callerRole = await requireRole(tx, principal, organizationId, 'admin');
        const current = await member(tx, organizationId, userId);
        await guardOwnerChange(tx, organizationId, callerRole, current.role, request.body.role);
        await setMemberRole(tx, organizationId, userId, request.body.role);
        // A lower role ends the tokens issued with the scopes of the higher one; clients get new ones.
        const lowered = !roleAtLeast(request.body.role, current.role);
        const revoked = lowered ? await revokeScopedTokens(tx, { userId, organizationId }, deps.now()) : [];
        return {
          result: { row: await member(tx, organizationId, userId), tell: revoked },
          audit: organizationEvent(organizationId, 'member.update', { type: 'user', id: userId }),
        };
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
      const tell = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const leaving = userId === principal.userId;
        // Leaving is the user's own decision: a key (leaked, or capped below the user's role)
        // must not take its user out of an organization, as it cannot sign it out everywhere.
        if (leaving) requireSession(principal, 'take its user out of an organization');
        const callerRole = await requireRole(tx, principal, organizationId, leaving ? 'viewer' : 'admin');
        const current = await member(tx, organizationId, userId);
        await guardOwnerChange(tx, organizationId, leaving ? current.role : callerRole, current.role, null);
        await deleteMembership(tx, organizationId, userId);
        return {
          // Their scoped tokens (and the app sessions opened with them) end with the membership.
          result: await revokeScopedTokens(tx, { userId, organizationId }, deps.now()),
          audit: organizationEvent(organizationId, 'member.remove', { type: 'user', id: userId }),
        };
      });
      await announceRevocations(deps, tell);
      return reply.status(204).send(null);
    },
  );
}
