import { randomUUID } from 'node:crypto';
import { type AuditEntry, audited, systemAuthor } from './audit/record.ts';
import { verifyPassword } from './auth/passwords.ts';
import { findUserByEmail, hasActiveInstanceAdmin } from './auth/store.ts';
import { createUser } from './auth/users.ts';
import type { Deps } from './context.ts';
import { LockKeys, lockForTransaction } from './locks.ts';
import { findDefaultOrganization, insertMembership, insertOrganization } from './organizations/store.ts';

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
  return audited<BootstrapResult>(db, systemAuthor, async (tx) => {
    // Replicas starting together make one default organization and one administrator.
    await lockForTransaction(tx, LockKeys.bootstrap);
    const made: AuditEntry[] = [];
    let org = await findDefaultOrganization(tx);
    if (org === undefined) {
      org = await insertOrganization(tx, { name: 'Sovereign', isDefault: true });
      made.push({
        organizationId: org.organization_id,
        action: 'organization.create',
        targetType: 'organization',
        targetId: org.organization_id,
      });
    }
    const defaultOrganizationId = org.organization_id;
    if (config.admin === undefined) {
      // Nobody could sign in to a fresh instance: say how to fix it, rather than start silently.
      if (!config.allowSignup && !(await hasActiveInstanceAdmin(tx))) {
        deps.log.warn(
          'no administrator exists and sign-up is closed: nobody can sign in. Start once with SOV_ADMIN_PASSWORD ' +
            '(and SOV_ADMIN_EMAIL, admin@localhost by default) to create one',
        );
      }
      return { result: { adminUserId: null, defaultOrganizationId }, audit: made };
    }
    let admin = await findUserByEmail(tx, config.admin.email);
    if (admin === undefined) {
      admin = await createUser(tx, config.passwordCostLog2, randomUUID(), {
        ...config.admin,
        name: 'Administrator',
        isInstanceAdmin: true,
      });
      made.push({ organizationId: null, action: 'user.create', targetType: 'user', targetId: admin.user_id });
    } else if (!(await verifyPassword(config.admin.password, admin.password_hash))) {
      // The password of an existing admin is theirs to change; say so rather than reset it.
      deps.log.warn('the administrator exists with another password; SOV_ADMIN_PASSWORD was not applied');
    }
    await insertMembership(tx, defaultOrganizationId, admin.user_id, 'owner');
    return { result: { adminUserId: admin.user_id, defaultOrganizationId }, audit: made };
  });
}
