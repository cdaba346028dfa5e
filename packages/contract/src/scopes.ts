/**
 * Scopes name what a scoped token may do on a data plane. A role in an
 * organization grants a fixed set of them; a client asks for a subset.
 */
export const Scopes = [
  'deployments:read',
  'deployments:write',
  'variables:read',
  'variables:write',
  'runs:logs',
  'runs:outputs',
  'state:read',
  'state:write',
  'interactive',
  // Store a run's parameters before triggering it (issue 20), and read a run's parameters.
  'runs:trigger',
  'runs:parameters',
  // Store the outputs of another workspace's runs, copied by a move to another region (issue 22).
  'outputs:write',
] as const;

export type Scope = (typeof Scopes)[number];

export const Roles = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof Roles)[number];

/** Higher rank may do everything a lower rank may. */
export const roleRank: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return roleRank[role] >= roleRank[minimum];
}

const readScopes: Scope[] = [
  'deployments:read',
  'variables:read',
  'runs:logs',
  'runs:outputs',
  'runs:parameters',
  'state:read',
];

/**
 * The scopes that change what a workspace holds or runs. A workspace moved to another
 * region (or being moved) gets no token with one of these: what it holds is copied as it
 * is, and it takes no new deployment, variable, state or run.
 */
export const writeScopes: readonly Scope[] = [
  'deployments:write',
  'variables:write',
  'state:write',
  'runs:trigger',
  'outputs:write',
];

/** The scopes each role may put in a data-plane token. */
export const roleScopes: Record<Role, readonly Scope[]> = {
  owner: Scopes,
  admin: Scopes,
  member: Scopes,
  viewer: readScopes,
};

export function isScope(value: string): value is Scope {
  return (Scopes as readonly string[]).includes(value);
}
