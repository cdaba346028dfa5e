import { AuditEvent, Closed, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { Type } from 'typebox';
import { requireRole } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso } from '../context.ts';
import { listAuditEvents } from './store.ts';

/** The organization's audit trail, newest first, paged by cursor (owners and admins). */
export async function auditRoutes(app: App, deps: Deps) {
  app.get(
    '/organizations/:organizationId/audit-events',
    {
      schema: {
        tags: ['Audit'],
        summary: "The organization's audit events, newest first",
        params: Closed({ organizationId: Uuid }),
        querystring: Closed({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
        }),
        response: {
          200: Type.Object({ data: Type.Array(AuditEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (request) => {
      const { organizationId } = request.params;
      await requireRole(deps.db, principalOf(request), organizationId, 'admin');
      const limit = request.query.limit ?? 100;
      const rows = await listAuditEvents(deps.db, organizationId, request.query.cursor ?? null, limit + 1);
      const page = rows.slice(0, limit);
      return {
        data: page.map((r) => ({
          auditEventId: String(r.audit_event_id),
          actor: { type: r.actor_type, id: r.actor_id },
          action: r.action,
          target: { type: r.target_type, id: r.target_id },
          requestId: r.request_id,
          createdAt: iso(r.created_at),
        })),
        nextCursor: rows.length > limit ? String(page.at(-1)?.audit_event_id) : null,
      };
    },
  );
}
