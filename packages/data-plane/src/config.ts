import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { interactiveSessionMaxSeconds, publicUrlPattern, tokenClockSkewSeconds } from '@sovereign/contract';
import type { DatabaseOptions } from '@sovereign/server-kit/sql';
import { defaultDashboardOrigins, normalizeOrigin } from './http/cors.ts';
import { AppOrigins, defaultAppsTemplate } from './interactive/origins.ts';
import { type LimitSettings, limitSettingsFromEnv } from './launch/limits.ts';

/**
 * How runs are jailed (R9). `on`: every run in a bubblewrap jail, and the data plane
 * refuses to start without one; `auto` (development only): a jail when this machine can
 * build one, else none, said at every start; `off`: no jail, on purpose.
 */
export interface SandboxSettings {
  mode: 'on' | 'auto' | 'off';
  /** Host user ids given to runs, one per run: [first, first + count). */
  uids: { first: number; count: number };
  /** Host directories a job sees read-only, besides the system's (/usr, /etc minus secrets, ...). */
  readOnlyPaths: string[];
  /** Jails kept started in advance, so a run's start does not wait for one. */
  pool: number;
  /** Where runs' directories are made (their users must reach it by its path: every directory above is o+x). */
  dir: string;
}

export interface DataPlaneConfig {
  host: string;
  port: number;
  /** Where clients reach this data plane; reported to the control plane. */
  publicUrl: string;
  controlPlaneUrl: string;
  /** Browser origins allowed to call the API (CORS): the dashboard's. */
  dashboardOrigins: string[];
  /**
   * Where an interactive run's app is served: an origin of its own per run, from a
   * template holding `{run}` (SOV_APPS_URL_TEMPLATE).
   */
  apps: AppOrigins;
  /** The dashboard, where a browser without a session for an app signs in to open it. */
  dashboardUrl: string;
  clientId: string;
  clientSecret: string;
  /** This data plane's own state: database (PGlite), artifacts, dev master key. */
  dataDir: string;
  database: DatabaseOptions;
  artifactsDir: string;
  /** Working copies of bundles for runs, one directory per run, removed after it. */
  workDir: string;
  /** Unpacked deployments kept under workDir for fast working copies, in bytes (0: none kept). */
  deploymentCacheBytes: number;
  /** Between SIGTERM and SIGKILL when a run is stopped. */
  killGraceSeconds: number;
  /**
   * How long an instance of this data plane may go unseen (each one notes itself every
   * 5 s) before the others take it for dead: its runs end here as abandoned, and its
   * working copies and cache are removed.
   */
  instanceStaleSeconds: number;
  masterKey: { key?: string | undefined; file?: string | undefined };
  /** Dev mode: a master key is generated under dataDir when none is given. */
  dev: boolean;
  maxBundleBytes: number;
  maxBundleEntries: number;
  maxUnpackedBytes: number;
  /** Batch runs at once on this instance. */
  capacity: number;
  /** Interactive runs at once on this instance, apart from batch ones. */
  interactiveCapacity: number;
  /** Interactive jobs: how long their port may take to answer before the run fails (start_timeout). */
  interactiveStartTimeoutSeconds: number;
  /** Life of the session cookie a browser gets for an interactive run in exchange for a token. */
  interactiveSessionSeconds: number;
  /** Clock skew tolerated on token times; at most the protocol's 30 s. */
  tokenSkewSeconds: number;
  logLevel: string | false;
  version: string;
  sandbox: SandboxSettings;
  /** What each run may use, unless its job asks otherwise, and the most a job may ask. */
  runLimits: LimitSettings;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`${name} is required`);
  return value;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return value;
}

/** Where a data plane keeps its state, and the key to its secrets: all a maintenance command needs. */
export type StorageConfig = Pick<DataPlaneConfig, 'dataDir' | 'database' | 'masterKey' | 'dev'>;

export function storageConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StorageConfig {
  // Instances started with one data plane's credentials share its directory: its storage.
  const dataDir = env.SOV_DATA_DIR || join(env.SOV_HOME ?? '.sovereign', 'dataplanes', required(env, 'SOV_CLIENT_ID'));
  return {
    dataDir,
    database: { url: env.SOV_DATABASE_URL || undefined, dataDir: join(dataDir, 'db') },
    masterKey: { key: env.SOV_MASTER_KEY || undefined, file: env.SOV_MASTER_KEY_FILE || undefined },
    dev: env.SOV_DEV === 'true',
  };
}

/** SOV_DASHBOARD_ORIGINS (comma-separated origins), else the control plane's origin. */
function dashboardOrigins(env: NodeJS.ProcessEnv, controlPlaneUrl: string): string[] {
  const raw = env.SOV_DASHBOARD_ORIGINS;
  if (raw === undefined || raw.trim() === '') return defaultDashboardOrigins(controlPlaneUrl);
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const origin = normalizeOrigin(item);
      if (origin === undefined) {
        throw new ConfigError(
          `SOV_DASHBOARD_ORIGINS holds "${item}", which is not an origin (scheme://host[:port], no path)`,
        );
      }
      return origin;
    });
}

function sandboxSettings(env: NodeJS.ProcessEnv, dev: boolean): SandboxSettings {
  const raw = env.SOV_SANDBOX ?? '';
  const mode = raw === '' ? (dev ? 'auto' : 'on') : raw;
  if (mode !== 'on' && mode !== 'auto' && mode !== 'off') {
    throw new ConfigError(`SOV_SANDBOX must be on, off, or auto (development only), got "${raw}"`);
  }
  if (mode === 'auto' && !dev) {
    throw new ConfigError(
      'SOV_SANDBOX=auto is for development (SOV_DEV=true): in production a run is jailed, or not on purpose (off)',
    );
  }
  const uidsText = env.SOV_SANDBOX_UIDS || '1500000000-1500999999';
  const range = /^(\d{1,10})-(\d{1,10})$/.exec(uidsText);
  const first = Number(range?.[1]);
  const last = Number(range?.[2]);
  if (range === null || first < 1000 || last < first || last >= 2 ** 32 - 1) {
    throw new ConfigError(
      `SOV_SANDBOX_UIDS must be a range of user ids from 1000, such as 1500000000-1500999999, got "${uidsText}"`,
    );
  }
  const readOnlyPaths = (env.SOV_SANDBOX_READ_ONLY_PATHS ?? '').split(':').filter((p) => p !== '');
  for (const path of readOnlyPaths) {
    if (!path.startsWith('/') || path.split('/').includes('..')) {
      throw new ConfigError(`SOV_SANDBOX_READ_ONLY_PATHS holds "${path}", which is not an absolute path`);
    }
  }
  const dir = env.SOV_SANDBOX_DIR || '/var/lib/sovereign/runs';
  if (!dir.startsWith('/')) throw new ConfigError(`SOV_SANDBOX_DIR must be an absolute path, got "${dir}"`);
  return {
    mode,
    uids: { first, count: last - first + 1 },
    readOnlyPaths,
    pool: int(env, 'SOV_SANDBOX_POOL', 2),
    dir,
  };
}

function runLimits(env: NodeJS.ProcessEnv): LimitSettings {
  try {
    return limitSettingsFromEnv(env);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/** SOV_APPS_URL_TEMPLATE, else one derived from the public URL (`*.apps.localhost` on loopback). */
function appOrigins(env: NodeJS.ProcessEnv, publicUrl: string): AppOrigins {
  const given = env.SOV_APPS_URL_TEMPLATE?.trim() || undefined;
  const template = given ?? defaultAppsTemplate(publicUrl);
  if (template === undefined) {
    throw new ConfigError(
      `SOV_APPS_URL_TEMPLATE is required: the public URL ${publicUrl} is an IP address, and every interactive app needs a host name of its own (such as https://{run}.apps.eu-1.example.eu)`,
    );
  }
  try {
    return AppOrigins.parse(template);
  } catch (error) {
    throw new ConfigError(
      `SOV_APPS_URL_TEMPLATE "${template}" is not usable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function dashboardUrl(env: NodeJS.ProcessEnv, controlPlaneUrl: string): string {
  const value = (env.SOV_DASHBOARD_URL?.trim() || controlPlaneUrl).replace(/\/+$/, '');
  const url = URL.parse(value);
  if (url === null || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`SOV_DASHBOARD_URL must be an http(s) URL with no query, got "${value}"`);
  }
  return value;
}

/** Reads the data plane's settings from SOV_* environment variables. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): DataPlaneConfig {
  const host = env.SOV_HOST ?? '127.0.0.1';
  const port = int(env, 'SOV_DATA_PLANE_PORT', int(env, 'SOV_PORT', 8081));
  const clientId = required(env, 'SOV_CLIENT_ID');
  const storage = storageConfigFromEnv(env);
  const { dataDir } = storage;
  const skew = int(env, 'SOV_TOKEN_CLOCK_SKEW_SECONDS', tokenClockSkewSeconds);
  if (skew > tokenClockSkewSeconds) {
    throw new ConfigError(`SOV_TOKEN_CLOCK_SKEW_SECONDS is at most ${tokenClockSkewSeconds}`);
  }
  const sessionSeconds = int(env, 'SOV_INTERACTIVE_SESSION_SECONDS', 3600);
  if (sessionSeconds < 60 || sessionSeconds > interactiveSessionMaxSeconds) {
    throw new ConfigError(`SOV_INTERACTIVE_SESSION_SECONDS must be from 60 to ${interactiveSessionMaxSeconds}`);
  }
  const staleSeconds = int(env, 'SOV_INSTANCE_STALE_SECONDS', 30);
  // Three missed notes at least: a busy instance must never be taken for a dead one.
  if (staleSeconds < 15) throw new ConfigError('SOV_INSTANCE_STALE_SECONDS must be at least 15');
  const startTimeout = int(env, 'SOV_INTERACTIVE_START_TIMEOUT_SECONDS', 120);
  if (startTimeout < 1) throw new ConfigError('SOV_INTERACTIVE_START_TIMEOUT_SECONDS must be at least 1');
  const controlPlaneUrl = required(env, 'SOV_CONTROL_PLANE_URL').replace(/\/+$/, '');
  if (!/^https?:$/.test(URL.parse(controlPlaneUrl)?.protocol ?? '')) {
    throw new ConfigError(`SOV_CONTROL_PLANE_URL must be an http(s) URL, got "${controlPlaneUrl}"`);
  }
  const publicUrl = (env.SOV_PUBLIC_URL ?? `http://${host}:${port}`).replace(/\/+$/, '');
  // The control plane would refuse it at every call: better said once, at start.
  if (!new RegExp(publicUrlPattern).test(publicUrl) || URL.parse(publicUrl) === null) {
    throw new ConfigError(
      `SOV_PUBLIC_URL must be an http(s) URL without user info, query or fragment, got "${publicUrl}"`,
    );
  }
  return {
    host,
    port,
    publicUrl,
    controlPlaneUrl,
    dashboardOrigins: dashboardOrigins(env, controlPlaneUrl),
    apps: appOrigins(env, publicUrl),
    dashboardUrl: dashboardUrl(env, controlPlaneUrl),
    clientId,
    clientSecret: required(env, 'SOV_CLIENT_SECRET'),
    ...storage,
    artifactsDir: env.SOV_ARTIFACTS_DIR || join(dataDir, 'artifacts'),
    workDir: env.SOV_WORK_DIR || join(dataDir, 'work'),
    deploymentCacheBytes: int(env, 'SOV_DEPLOYMENT_CACHE_BYTES', 1024 * 1024 * 1024),
    killGraceSeconds: int(env, 'SOV_KILL_GRACE_SECONDS', 10),
    instanceStaleSeconds: staleSeconds,
    maxBundleBytes: int(env, 'SOV_MAX_BUNDLE_BYTES', 512 * 1024 * 1024),
    maxBundleEntries: int(env, 'SOV_MAX_BUNDLE_ENTRIES', 100_000),
    maxUnpackedBytes: int(env, 'SOV_MAX_UNPACKED_BYTES', 4 * 1024 * 1024 * 1024),
    capacity: int(env, 'SOV_CAPACITY', availableParallelism()),
    interactiveCapacity: int(env, 'SOV_INTERACTIVE_CAPACITY', 16),
    interactiveStartTimeoutSeconds: startTimeout,
    interactiveSessionSeconds: sessionSeconds,
    tokenSkewSeconds: skew,
    logLevel: env.SOV_LOG_LEVEL === 'silent' ? false : (env.SOV_LOG_LEVEL ?? 'info'),
    version: '0.1.0',
    sandbox: sandboxSettings(env, storage.dev),
    runLimits: runLimits(env),
  };
}
