import type { Me } from '@sovereign/contract/public';
import { type Role, roleAtLeast, roleScopes } from '@sovereign/contract/scopes';

/**
 * What the signed-in user's role allows, to hide what they may not do. The APIs refuse
 * it anyway: this only spares them a button that cannot work.
 */
export function roleIn(me: Me, organizationId: string): Role | null {
  const membership = me.organizations.find((o) => o.organizationId === organizationId);
  if (membership !== undefined) return membership.role;
  // The control plane treats instance administrators as owners of every organization.
  return me.isInstanceAdmin ? 'owner' : null;
}

export const may = {
  /** Trigger and cancel runs, pause and resume schedules. */
  operateRuns: (role: Role | null) => role !== null && roleAtLeast(role, 'member'),
  writeVariables: (role: Role | null) => role !== null && roleScopes[role].includes('variables:write'),
  createWorkspaces: (role: Role | null) => role !== null && roleAtLeast(role, 'admin'),
  openApps: (role: Role | null) => role !== null && roleScopes[role].includes('interactive'),
};
