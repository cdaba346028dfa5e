import type { Queryable } from '@sovereign/server-kit/sql';
import type { AuditEventsTable } from '../tables.ts';

export async function insertAuditEvent(
  tx: Queryable,
  event: Pick<
    AuditEventsTable,
    'organization_id' | 'actor_type' | 'actor_id' | 'action' | 'target_type' | 'target_id' | 'request_id'
  >,
): Promise<void> {
  await tx.query(
    `INSERT INTO audit_events (organization_id, actor_type, actor_id, action, target_type, target_id, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      event.organization_id,
      event.actor_type,
      event.actor_id,
      event.action,
      event.target_type,
      event.target_id,
      event.request_id,
    ],
  );
}

/** An organization's events newest first, before the event `before` when given (a page of `limit`). */
export async function listAuditEvents(
  db: Queryable,
  organizationId: string,
  before: string | null,
  limit: number,
): Promise<AuditEventsTable[]> {
  return db.query<AuditEventsTable>(
    `SELECT * FROM audit_events WHERE organization_id = $1 AND ($2::bigint IS NULL OR audit_event_id < $2)
      ORDER BY audit_event_id DESC LIMIT $3`,
    [organizationId, before, limit],
  );
}
