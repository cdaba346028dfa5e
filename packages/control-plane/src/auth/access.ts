import { ErrorCode, type Role, roleAtLeast } from '@sovereign/protocol';
import { ForbiddenProblem, type HttpProblem, NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import type { Principal } from './principal.ts';

/** The caller's role in an organization, or null when not a member. Instance admins act as owners. */
export async function roleIn(db: Queryable, principal: Principal, organizationId: string): Promise<Role | null> {
  const [row] = await db.query<{ role: Role }>(
    `SELECT m.role FROM memberships m JOIN organizations o USING (organization_id)
      WHERE m.organization_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL`,
    [organizationId, principal.userId],
  );
  if (row !== undefined) return row.role;
  if (principal.isInstanceAdmin) {
    const [org] = await db.query('SELECT 1 FROM organizations WHERE organization_id = $1 AND deleted_at IS NULL', [
      organizationId,
    ]);
    return org === undefined ? null : 'owner';
  }
  return null;
}

/**
 * Requires at least `minimum` in the organization. A non-member is told the target
 * does not exist (`notFound`), so ids of other organizations cannot be probed; a
 * member below the role is told which role it takes.
 */
export async function requireRole(
  db: Queryable,
  principal: Principal,
  organizationId: string,
  minimum: Role,
  notFound: HttpProblem = new NotFoundProblem(ErrorCode.organizationNotFound, 'No such organization.'),
): Promise<Role> {
  const role = await roleIn(db, principal, organizationId);
  if (role === null) throw notFound;
  if (!roleAtLeast(role, minimum)) {
    throw new ForbiddenProblem(
      ErrorCode.insufficientRole,
      `This needs the ${minimum} role or higher in the organization; you are ${role}.`,
      { requiredRole: minimum, role },
    );
  }
  return role;
}

export function requireInstanceAdmin(principal: Principal): void {
  if (!principal.isInstanceAdmin) {
    throw new ForbiddenProblem(ErrorCode.instanceAdminRequired, 'Only an instance administrator may do this.');
  }
}
