import { randomUUID } from 'node:crypto';
import { Closed, Email, ErrorCode, Roles, Timestamp, Uuid } from '@sovereign/protocol';
import { ConflictProblem, ForbiddenProblem, NotFoundProblem, UnauthorizedProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { Type } from 'typebox';
import { audit, userActor } from '../audit/record.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import type { PublicApi } from '../public-api.ts';
import { revokeIssued } from '../signing/issued-tokens.ts';
import { tellDataplanes } from '../signing/revocations.ts';
import { requireInstanceAdmin } from './access.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import { principalOf } from './principal.ts';
import { hashSecret, newSecret, SecretPrefix } from './secrets.ts';

const Password = Type.String({ minLength: 8, maxLength: 256 });

const NewUser = Closed({
  email: Email,
  password: Password,
  name: Type.Optional(Type.String({ maxLength: 200 })),
});

const User = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  isInstanceAdmin: Type.Boolean(),
  createdAt: Timestamp,
});

const Me = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  isInstanceAdmin: Type.Boolean(),
  organizations: Type.Array(Type.Object({ organizationId: Uuid, name: Type.String(), role: Type.Enum(Roles) })),
});

const ApiKey = Type.Object({
  apiKeyId: Uuid,
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
});

interface UserRow {
  user_id: string;
  email: string;
  name: string;
  is_instance_admin: boolean;
  created_at: Date;
  password_hash: string;
}

function toUser(row: Omit<UserRow, 'password_hash'>) {
  return {
    userId: row.user_id,
    email: row.email,
    name: row.name,
    isInstanceAdmin: row.is_instance_admin,
    createdAt: iso(row.created_at),
  };
}

/** Creates a user; the email is unique whatever its case. */
export async function createUser(
  tx: Queryable,
  deps: Deps,
  input: { email: string; password: string; name?: string | undefined; isInstanceAdmin?: boolean },
) {
  const [taken] = await tx.query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [input.email]);
  if (taken !== undefined) throw new ConflictProblem(ErrorCode.emailTaken, 'A user with that email already exists.');
  const [row] = await tx.query<UserRow>(
    `INSERT INTO users (user_id, email, name, password_hash, is_instance_admin)
     VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [
      randomUUID(),
      input.email,
      input.name ?? '',
      await hashPassword(input.password, deps.config.passwordCostLog2),
      input.isInstanceAdmin ?? false,
    ],
  );
  if (row === undefined) throw new Error('insert returned nothing');
  return row;
}

/** Sign-in, sign-up, the caller's own profile, and API keys. */
export async function authRoutes(app: PublicApi, deps: Deps) {
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
        body: Closed({ email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 256 }) }),
        response: { 200: Type.Object({ accessToken: Type.String(), expiresAt: Timestamp }) },
      },
    },
    async (request) => {
      const limits = deps.config.rateLimits;
      // Guessing is bounded per client address (across accounts) and per account from
      // that address, never per account from anywhere: then anyone could lock anyone
      // out, the administrator included. The client is the address Fastify sees
      // (request.ip, which follows trustProxy). Spent before the password is hashed, so
      // concurrent guesses cannot overrun a budget; given back below when it was right.
      const budgets = [
        { key: `login:client:${request.ip}`, limit: limits.loginPerClient },
        {
          key: `login:client-account:${JSON.stringify([request.ip, request.body.email.toLowerCase()])}`,
          limit: limits.loginPerClientAndAccount,
        },
      ];
      deps.limiter.take(budgets);
      const [user] = await db.query<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1)', [
        request.body.email,
      ]);
      const ok = await verifyPassword(
        request.body.password,
        user?.password_hash ?? (await decoyHash(deps.config.passwordCostLog2)),
      );
      if (user === undefined || !ok) {
        throw new UnauthorizedProblem(ErrorCode.invalidCredentials, 'The email or the password is wrong.');
      }
      // Only wrong passwords wear a budget down: a client that signs in often is not guessing.
      deps.limiter.refund(budgets);
      const token = newSecret(SecretPrefix.session);
      const expiresAt = new Date(deps.now().getTime() + deps.config.sessionTtlSeconds * 1000);
      const sessionId = randomUUID();
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO sessions (session_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
          sessionId,
          user.user_id,
          hashSecret(token),
          expiresAt,
        ]);
        await audit(
          tx,
          { type: 'user', id: user.user_id },
          {
            organizationId: null,
            action: 'session.create',
            targetType: 'session',
            targetId: sessionId,
            requestId: request.id,
          },
        );
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
        const tell = await db.transaction(async (tx) => {
          await tx.query('UPDATE sessions SET revoked_at = now() WHERE session_id = $1', [sessionId]);
          // The scoped tokens this session got end with it.
          return revokeIssued(tx, { sessionIds: [sessionId] }, deps.now());
        });
        await tellDataplanes(deps, tell);
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
      const tell = await db.transaction(async (tx) => {
        await tx.query('UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
          principal.userId,
        ]);
        const dataplanes = await revokeIssued(tx, { userId: principal.userId }, deps.now());
        await audit(tx, userActor(principal), {
          organizationId: null,
          action: 'user.logout_all',
          targetType: 'user',
          targetId: principal.userId,
          requestId: request.id,
        });
        return dataplanes;
      });
      await tellDataplanes(deps, tell);
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
      const row = await db.transaction(async (tx) => {
        const user = await createUser(tx, deps, request.body);
        await audit(
          tx,
          { type: 'user', id: user.user_id },
          {
            organizationId: null,
            action: 'user.create',
            targetType: 'user',
            targetId: user.user_id,
            requestId: request.id,
          },
        );
        return user;
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
        body: Closed({ ...NewUser.properties, isInstanceAdmin: Type.Optional(Type.Boolean()) }),
        response: { 200: User },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const row = await db.transaction(async (tx) => {
        const user = await createUser(tx, deps, request.body);
        await audit(tx, userActor(principal), {
          organizationId: null,
          action: 'user.create',
          targetType: 'user',
          targetId: user.user_id,
          requestId: request.id,
        });
        return user;
      });
      return toUser(row);
    },
  );

  app.get(
    '/me',
    {
      schema: { tags: ['Users'], summary: 'Who the token belongs to, and their organizations', response: { 200: Me } },
    },
    async (request) => {
      const principal = principalOf(request);
      const [user] = await db.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [principal.userId]);
      if (user === undefined) throw new NotFoundProblem(ErrorCode.userNotFound, 'Your user no longer exists.');
      const orgs = await db.query<{ organization_id: string; name: string; role: (typeof Roles)[number] }>(
        `SELECT o.organization_id, o.name, m.role FROM memberships m JOIN organizations o USING (organization_id)
          WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY o.name, o.organization_id`,
        [principal.userId],
      );
      const { createdAt: _, ...me } = toUser(user);
      return {
        ...me,
        organizations: orgs.map((o) => ({ organizationId: o.organization_id, name: o.name, role: o.role })),
      };
    },
  );

  app.get(
    '/api-keys',
    {
      schema: {
        tags: ['API keys'],
        summary: 'List your API keys',
        response: { 200: Type.Object({ data: Type.Array(ApiKey) }) },
      },
    },
    async (request) => {
      const rows = await db.query<ApiKeyRow>(
        `SELECT * FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC`,
        [principalOf(request).userId],
      );
      return { data: rows.map(toApiKey) };
    },
  );

  app.post(
    '/api-keys',
    {
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key; the key is shown in this answer only',
        body: Closed({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
        }),
        response: { 200: Type.Object({ ...ApiKey.properties, key: Type.String() }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const key = newSecret(SecretPrefix.apiKey);
      const { expiresInDays } = request.body;
      const expiresAt =
        expiresInDays === undefined ? null : new Date(deps.now().getTime() + expiresInDays * 86_400_000);
      const row = await db.transaction(async (tx) => {
        const [created] = await tx.query<ApiKeyRow>(
          `INSERT INTO api_keys (api_key_id, user_id, name, token_hash, prefix, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
          [randomUUID(), principal.userId, request.body.name, hashSecret(key), key.slice(0, 12), expiresAt],
        );
        if (created === undefined) throw new Error('insert returned nothing');
        await audit(tx, userActor(principal), {
          organizationId: null,
          action: 'api_key.create',
          targetType: 'api_key',
          targetId: created.api_key_id,
          requestId: request.id,
        });
        return created;
      });
      return { ...toApiKey(row), key };
    },
  );

  app.delete(
    '/api-keys/:apiKeyId',
    {
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key',
        params: Closed({ apiKeyId: Uuid }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const tell = await db.transaction(async (tx) => {
        const [row] = await tx.query<{ api_key_id: string }>(
          `UPDATE api_keys SET revoked_at = now()
            WHERE api_key_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING api_key_id`,
          [request.params.apiKeyId, principal.userId],
        );
        if (row === undefined) throw new NotFoundProblem(ErrorCode.apiKeyNotFound, 'You have no such API key.');
        await audit(tx, userActor(principal), {
          organizationId: null,
          action: 'api_key.revoke',
          targetType: 'api_key',
          targetId: row.api_key_id,
          requestId: request.id,
        });
        // And the scoped tokens it got.
        return revokeIssued(tx, { apiKeyId: row.api_key_id }, deps.now());
      });
      await tellDataplanes(deps, tell);
      return reply.status(204).send(null);
    },
  );
}

interface ApiKeyRow {
  api_key_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

function toApiKey(row: ApiKeyRow) {
  return {
    apiKeyId: row.api_key_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    lastUsedAt: isoOrNull(row.last_used_at),
  };
}
