import { ErrorCode } from '@sovereign/contract';
import { ForbiddenProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { boundWorkspace, roleIn } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { findScopedToken, type ScopedTokenRow } from './store.ts';

export const scopedTokenNotFound = () => new NotFoundProblem(ErrorCode.tokenNotFound, 'No such token.');

/**
 * A scoped token the caller may revoke: one issued to them, or any of a workspace of an
 * organization they are an owner or admin of. Anyone else is told it does not exist,
 * and a key bound to one workspace reaches no token of another, not even its user's own.
 */
export async function scopedTokenToRevoke(tx: Queryable, principal: Principal, jti: string): Promise<ScopedTokenRow> {
  const row = await findScopedToken(tx, jti);
  if (row === undefined) throw scopedTokenNotFound();
  const bound = boundWorkspace(principal);
  if (bound !== null && bound !== row.workspace_id) throw scopedTokenNotFound();
  if (row.user_id !== principal.userId) {
    const role = await roleIn(tx, principal, row.organization_id, row.workspace_id);
    if (role === null) throw scopedTokenNotFound();
    if (role !== 'owner' && role !== 'admin') {
      throw new ForbiddenProblem(
        ErrorCode.insufficientRole,
        "Only an owner or admin may revoke another user's token.",
        {
          requiredRole: 'admin',
          role,
        },
      );
    }
  }
  return row;
}
