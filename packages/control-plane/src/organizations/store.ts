import { randomUUID } from 'node:crypto';
import type { Role } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { MembershipsTable, OrganizationsTable, UsersTable } from '../tables.ts';

/** A member as the API shows them: the user and their role. */
export type MemberRow = Pick<UsersTable, 'user_id' | 'email' | 'name'> & Pick<MembershipsTable, 'role' | 'created_at'>;

/** An organization with the name of its data region (null when it has none). */
export type OrganizationRow = OrganizationsTable & { region_name: string | null };

/** An organization and the caller's membership role there. */
export type MembershipRow = OrganizationRow & Pick<MembershipsTable, 'role'>;

/** Organizations as the API shows them: with their region's name. */
const withRegion = 'organizations o LEFT JOIN regions r ON r.region_id = o.region_id';

export async function insertOrganization(
  tx: Queryable,
  organization: { name: string; isDefault: boolean; regionId?: string | null },
): Promise<OrganizationRow> {
  const organizationId = randomUUID();
  await tx.query('INSERT INTO organizations (organization_id, name, is_default, region_id) VALUES ($1, $2, $3, $4)', [
    organizationId,
    organization.name,
    organization.isDefault,
    organization.regionId ?? null,
  ]);
  const row = await findOrganization(tx, organizationId);
  if (row === undefined) throw new Error('insert returned nothing');
  return row;
}

/** The instance's default organization, whose regions every organization may use. */
export async function findDefaultOrganization(db: Queryable): Promise<OrganizationsTable | undefined> {
  const [row] = await db.query<OrganizationsTable>('SELECT * FROM organizations WHERE is_default');
  return row;
}

export async function findOrganization(db: Queryable, organizationId: string): Promise<OrganizationRow | undefined> {
  const [row] = await db.query<OrganizationRow>(
    `SELECT o.*, r.name AS region_name FROM ${withRegion} WHERE o.organization_id = $1`,
    [organizationId],
  );
  return row;
}

/** Whether the organization exists and is not deleted. */
export async function isLiveOrganization(db: Queryable, organizationId: string): Promise<boolean> {
  const [row] = await db.query('SELECT 1 FROM organizations WHERE organization_id = $1 AND deleted_at IS NULL', [
    organizationId,
  ]);
  return row !== undefined;
}

/** Renames an organization (a null name keeps it); undefined when there is no such organization. */
export async function renameOrganization(
  tx: Queryable,
  organizationId: string,
  name: string | null,
): Promise<OrganizationRow | undefined> {
  const [row] = await tx.query<Pick<OrganizationsTable, 'organization_id'>>(
    `UPDATE organizations SET name = coalesce($2, name), updated_at = now()
      WHERE organization_id = $1 RETURNING organization_id`,
    [organizationId, name],
  );
  return row === undefined ? undefined : findOrganization(tx, organizationId);
}

/** The user's live organizations and their role in each, by name; only `onlyOrganizationId` when given. */
export async function listMemberships(
  db: Queryable,
  userId: string,
  onlyOrganizationId: string | null,
): Promise<MembershipRow[]> {
  return db.query<MembershipRow>(
    `SELECT o.*, r.name AS region_name, m.role FROM ${withRegion} JOIN memberships m ON m.organization_id = o.organization_id
      WHERE m.user_id = $1 AND o.deleted_at IS NULL AND ($2::uuid IS NULL OR o.organization_id = $2)
      ORDER BY o.name, o.organization_id`,
    [userId, onlyOrganizationId],
  );
}

/** The user's role in a live organization, or undefined when they are not a member. */
export async function findMemberRole(db: Queryable, organizationId: string, userId: string): Promise<Role | undefined> {
  const [row] = await db.query<Pick<MembershipsTable, 'role'>>(
    `SELECT m.role FROM memberships m JOIN organizations o USING (organization_id)
      WHERE m.organization_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL`,
    [organizationId, userId],
  );
  return row?.role;
}

/** The highest role the user holds in any live organization, or null in none. */
export async function findHighestRole(db: Queryable, userId: string): Promise<Role | null> {
  const [row] = await db.query<Pick<MembershipsTable, 'role'>>(
    `SELECT m.role FROM memberships m JOIN organizations o USING (organization_id)
      WHERE m.user_id = $1 AND o.deleted_at IS NULL
      ORDER BY array_position(ARRAY['viewer', 'member', 'admin', 'owner'], m.role) DESC LIMIT 1`,
    [userId],
  );
  return row?.role ?? null;
}

export async function findMember(
  db: Queryable,
  organizationId: string,
  userId: string,
): Promise<MemberRow | undefined> {
  const [row] = await db.query<MemberRow>(
    `SELECT u.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u USING (user_id)
      WHERE m.organization_id = $1 AND m.user_id = $2`,
    [organizationId, userId],
  );
  return row;
}

/** The organization's members by email. */
export async function listMembers(db: Queryable, organizationId: string): Promise<MemberRow[]> {
  return db.query<MemberRow>(
    `SELECT u.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u USING (user_id)
      WHERE m.organization_id = $1 ORDER BY u.email`,
    [organizationId],
  );
}

export async function countOwners(db: Queryable, organizationId: string): Promise<number> {
  const [row] = await db.query<{ owners: number }>(
    `SELECT count(*)::int AS owners FROM memberships WHERE organization_id = $1 AND role = 'owner'`,
    [organizationId],
  );
  return row?.owners ?? 0;
}

/** Adds a member; false when the user already is one (nothing changes then). */
export async function insertMembership(
  tx: Queryable,
  organizationId: string,
  userId: string,
  role: Role,
): Promise<boolean> {
  const inserted = await tx.query(
    `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING user_id`,
    [organizationId, userId, role],
  );
  return inserted.length > 0;
}

export async function setMemberRole(tx: Queryable, organizationId: string, userId: string, role: Role): Promise<void> {
  await tx.query('UPDATE memberships SET role = $3, updated_at = now() WHERE organization_id = $1 AND user_id = $2', [
    organizationId,
    userId,
    role,
  ]);
}

export async function deleteMembership(tx: Queryable, organizationId: string, userId: string): Promise<void> {
  await tx.query('DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2', [organizationId, userId]);
}
