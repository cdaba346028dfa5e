import type { Role } from './scopes.ts';

/**
 * API keys, as the dltHub platform bounds them: every key expires (90 days unless
 * asked otherwise, a year at most) and carries a role that caps what it may do. A key
 * for one workspace is a viewer or a member (dltHub's developer), never more.
 */
export const apiKeyDefaultDays = 90;
export const apiKeyMaxDays = 365;
/** The role a key gets when none is asked for: deploy and run, never manage people. */
export const apiKeyDefaultRole: Role = 'member';
export const workspaceKeyRoles = ['viewer', 'member'] as const satisfies readonly Role[];
