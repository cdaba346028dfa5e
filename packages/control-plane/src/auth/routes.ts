import { randomUUID } from 'node:crypto';
import {
  ApiKeyList,
  apiKeyDefaultDays,
  apiKeyDefaultRole,
  apiKeyMaxDays,
  ChangePasswordRequest,
  ChangePasswordResponse,
  Closed,
  CreatedApiKey,
  ErrorCode,
  LoginRequest,
  Me,
  NewApiKey,
  NewUser,
  NewUserByAdmin,
  type Role,
  roleAtLeast,
  Session,
  User,
  Uuid,
  workspaceKeyRoles,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import {
  BadRequestProblem,
  ConflictProblem,
  ForbiddenProblem,
  NotFoundProblem,
  UnauthorizedProblem,
} from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { findHighestRole, listMemberships } from '../organizations/store.ts';
import { announceRevocations } from '../tokens/revocations.ts';
import { revokeScopedTokens } from '../tokens/store.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { boundOrganization, effectiveRole, lowerRole, requireInstanceAdmin, requireSession } from './access.ts';
import { rateLimitClient } from './client-address.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import { type Principal, principalOf } from './principal.ts';
import { hashSecret, newSecret, SecretPrefix } from './secrets.ts';
import {
  type ApiKeyRow,
  disableUser,
  enableUser,
  endSession,
  endSessionsOf,
  findUser,
  findUserByEmail,
  insertApiKey,
  insertSession,
  listApiKeys,
  replacePassword,
  revokeApiKey,
  type UserRow,
} from './store.ts';
import { createUser } from './users.ts';

const UserParams = Closed({ userId: Uuid });

function toUser(row: Omit<UserRow, 'password_hash'>) {
  return {
    userId: row.user_id,
    email: row.email,
    name: row.name,
    isInstanceAdmin: row.is_instance_admin,
    createdAt: iso(row.created_at),
    disabledAt: isoOrNull(row.disabled_at),
  };
}

const invalid = (field: string, message: string) =>
  new BadRequestProblem(ErrorCode.validationFailed, `The request is invalid: body.${field} ${message}.`, {
    errors: [{ path: `body.${field}`, message }],
  });

/** An event of the instance's trail (about a user or their credentials), not of an organization's. */
function userEvent(action: string, targetType: 'user' | 'session', targetId: string): AuditEntry {
  return { organizationId: null, action, targetType, targetId };
}

/** When a new key expires: in `expiresInDays` or at `expiresAt` (one of them), by default in 90 days. */
function keyExpiry(body: { expiresInDays?: number | undefined; expiresAt?: string | undefined }, now: Date): Date {
  const max = now.getTime() + apiKeyMaxDays * 86_400_000;
  if (body.expiresAt === undefined) {
    return new Date(now.getTime() + (body.expiresInDays ?? apiKeyDefaultDays) * 86_400_000);
  }
  if (body.expiresInDays !== undefined) throw invalid('expiresAt', 'cannot be given with expiresInDays');
  const at = Date.parse(body.expiresAt);
  if (!Number.isFinite(at) || at <= now.getTime()) throw invalid('expiresAt', 'must be in the future');
  if (at > max) throw invalid('expiresAt', `must be at most ${apiKeyMaxDays} days away`);
  return new Date(at);
}

/** Sign-in, sign-up, the caller's own profile, and API keys. */
export async function authRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['Auth'],
        summary: 'Sign in with email and password',
        description:
          'Wrong passwords are rate-limited per client address, and per account from one client address: 429 with Retry-After beyond the budget. A right password spends nothing, and one client guessing never holds back another.',
        security: [],
        body: LoginRequest,
        response: { 200: Session },
      },
    },
    async (request) => {
      const limits = deps.config.rateLimits;
      // Guessing is bounded per client address (across accounts) and per account from
      // that address, never per account from anywhere: then anyone could lock anyone
      // out, the administrator included. The client is the address Fastify sees
      // (request.ip, which follows trustProxy). Spent before the password is hashed, so
      // concurrent guesses cannot overrun a budget; given back below when it was right.
      const client = rateLimitClient(request.ip);
      const budgets = [
        { key: `login:client:${client}`, limit: limits.loginPerClient },
        {
          key: `login:client-account:${JSON.stringify([client, request.body.email.toLowerCase()])}`,
          limit: limits.loginPerClientAndAccount,
        },
      ];
      deps.limiter.take(budgets);
      const user = await findUserByEmail(db, request.body.email);
      const ok = await verifyPassword(
        request.body.password,
        user?.password_hash ?? (await decoyHash(deps.config.passwordCostLog2)),
      );
      if (user === undefined || !ok) {
        throw new UnauthorizedProblem(ErrorCode.invalidCredentials, 'The email or the password is wrong.');
      }
      // Only wrong passwords wear a budget down: a client that signs in often is not guessing.
      deps.limiter.refund(budgets);
      // Said only to whoever knows the password: nobody else learns the account exists.
      if (user.disabled_at !== null) {
        throw new ForbiddenProblem(ErrorCode.userDisabled, 'This account is disabled; ask an administrator.');
      }
      const token = newSecret(SecretPrefix.session);
      const expiresAt = new Date(deps.now().getTime() + deps.config.sessionTtlSeconds * 1000);
      const sessionId = randomUUID();
      await audited(db, userAuthor(user.user_id, request.id), async (tx) => {
        await insertSession(tx, { sessionId, userId: user.user_id, tokenHash: hashSecret(token), expiresAt });
        return { result: undefined, audit: userEvent('session.create', 'session', sessionId) };
      });
      return { accessToken: token, expiresAt: expiresAt.toISOString() };
    },
  );

  app.post(
    '/auth/logout',
    { schema: { tags: ['Auth'], summary: 'End the current session', response: { 204: Type.Null() } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.credential.type === 'session') {
        const sessionId = principal.credential.id;
        // Not audited, as signing in is: a session's end is no change to anyone's access.
        const tell = await db.transaction(async (tx) => {
          await endSession(tx, sessionId);
          // The scoped tokens this session got end with it.
          return revokeScopedTokens(tx, { sessionIds: [sessionId] }, deps.now());
        });
        await announceRevocations(deps, tell);
      }
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/logout-all',
    {
      schema: {
        tags: ['Auth'],
        summary: 'Sign out everywhere: end every session of yours and every scoped token issued to you',
        description:
          'Your API keys stay (revoke them with DELETE /api-keys/{id}); the data planes refuse the ended tokens, and the app sessions opened with them, within a second.',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      // A leaked key must not be able to sign its user out of everything.
      requireSession(principal, 'sign out everywhere');
      const tell = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await endSessionsOf(tx, principal.userId, deps.now());
        return {
          result: await revokeScopedTokens(tx, { userId: principal.userId }, deps.now()),
          audit: userEvent('user.logout_all', 'user', principal.userId),
        };
      });
      await announceRevocations(deps, tell);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/signup',
    {
      config: { public: true },
      schema: {
        tags: ['Auth'],
        summary: 'Create an account (when sign-up is open)',
        security: [],
        body: NewUser,
        response: { 200: User },
      },
    },
    async (request) => {
      if (!deps.config.allowSignup) {
        throw new ForbiddenProblem(ErrorCode.signupDisabled, 'Sign-up is closed here; ask an administrator.');
      }
      // Whoever signs up makes their own account.
      const userId = randomUUID();
      const row = await audited(db, userAuthor(userId, request.id), async (tx) => {
        const user = await createUser(tx, deps.config.passwordCostLog2, userId, request.body);
        return { result: user, audit: userEvent('user.create', 'user', userId) };
      });
      return toUser(row);
    },
  );

  app.post(
    '/users',
    {
      schema: {
        tags: ['Users'],
        summary: 'Create a user (instance administrators)',
        body: NewUserByAdmin,
        response: { 200: User },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const userId = randomUUID();
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const user = await createUser(tx, deps.config.passwordCostLog2, userId, request.body);
        return { result: user, audit: userEvent('user.create', 'user', userId) };
      });
      return toUser(row);
    },
  );

  app.get(
    '/me',
    {
      schema: {
        tags: ['Users'],
        summary: 'Who the token belongs to, their organizations, and the API key used',
        description:
          'With an API key, each role is what the key may do there, and a workspace key lists only its own organization.',
        response: { 200: Me },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const user = await findUser(db, principal.userId);
      if (user === undefined) throw new NotFoundProblem(ErrorCode.userNotFound, 'Your user no longer exists.');
      const orgs = await listMemberships(db, principal.userId, boundOrganization(principal));
      const { createdAt: _, disabledAt: __, ...me } = toUser(user);
      const key = principal.apiKey;
      return {
        ...me,
        organizations: orgs.map((o) => ({
          organizationId: o.organization_id,
          name: o.name,
          role: effectiveRole(principal, o.role),
        })),
        apiKey:
          key === undefined
            ? null
            : {
                apiKeyId: principal.credential.id,
                role: key.role,
                workspaceId: key.workspaceId,
                expiresAt: key.expiresAt.toISOString(),
              },
      };
    },
  );

  app.post(
    '/me/password',
    {
      schema: {
        tags: ['Users'],
        summary: 'Change your password; your other sessions end',
        description:
          'Signed in only (an API key is refused with session_required), with the current password. Rate-limited per account like sign-in. API keys keep working: revoke them apart.',
        body: ChangePasswordRequest,
        response: { 200: ChangePasswordResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireSession(principal, 'change a password');
      // Before the password is hashed: a stolen session cannot guess the password fast.
      deps.limiter.take([
        { key: `password:account:${principal.userId}`, limit: deps.config.rateLimits.loginPerClientAndAccount },
      ]);
      const user = await findUser(db, principal.userId);
      if (user === undefined) throw new NotFoundProblem(ErrorCode.userNotFound, 'Your user no longer exists.');
      if (!(await verifyPassword(request.body.currentPassword, user.password_hash))) {
        throw new ForbiddenProblem(ErrorCode.currentPasswordInvalid, 'The current password is wrong.');
      }
      const hash = await hashPassword(request.body.newPassword, deps.config.passwordCostLog2);
      const { sessionsEnded, tell } = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const ended = await replacePassword(tx, principal.userId, hash, principal.credential.id, deps.now());
        // The scoped tokens of the sessions it ended end with them.
        const dataplanes = ended.length === 0 ? [] : await revokeScopedTokens(tx, { sessionIds: ended }, deps.now());
        return {
          result: { sessionsEnded: ended.length, tell: dataplanes },
          audit: userEvent('user.password_change', 'user', principal.userId),
        };
      });
      await announceRevocations(deps, tell);
      return { sessionsEnded };
    },
  );

  app.post(
    '/users/:userId/disable',
    {
      schema: {
        tags: ['Users'],
        summary: 'Disable a user (instance administrators, signed in)',
        description:
          'The user cannot sign in, their sessions end, their API keys are refused (user_disabled) and scoped tokens issued to them are revoked, all at once. Their memberships stay. Not yourself.',
        params: UserParams,
        response: { 200: User },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const { userId } = request.params;
      if (userId === principal.userId) {
        throw new ConflictProblem(
          ErrorCode.cannotDisableSelf,
          'You cannot disable yourself; ask another administrator.',
        );
      }
      const { row, tell } = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const user = await disableUser(tx, userId, deps.now());
        if (user === undefined) throw new NotFoundProblem(ErrorCode.userNotFound, 'No such user.');
        // Every scoped token issued to them, and the app sessions opened with those, end too.
        return {
          result: { row: user, tell: await revokeScopedTokens(tx, { userId }, deps.now()) },
          audit: userEvent('user.disable', 'user', userId),
        };
      });
      await announceRevocations(deps, tell);
      return toUser(row);
    },
  );

  app.post(
    '/users/:userId/enable',
    {
      schema: {
        tags: ['Users'],
        summary: 'Enable a disabled user again (instance administrators, signed in)',
        description: 'The user may sign in again; their API keys that have not expired work again.',
        params: UserParams,
        response: { 200: User },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const user = await enableUser(tx, request.params.userId, deps.now());
        if (user === undefined) throw new NotFoundProblem(ErrorCode.userNotFound, 'No such user.');
        return { result: user, audit: userEvent('user.enable', 'user', request.params.userId) };
      });
      return toUser(row);
    },
  );

  app.get(
    '/api-keys',
    {
      schema: {
        tags: ['API keys'],
        summary: 'List your API keys (with an API key: that key only)',
        response: { 200: ApiKeyList },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const rows = await listApiKeys(db, principal.userId, ownKeyOnly(principal));
      return { data: rows.map(toApiKey) };
    },
  );

  app.post(
    '/api-keys',
    {
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key; the key is shown in this answer only',
        description: `Signed in only: an API key cannot make keys (session_required). A key expires (default ${apiKeyDefaultDays} days, at most ${apiKeyMaxDays}) and has a role no higher than yours (default ${apiKeyDefaultRole}); with a workspaceId it acts in that workspace only, as a viewer or a member. On every request it acts as the lower of its role and your role then.`,
        body: NewApiKey,
        response: { 200: CreatedApiKey },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireSession(principal, 'make API keys');
      const { body } = request;
      const asked = body.role;
      const expiresAt = keyExpiry(body, deps.now());
      const workspaceId = body.workspaceId ?? null;
      if (workspaceId !== null && asked !== undefined && !(workspaceKeyRoles as readonly string[]).includes(asked)) {
        throw invalid('role', `must be ${workspaceKeyRoles.join(' or ')} for a workspace key`);
      }
      const key = newSecret(SecretPrefix.apiKey);
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const { ceiling, organizationId } = await keyCeiling(tx, principal, workspaceId);
        const role = asked ?? lowerRole(apiKeyDefaultRole, ceiling);
        if (!roleAtLeast(ceiling, role)) {
          throw new ForbiddenProblem(
            ErrorCode.insufficientRole,
            `A key's role is at most yours: you are ${ceiling}${workspaceId === null ? ' at most' : ' there'}.`,
            { requiredRole: role, role: ceiling },
          );
        }
        const created = await insertApiKey(tx, {
          apiKeyId: randomUUID(),
          userId: principal.userId,
          name: body.name,
          tokenHash: hashSecret(key),
          prefix: key.slice(0, 12),
          role,
          workspaceId,
          expiresAt,
        });
        return {
          result: created,
          // A workspace key's making is on its organization's trail, for its admins to see.
          audit: { organizationId, action: 'api_key.create', targetType: 'api_key', targetId: created.api_key_id },
        };
      });
      return { ...toApiKey(row), key };
    },
  );

  app.delete(
    '/api-keys/:apiKeyId',
    {
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key (with an API key: that key only)',
        params: Closed({ apiKeyId: Uuid }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const only = ownKeyOnly(principal);
      const tell = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const row =
          only !== null && only !== request.params.apiKeyId
            ? undefined
            : await revokeApiKey(tx, request.params.apiKeyId, principal.userId, deps.now());
        if (row === undefined) throw new NotFoundProblem(ErrorCode.apiKeyNotFound, 'You have no such API key.');
        return {
          // And the scoped tokens it got.
          result: await revokeScopedTokens(tx, { apiKeyId: row.api_key_id }, deps.now()),
          audit: {
            organizationId: row.organization_id,
            action: 'api_key.revoke',
            targetType: 'api_key',
            targetId: row.api_key_id,
          },
        };
      });
      await announceRevocations(deps, tell);
      return reply.status(204).send(null);
    },
  );
}

/**
 * The highest role a new key may have: the caller's own now, as a member (a key never
 * acts as an instance administrator, so that status does not count). For a workspace key,
 * their role in its organization; else the highest they hold anywhere, and viewer when in
 * no organization yet (such a key can read what they will be given).
 */
async function keyCeiling(
  tx: Queryable,
  principal: Principal,
  workspaceId: string | null,
): Promise<{ ceiling: Role; organizationId: string | null }> {
  if (workspaceId === null)
    return { ceiling: (await findHighestRole(tx, principal.userId)) ?? 'viewer', organizationId: null };
  const workspace = await workspaceFor(tx, principal, workspaceId, 'viewer');
  const [membership] = await listMemberships(tx, principal.userId, workspace.organization_id);
  if (membership === undefined) {
    // An instance administrator sees every workspace, but a key acts only through a membership.
    throw new ForbiddenProblem(
      ErrorCode.insufficientRole,
      'A workspace key needs you to be a member of its organization.',
      {
        requiredRole: 'viewer',
        role: null,
      },
    );
  }
  return { ceiling: lowerRole(membership.role, 'member'), organizationId: workspace.organization_id };
}

/**
 * A request made with an API key sees and revokes that key only: a leaked key can end
 * itself, but cannot learn of or end its user's other keys.
 */
function ownKeyOnly(principal: Principal): string | null {
  return principal.credential.type === 'api_key' ? principal.credential.id : null;
}

function toApiKey(row: ApiKeyRow) {
  return {
    apiKeyId: row.api_key_id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    workspaceId: row.workspace_id,
    expiresAt: iso(row.expires_at),
    createdAt: iso(row.created_at),
    lastUsedAt: isoOrNull(row.last_used_at),
  };
}
