import { randomUUID } from 'node:crypto';
import { audit } from './audit/record.ts';
import { verifyPassword } from './auth/passwords.ts';
import { createUser } from './auth/routes.ts';
import type { Deps } from './context.ts';
import type { OrganizationsTable, UsersTable } from './tables.ts';

export interface BootstrapResult {
  adminUserId: string | null;
  defaultOrganizationId: string;
}

/**
 * First start: the instance's default organization (whose regions every organization
 * may use) and, when configured, the administrator who owns it. Later starts find
 * both and change nothing; a changed admin password is not applied silently.
 */
export async function bootstrap(deps: Deps): Promise<BootstrapResult> {
  const { db, config } = deps;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7001)');
    let [org] = await tx.query<Pick<OrganizationsTable, 'organization_id'>>(
      'SELECT organization_id FROM organizations WHERE is_default',
    );
    if (org === undefined) {
      [org] = await tx.query<Pick<OrganizationsTable, 'organization_id'>>(
        `INSERT INTO organizations (organization_id, name, is_default) VALUES ($1, 'Sovereign', true)
         RETURNING organization_id`,
        [randomUUID()],
      );
      if (org === undefined) throw new Error('insert returned nothing');
      await audit(
        tx,
        { type: 'system', id: null },
        {
          organizationId: org.organization_id,
          action: 'organization.create',
          targetType: 'organization',
          targetId: org.organization_id,
        },
      );
    }
    if (config.admin === undefined) return { adminUserId: null, defaultOrganizationId: org.organization_id };
    let [admin] = await tx.query<Pick<UsersTable, 'user_id' | 'password_hash'>>(
      'SELECT user_id, password_hash FROM users WHERE lower(email) = lower($1)',
      [config.admin.email],
    );
    if (admin === undefined) {
      admin = await createUser(tx, deps, { ...config.admin, name: 'Administrator', isInstanceAdmin: true });
      await audit(
        tx,
        { type: 'system', id: null },
        {
          organizationId: null,
          action: 'user.create',
          targetType: 'user',
          targetId: admin.user_id,
        },
      );
    } else if (!(await verifyPassword(config.admin.password, admin.password_hash))) {
      // The password of an existing admin is theirs to change; say so rather than reset it.
      deps.log.warn('the administrator exists with another password; SOV_ADMIN_PASSWORD was not applied');
    }
    await tx.query(
      `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
      [org.organization_id, admin.user_id],
    );
    return { adminUserId: admin.user_id, defaultOrganizationId: org.organization_id };
  });
}
