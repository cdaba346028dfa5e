import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseOptions } from '@sovereign/server-kit/sql';
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

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return value;
}

/** Reads the control plane's settings from SOV_* environment variables. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const host = env.SOV_HOST ?? '127.0.0.1';
  const port = intFrom(env, 'SOV_CONTROL_PLANE_PORT', intFrom(env, 'SOV_PORT', 8080));
  const home = env.SOV_HOME ?? '.sovereign';
  const publicUrl = (env.SOV_PUBLIC_URL ?? `http://${host}:${port}`).replace(/\/+$/, '');
  const adminPassword = env.SOV_ADMIN_PASSWORD;
  // A budget per account from anywhere let anyone lock anyone out: its setting is gone,
  // and an operator who set it must learn so rather than have it silently ignored.
  if (env.SOV_LOGIN_LIMIT_PER_ACCOUNT !== undefined && env.SOV_LOGIN_LIMIT_PER_ACCOUNT !== '') {
    throw new ConfigError(
      'SOV_LOGIN_LIMIT_PER_ACCOUNT is no longer read: sign-in is limited per client address and account, set SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT instead',
    );
  }
  return {
    host,
    port,
    publicUrl,
    database: {
      url: env.SOV_DATABASE_URL || undefined,
      dataDir: env.SOV_DATABASE_DIR || join(home, 'control-plane', 'db'),
    },
    logLevel: env.SOV_LOG_LEVEL === 'silent' ? false : (env.SOV_LOG_LEVEL ?? 'info'),
    sessionTtlSeconds: intFrom(env, 'SOV_SESSION_TTL_SECONDS', 12 * 3600),
    dataplaneTokenTtlSeconds: intFrom(env, 'SOV_DATAPLANE_TOKEN_TTL_SECONDS', 900),
    allowSignup: env.SOV_ALLOW_SIGNUP === 'true',
    admin:
      adminPassword !== undefined && adminPassword !== ''
        ? { email: env.SOV_ADMIN_EMAIL ?? 'admin@localhost', password: adminPassword }
        : undefined,
    bodyLimit: intFrom(env, 'SOV_BODY_LIMIT_BYTES', 256 * 1024),
    heartbeatIntervalSeconds: intFrom(env, 'SOV_HEARTBEAT_INTERVAL_SECONDS', 5),
    dashboardDir: env.SOV_DASHBOARD_DIR || defaultDashboardDir,
    passwordCostLog2: intFrom(env, 'SOV_PASSWORD_COST_LOG2', defaultPasswordCostLog2),
    runLeaseSeconds: intFrom(env, 'SOV_RUN_LEASE_SECONDS', 30),
    schedulerTickMs: intFrom(env, 'SOV_SCHEDULER_TICK_MS', 1000),
    workspaceRunLimit: intFrom(env, 'SOV_WORKSPACE_RUN_LIMIT', 10),
    rateLimits: {
      windowSeconds: intFrom(env, 'SOV_RATE_LIMIT_WINDOW_SECONDS', 60),
      loginPerClient: intFrom(env, 'SOV_LOGIN_LIMIT_PER_CLIENT', 30),
      loginPerClientAndAccount: intFrom(env, 'SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT', 10),
      tokensPerClient: intFrom(env, 'SOV_TOKEN_LIMIT_PER_CLIENT', 300),
      triggersPerWorkspace: intFrom(env, 'SOV_TRIGGER_LIMIT_PER_WORKSPACE', 600),
    },
    masterKey: {
      key: env.SOV_MASTER_KEY || undefined,
      file: env.SOV_MASTER_KEY_FILE || undefined,
      previousKey: env.SOV_PREVIOUS_MASTER_KEY || undefined,
      previousFile: env.SOV_PREVIOUS_MASTER_KEY_FILE || undefined,
      devKeyPath: join(home, 'control-plane', 'master.key'),
    },
    dev: env.SOV_DEV === 'true',
  };
}

/**
 * Settings for tests and embedding: in-memory PGlite, no logs, signup open, and a master
 * key of its own, made for this configuration (as short-lived as its in-memory database).
 */
export function defaultConfig(overrides: Partial<ControlPlaneConfig> = {}): ControlPlaneConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    publicUrl: 'http://127.0.0.1:8080',
    database: {},
    logLevel: false,
    sessionTtlSeconds: 12 * 3600,
    dataplaneTokenTtlSeconds: 900,
    allowSignup: true,
    admin: undefined,
    bodyLimit: 256 * 1024,
    heartbeatIntervalSeconds: 5,
    dashboardDir: defaultDashboardDir,
    // Fast hashes for tests and embedding; production reads the strong default from the env.
    passwordCostLog2: 12,
    runLeaseSeconds: 30,
    schedulerTickMs: 1000,
    workspaceRunLimit: 10,
    // Off: in-process suites sign in hundreds of users from one address. The limits have their own suite.
    rateLimits: {
      windowSeconds: 60,
      loginPerClient: 0,
      loginPerClientAndAccount: 0,
      tokensPerClient: 0,
      triggersPerWorkspace: 0,
    },
    masterKey: { key: randomBytes(32).toString('base64') },
    dev: false,
    ...overrides,
  };
}
