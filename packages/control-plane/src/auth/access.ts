import { ErrorCode, type Role, roleAtLeast, roleRank } from '@sovereign/contract';
import { ForbiddenProblem, type HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { findMemberRole, isLiveOrganization } from '../organizations/store.ts';
import type { Principal } from './principal.ts';

export function lowerRole(a: Role, b: Role): Role {
  return roleRank[a] <= roleRank[b] ? a : b;
}

/**
 * What a credential may do with a membership role: the role itself for a session, and
 * for an API key the lower of it and the key's role. Read on every request, so a user
 * demoted after making a key demotes the key with them.
 */
export function effectiveRole(principal: Principal, role: Role): Role {
  return principal.apiKey === undefined ? role : lowerRole(role, principal.apiKey.role);
}

/**
 * The workspace an API key is bound to, or null for a session or a key across the
 * user's organizations. Lists filter by it: a workspace key sees nothing else.
 */
export function boundWorkspace(principal: Principal): string | null {
  return principal.apiKey?.workspaceId ?? null;
}

/** The organization of that workspace, or null. */
export function boundOrganization(principal: Principal): string | null {
  return principal.apiKey?.organizationId ?? null;
}

/**
 * The caller's role in an organization, or null when not a member. Instance admins act
 * as owners (only signed in: an API key never carries that). An API key's role caps the
 * membership's; a key bound to a workspace has a role only where the call is about that
 * workspace (`workspaceId`), and none at the level of the organization.
 */
export async function roleIn(
  db: Queryable,
  principal: Principal,
  organizationId: string,
  workspaceId?: string,
): Promise<Role | null> {
  const bound = boundWorkspace(principal);
  if (bound !== null && (workspaceId !== bound || organizationId !== boundOrganization(principal))) return null;
  const role = await findMemberRole(db, organizationId, principal.userId);
  if (role !== undefined) return effectiveRole(principal, role);
  if (principal.isInstanceAdmin) return (await isLiveOrganization(db, organizationId)) ? 'owner' : null;
  return null;
}

/**
 * Requires at least `minimum` in the organization. A non-member is told the target
 * does not exist (`notFound`), so ids of other organizations cannot be probed; a
 * member below the role is told which role it takes. Calls about one workspace name
 * it, so that a key bound to that workspace may make them.
 */
export async function requireRole(
  db: Queryable,
  principal: Principal,
  organizationId: string,
  minimum: Role,
  notFound: HttpProblem = new NotFoundProblem(ErrorCode.organizationNotFound, 'No such organization.'),
  workspaceId?: string,
): Promise<Role> {
  const role = await roleIn(db, principal, organizationId, workspaceId);
  if (role === null) throw notFound;
  if (!roleAtLeast(role, minimum)) {
    const byKey = principal.apiKey !== undefined && roleAtLeast(principal.apiKey.role, minimum) === false;
    throw new ForbiddenProblem(
      ErrorCode.insufficientRole,
      byKey
        ? `This needs the ${minimum} role or higher in the organization; this API key acts as ${role} at most.`
        : `This needs the ${minimum} role or higher in the organization; you are ${role}.`,
      { requiredRole: minimum, role },
    );
  }
  return role;
}

export function requireInstanceAdmin(principal: Principal): void {
  if (!principal.isInstanceAdmin) {
    throw new ForbiddenProblem(
      ErrorCode.instanceAdminRequired,
      principal.apiKey === undefined
        ? 'Only an instance administrator may do this.'
        : 'Only an instance administrator may do this, signed in: an API key never acts as one.',
    );
  }
}

/** Refuses an API key where only a person signed in may act (making keys, changing a password). */
export function requireSession(principal: Principal, what: string): void {
  if (principal.credential.type !== 'session') {
    throw new ForbiddenProblem(ErrorCode.sessionRequired, `An API key cannot ${what}; sign in to do it.`);
  }
}

/**
 * Refuses an API key below `minimum`, or bound to a workspace, for a call that is about
 * no organization yet (creating one).
 */
export function requireKeyRole(principal: Principal, minimum: Role, what: string): void {
  const key = principal.apiKey;
  if (key === undefined) return;
  if (key.workspaceId !== null || !roleAtLeast(key.role, minimum)) {
    throw new ForbiddenProblem(
      ErrorCode.insufficientRole,
      `To ${what} an API key needs the ${minimum} role and no workspace; this one is ${key.role}${key.workspaceId === null ? '' : ' in one workspace'}.`,
      { requiredRole: minimum, role: key.role },
    );
  }
}
