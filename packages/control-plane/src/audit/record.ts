import type { Queryable } from '@sovereign/server-kit/sql';
import type { Principal } from '../auth/principal.ts';

export interface AuditEntry {
  organizationId: string | null;
  action: string;
  targetType: string;
  targetId: string;
  requestId?: string;
}

export type Actor = { type: 'user'; id: string } | { type: 'dataplane'; id: string } | { type: 'system'; id: null };

export function userActor(principal: Principal): Actor {
  return { type: 'user', id: principal.userId };
}

/**
 * Records who did what to which target. Called in the same transaction as the change,
 * so a change and its audit event land together. Never takes a request body (R1).
 */
export async function audit(tx: Queryable, actor: Actor, entry: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO audit_events (organization_id, actor_type, actor_id, action, target_type, target_id, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      entry.organizationId,
      actor.type,
      actor.id,
      entry.action,
      entry.targetType,
      entry.targetId,
      entry.requestId ?? null,
    ],
  );
}
