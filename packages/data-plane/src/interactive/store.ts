import type { Queryable } from '@sovereign/server-kit/sql';
import type { Row } from '../storage/tables.ts';

/** Whom and what a launch ticket opens. */
export interface LaunchGrant {
  runId: string;
  workspaceId: string;
  userId: string;
  tokenId: string;
  path: string;
}

/** How long a redeemed or expired ticket is kept before it is swept: enough to read in an investigation. */
const keptSeconds = 3600;

/**
 * Stores a ticket (by its hash) bound to a state, for `seconds`, and sweeps tickets long
 * expired. Times are the database's, so every instance agrees on them. Resolves to
 * when it expires.
 */
export async function storeTicket(
  db: Queryable,
  ticketHash: string,
  state: string,
  grant: LaunchGrant,
  seconds: number,
): Promise<Date> {
  await db.query(
    `DELETE FROM interactive_launch_tickets WHERE expires_at < now() - $1::integer * interval '1 second'`,
    [keptSeconds],
  );
  const [row] = await db.query<Row<'interactive_launch_tickets', 'expires_at'>>(
    `INSERT INTO interactive_launch_tickets (ticket_hash, run_id, workspace_id, user_id, token_id, state, path, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::integer * interval '1 second')
     RETURNING expires_at`,
    [ticketHash, grant.runId, grant.workspaceId, grant.userId, grant.tokenId, state, grant.path, seconds],
  );
  if (row === undefined) throw new Error('the launch ticket was not stored');
  return new Date(row.expires_at);
}

/**
 * Redeems a ticket: only for the run it was issued for, only with the state it is bound
 * to, only before it expires, and only once (one statement marks it used and answers
 * it, so two browsers racing with it cannot both win). A ticket presented with another
 * state is not used up by that: the browser it was meant for may still open it.
 */
export async function redeemTicket(
  db: Queryable,
  ticketHash: string,
  runId: string,
  state: string,
): Promise<LaunchGrant | undefined> {
  const [row] = await db.query<
    Row<'interactive_launch_tickets', 'run_id' | 'workspace_id' | 'user_id' | 'token_id' | 'path'>
  >(
    `UPDATE interactive_launch_tickets SET redeemed_at = now()
      WHERE ticket_hash = $1 AND run_id = $2 AND state = $3 AND redeemed_at IS NULL AND expires_at > now()
      RETURNING run_id, workspace_id, user_id, token_id, path`,
    [ticketHash, runId, state],
  );
  return row === undefined
    ? undefined
    : {
        runId: row.run_id,
        workspaceId: row.workspace_id,
        userId: row.user_id,
        tokenId: row.token_id,
        path: row.path,
      };
}
