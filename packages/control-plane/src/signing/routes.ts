import { SigningKeyList } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { type AuditEntry, recordAudit, userAuthor } from '../audit/record.ts';
import { requireInstanceAdmin } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';

/** An event of the instance's trail (signing keys belong to no organization). */
function signingKeyEvent(action: string, kid: string): AuditEntry {
  return { organizationId: null, action, targetType: 'signing_key', targetId: kid };
}

/** The keys that sign every token of this control plane: listed, rotated and retired by instance administrators. */
export async function signingKeyRoutes(app: App, deps: Deps) {
  const { keys } = deps;

  app.get(
    '/signing-keys',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'List signing keys (instance administrators)',
        response: { 200: SigningKeyList },
      },
    },
    async (request) => {
      requireInstanceAdmin(principalOf(request));
      return { data: await keys.list() };
    },
  );

  app.post(
    '/signing-keys/rotate',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'Make a new active signing key; the previous one keeps verifying until retired',
        response: { 200: SigningKeyList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const author = userAuthor(principal.userId, request.id);
      // The keys own their transaction (a lock across replicas): the event lands in it.
      await keys.rotate((tx, kid) => recordAudit(tx, author, signingKeyEvent('signing_key.rotate', kid)));
      return { data: await keys.list() };
    },
  );

  app.post(
    '/signing-keys/retire',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'Retire every retiring key: tokens they signed stop verifying',
        response: { 200: SigningKeyList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const author = userAuthor(principal.userId, request.id);
      await keys.retire((tx, kids) =>
        recordAudit(
          tx,
          author,
          kids.map((kid) => signingKeyEvent('signing_key.retire', kid)),
        ),
      );
      return { data: await keys.list() };
    },
  );
}
