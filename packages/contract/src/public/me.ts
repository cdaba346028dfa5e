import { type Static, Type } from 'typebox';
import { apiKeyDefaultDays, apiKeyDefaultRole, apiKeyMaxDays, workspaceKeyRoles } from '../api-keys.ts';
import { Closed, Email, Timestamp, Uuid } from '../schema.ts';
import { Roles } from '../scopes.ts';

/** Signing in, the signed-in user, users and API keys: the public API's shapes. */

export const LoginRequest = Closed({
  email: Type.String({ maxLength: 254 }),
  password: Type.String({ maxLength: 256 }),
});
export type LoginRequest = Static<typeof LoginRequest>;

/** A session: its bearer token and when it ends. */
export const Session = Type.Object({ accessToken: Type.String(), expiresAt: Timestamp });
export type Session = Static<typeof Session>;

export const Password = Type.String({ minLength: 8, maxLength: 256 });

export const NewUser = Closed({
  email: Email,
  password: Password,
  name: Type.Optional(Type.String({ maxLength: 200 })),
});
export type NewUser = Static<typeof NewUser>;

export const NewUserByAdmin = Closed({ ...NewUser.properties, isInstanceAdmin: Type.Optional(Type.Boolean()) });
export type NewUserByAdmin = Static<typeof NewUserByAdmin>;

export const User = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  isInstanceAdmin: Type.Boolean(),
  createdAt: Timestamp,
  disabledAt: Type.Union([Timestamp, Type.Null()], { description: 'Set while the user is disabled.' }),
});
export type User = Static<typeof User>;

const KeyFields = {
  role: Type.Enum(Roles, {
    description: "The most the key may do; it never acts above its user's current role either.",
  }),
  workspaceId: Type.Union([Uuid, Type.Null()], { description: 'The one workspace the key acts in, or null.' }),
  expiresAt: Timestamp,
};

export const Me = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  isInstanceAdmin: Type.Boolean({ description: "The user's standing; an API key never acts as one." }),
  organizations: Type.Array(
    Type.Object({
      organizationId: Uuid,
      name: Type.String(),
      role: Type.Enum(Roles, { description: 'What this credential may do there (an API key caps it).' }),
    }),
  ),
  apiKey: Type.Union([Type.Object({ apiKeyId: Uuid, ...KeyFields }), Type.Null()], {
    description: 'The API key the request came with, or null for a signed-in session.',
  }),
});
export type Me = Static<typeof Me>;

export const ChangePasswordRequest = Closed({
  currentPassword: Type.String({ maxLength: 256 }),
  newPassword: Password,
});
export type ChangePasswordRequest = Static<typeof ChangePasswordRequest>;

export const ChangePasswordResponse = Type.Object({
  sessionsEnded: Type.Integer({ description: 'Your other sessions, now ended.' }),
});
export type ChangePasswordResponse = Static<typeof ChangePasswordResponse>;

export const ApiKey = Type.Object({
  apiKeyId: Uuid,
  name: Type.String(),
  prefix: Type.String(),
  ...KeyFields,
  createdAt: Timestamp,
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
});
export type ApiKey = Static<typeof ApiKey>;

export const ApiKeyList = Type.Object({ data: Type.Array(ApiKey) });
export type ApiKeyList = Static<typeof ApiKeyList>;

/** A new key: the secret `key` is in this answer only. */
export const CreatedApiKey = Type.Object({ ...ApiKey.properties, key: Type.String() });
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const NewApiKey = Closed({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  role: Type.Optional(
    Type.Enum(Roles, {
      description: `Default ${apiKeyDefaultRole}. At most your own role; ${workspaceKeyRoles.join(' or ')} for a workspace key.`,
    }),
  ),
  workspaceId: Type.Optional(Uuid),
  expiresInDays: Type.Optional(
    Type.Integer({ minimum: 1, maximum: apiKeyMaxDays, description: `Default ${apiKeyDefaultDays}.` }),
  ),
  expiresAt: Type.Optional(
    Type.String({
      format: 'date-time',
      maxLength: 40,
      description: `Instead of expiresInDays: a time in the next ${apiKeyMaxDays} days.`,
    }),
  ),
});
export type NewApiKey = Static<typeof NewApiKey>;
