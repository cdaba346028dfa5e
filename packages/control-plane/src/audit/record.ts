import type { Database, Queryable } from '@sovereign/server-kit/sql';
import { insertAuditEvent } from './store.ts';

/** What a change did to which target, for its organization's trail (null: the instance's). */
export interface AuditEntry {
  organizationId: string | null;
  action: string;
  targetType: string;
  targetId: string;
}

export type Actor = { type: 'user'; id: string } | { type: 'dataplane'; id: string } | { type: 'system'; id: null };

/** Who makes a change, and the request it came with (none for the system's own changes). */
export interface Author {
  actor: Actor;
  requestId?: string;
}

/** A user (signed in, or through an API key), acting through a request. */
export function userAuthor(userId: string, requestId: string): Author {
  return { actor: { type: 'user', id: userId }, requestId };
}

/** A data plane, calling with its credential token. */
export function dataplaneAuthor(dataplaneId: string, requestId: string): Author {
  return { actor: { type: 'dataplane', id: dataplaneId }, requestId };
}

export const systemAuthor: Author = { actor: { type: 'system', id: null } };

/**
 * What a change answers, and the audit events it leaves: one, several in the order they
 * happened, or none where the change found nothing to do (a token already revoked).
 */
export interface Audited<T> {
  result: T;
  audit: AuditEntry | AuditEntry[];
}

/**
 * Runs a change and records its audit events in one transaction: the change and its
 * trail land together or not at all, and a refusal thrown by the change (an access
 * check, a conflict) leaves neither. Never takes a request body (R1).
 */
export async function audited<T>(
  db: Pick<Database, 'transaction'>,
  author: Author,
  change: (tx: Queryable) => Promise<Audited<T>>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const { result, audit } = await change(tx);
    await recordAudit(tx, author, audit);
    return result;
  });
}

/**
 * Records audit events in a transaction the caller holds: audited() does, and so does a
 * change that must own its transaction (the signing keys take a lock in theirs).
 */
export async function recordAudit(tx: Queryable, author: Author, entries: AuditEntry | AuditEntry[]): Promise<void> {
  for (const entry of Array.isArray(entries) ? entries : [entries]) {
    await insertAuditEvent(tx, {
      organization_id: entry.organizationId,
      actor_type: author.actor.type,
      actor_id: author.actor.id,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      request_id: author.requestId ?? null,
    });
  }
}
