import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Environment,
  Flag,
  LogLevel,
  logLevelOf,
  Port,
  Retired,
  readEnvironment,
  Secret,
  Text,
  WholeNumber,
} from '@sovereign/server-kit/config';
import type { DatabaseOptions } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { defaultPasswordCostLog2 } from './auth/passwords.ts';
import type { RateLimitConfig } from './auth/rate-limit.ts';

export interface ControlPlaneConfig {
  host: string;
  port: number;
  /** Where clients and data planes reach this control plane; the `iss` of its tokens. */
  publicUrl: string;
  database: DatabaseOptions;
  /** pino level, or false for no logs. */
  logLevel: string | false;
  /** Lifetime of a sign-in session. */
  sessionTtlSeconds: number;
  /** Lifetime of the token a data plane gets for its client credentials. */
  dataplaneTokenTtlSeconds: number;
  /** Whether anyone may sign up (POST /auth/signup); instance admins can always add users. */
  allowSignup: boolean;
  /** Created (or left as is) at start, with the instance's default organization. */
  admin?: { email: string; password: string } | undefined;
  bodyLimit: number;
  heartbeatIntervalSeconds: number;
  /** The dashboard's build (Vite's dist/), served at `/`. */
  dashboardDir: string;
  /** log2 of scrypt's N for new password hashes. */
  passwordCostLog2: number;
  /** How long a claimed run is held without a heartbeat before it is lost. */
  runLeaseSeconds: number;
  /** How often the scheduler looks for due jobs and expired leases. */
  schedulerTickMs: number;
  /**
   * Batch runs a workspace may have claimed or running on its data plane at once, unless
   * an admin of the data plane's organization set another limit for it: the room the
   * workspace's neighbours on a shared data plane are sure to keep.
   */
  workspaceRunLimit: number;
  /** Budgets of the endpoints that take a credential (sign-in, scoped tokens, data plane credentials), and of triggers. */
  rateLimits: RateLimitConfig;
  /**
   * The key that seals the private signing keys in the database (SOV_MASTER_KEY or
   * SOV_MASTER_KEY_FILE) and, during its rotation, the one it replaces
   * (SOV_PREVIOUS_MASTER_KEY or SOV_PREVIOUS_MASTER_KEY_FILE), still read, never written.
   */
  masterKey: MasterKeySettings;
  /** Dev mode (SOV_DEV=true): a master key is generated at `masterKey.devKeyPath` when none is given. */
  dev: boolean;
}

export interface MasterKeySettings {
  key?: string | undefined;
  file?: string | undefined;
  previousKey?: string | undefined;
  previousFile?: string | undefined;
  /** Where dev mode keeps its generated key: next to the PGlite database, under SOV_HOME. */
  devKeyPath?: string | undefined;
}

/** packages/dashboard/dist, where `npm install` builds the dashboard. */
export const defaultDashboardDir = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

export { ConfigError } from '@sovereign/server-kit/config';

/**
 * Every SOV_* variable the control plane reads, with its default and limits: the one
 * place they are written. `configFromEnv` reads them; `defaultConfig` starts from the same
 * defaults.
 */
export const ControlPlaneEnv = Type.Object({
  SOV_HOST: Text({ default: '127.0.0.1', description: 'Address to listen on.' }),
  SOV_PORT: Port({ default: 8080, description: 'Port to listen on.' }),
  SOV_CONTROL_PLANE_PORT: Type.Optional(Port({ description: 'Port to listen on, over SOV_PORT when both are set.' })),
  SOV_PUBLIC_URL: Type.Optional(
    Text({
      description:
        'Where clients and data planes reach this control plane, and the `iss` of its tokens; http://SOV_HOST:SOV_PORT by default.',
    }),
  ),
  SOV_HOME: Text({ default: '.sovereign', description: 'State directory (the PGlite database, a dev master key).' }),
  SOV_DATABASE_URL: Type.Optional(
    Text({ description: 'postgres://... for PostgreSQL; PGlite under SOV_HOME if unset.' }),
  ),
  SOV_DATABASE_DIR: Type.Optional(
    Text({ description: 'Where PGlite keeps its files; SOV_HOME/control-plane/db by default.' }),
  ),
  SOV_LOG_LEVEL: LogLevel({ description: 'pino level, or silent.' }),
  SOV_SESSION_TTL_SECONDS: WholeNumber({ default: 12 * 3600, description: 'Lifetime of a sign-in session.' }),
  SOV_DATAPLANE_TOKEN_TTL_SECONDS: WholeNumber({
    default: 900,
    description: 'Lifetime of the token a data plane gets for its client credentials.',
  }),
  SOV_ALLOW_SIGNUP: Flag({ description: 'true lets anyone create an account; instance admins can always add users.' }),
  SOV_ADMIN_EMAIL: Text({ default: 'admin@localhost', description: 'Administrator created at first start.' }),
  SOV_ADMIN_PASSWORD: Type.Optional(Secret({ description: 'Its password; no administrator is created without one.' })),
  SOV_BODY_LIMIT_BYTES: WholeNumber({ default: 256 * 1024, description: 'Largest JSON body accepted, in bytes.' }),
  SOV_HEARTBEAT_INTERVAL_SECONDS: WholeNumber({
    default: 5,
    description: 'How often data planes are asked to send a heartbeat.',
  }),
  SOV_DASHBOARD_DIR: Type.Optional(Text({ description: "The dashboard's build, served at /." })),
  SOV_PASSWORD_COST_LOG2: WholeNumber({
    default: defaultPasswordCostLog2,
    minimum: 1,
    // scrypt is given 256 MiB at most: N = 2^18 with r = 8 is all it fits.
    maximum: 18,
    description: "scrypt's cost (log2 N) for new password hashes.",
  }),
  SOV_RUN_LEASE_SECONDS: WholeNumber({
    default: 30,
    description: 'How long a claimed run is held without a heartbeat before it is lost.',
  }),
  SOV_SCHEDULER_TICK_MS: WholeNumber({
    default: 1000,
    description: 'How often the scheduler looks for due jobs and expired leases.',
  }),
  SOV_WORKSPACE_RUN_LIMIT: WholeNumber({
    default: 10,
    description: "A workspace's batch runs active at once on its data plane, unless an admin set another limit.",
  }),
  SOV_RATE_LIMIT_WINDOW_SECONDS: WholeNumber({
    default: 60,
    description: 'Period over which each rate budget refills.',
  }),
  SOV_LOGIN_LIMIT_PER_CLIENT: WholeNumber({
    default: 30,
    description: 'Wrong passwords per client address per window (0: off).',
  }),
  SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT: WholeNumber({
    default: 10,
    description: 'Wrong passwords per account from one address per window (0: off).',
  }),
  // A budget per account from anywhere let anyone lock anyone out: its setting is gone,
  // and an operator who set it must learn so rather than have it silently ignored.
  SOV_LOGIN_LIMIT_PER_ACCOUNT: Retired(
    'sign-in is limited per client address and account, set SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT instead',
  ),
  SOV_TOKEN_LIMIT_PER_CLIENT: WholeNumber({
    default: 300,
    description: 'Tokens per address and per user or data plane per window (0: off).',
  }),
  SOV_TRIGGER_LIMIT_PER_WORKSPACE: WholeNumber({
    default: 600,
    description: 'Runs triggered per workspace per window (0: off).',
  }),
  SOV_MASTER_KEY: Type.Optional(
    Secret({ description: '32 bytes (base64 or hex) that seal the private signing keys.' }),
  ),
  SOV_MASTER_KEY_FILE: Type.Optional(Text({ description: 'Or a file holding them, mode 0600, owned by its user.' })),
  SOV_PREVIOUS_MASTER_KEY: Type.Optional(Secret({ description: 'In a master key rotation, the key being replaced.' })),
  SOV_PREVIOUS_MASTER_KEY_FILE: Type.Optional(Text({ description: 'Or a file holding it.' })),
  SOV_DEV: Flag({ description: 'true: a master key is made under SOV_HOME/control-plane when none is given.' }),
});

/** Reads the control plane's settings from SOV_* environment variables. */
export function configFromEnv(env: Environment = process.env): ControlPlaneConfig {
  return readEnvironment(ControlPlaneEnv, env, (v) => {
    const port = v.SOV_CONTROL_PLANE_PORT ?? v.SOV_PORT;
    // Every directory absolute from the start, whatever the working directory does later.
    const home = resolve(v.SOV_HOME);
    const file = (path: string | undefined) => path && resolve(path);
    return {
      host: v.SOV_HOST,
      port,
      publicUrl: (v.SOV_PUBLIC_URL ?? `http://${v.SOV_HOST}:${port}`).replace(/\/+$/, ''),
      database: {
        url: v.SOV_DATABASE_URL,
        dataDir: resolve(v.SOV_DATABASE_DIR ?? join(home, 'control-plane', 'db')),
      },
      logLevel: logLevelOf(v.SOV_LOG_LEVEL),
      sessionTtlSeconds: v.SOV_SESSION_TTL_SECONDS,
      dataplaneTokenTtlSeconds: v.SOV_DATAPLANE_TOKEN_TTL_SECONDS,
      allowSignup: v.SOV_ALLOW_SIGNUP,
      admin:
        v.SOV_ADMIN_PASSWORD === undefined ? undefined : { email: v.SOV_ADMIN_EMAIL, password: v.SOV_ADMIN_PASSWORD },
      bodyLimit: v.SOV_BODY_LIMIT_BYTES,
      heartbeatIntervalSeconds: v.SOV_HEARTBEAT_INTERVAL_SECONDS,
      dashboardDir: resolve(v.SOV_DASHBOARD_DIR ?? defaultDashboardDir),
      passwordCostLog2: v.SOV_PASSWORD_COST_LOG2,
      runLeaseSeconds: v.SOV_RUN_LEASE_SECONDS,
      schedulerTickMs: v.SOV_SCHEDULER_TICK_MS,
      workspaceRunLimit: v.SOV_WORKSPACE_RUN_LIMIT,
      rateLimits: {
        windowSeconds: v.SOV_RATE_LIMIT_WINDOW_SECONDS,
        loginPerClient: v.SOV_LOGIN_LIMIT_PER_CLIENT,
        loginPerClientAndAccount: v.SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT,
        tokensPerClient: v.SOV_TOKEN_LIMIT_PER_CLIENT,
        triggersPerWorkspace: v.SOV_TRIGGER_LIMIT_PER_WORKSPACE,
      },
      masterKey: {
        key: v.SOV_MASTER_KEY,
        file: file(v.SOV_MASTER_KEY_FILE),
        previousFile: file(v.SOV_PREVIOUS_MASTER_KEY_FILE),
        previousKey: v.SOV_PREVIOUS_MASTER_KEY,
        devKeyPath: join(home, 'control-plane', 'master.key'),
      },
      dev: v.SOV_DEV,
    };
  });
}

/**
 * Settings for tests and embedding: the environment's defaults, with an in-memory PGlite
 * database, no logs, signup open, and a master key of its own, made for this
 * configuration (as short-lived as its in-memory database).
 */
export function defaultConfig(overrides: Partial<ControlPlaneConfig> = {}): ControlPlaneConfig {
  const defaults = configFromEnv({});
  return {
    ...defaults,
    port: 0,
    database: {},
    logLevel: false,
    allowSignup: true,
    // Fast hashes for tests and embedding; production reads the strong default from the env.
    passwordCostLog2: 12,
    // Off: in-process suites sign in hundreds of users from one address. The limits have their own suite.
    rateLimits: {
      windowSeconds: defaults.rateLimits.windowSeconds,
      loginPerClient: 0,
      loginPerClientAndAccount: 0,
      tokensPerClient: 0,
      triggersPerWorkspace: 0,
    },
    masterKey: { key: randomBytes(32).toString('base64') },
    ...overrides,
  };
}
