import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { interactiveSessionMaxSeconds, publicUrlPattern, tokenClockSkewSeconds } from '@sovereign/contract';
import {
  type Environment,
  Flag,
  LogLevel,
  logLevelOf,
  Port,
  type Problems,
  readEnvironment,
  Secret,
  Text,
  WholeNumber,
} from '@sovereign/server-kit/config';
import type { DatabaseOptions } from '@sovereign/server-kit/sql';
import { type Static, Type } from 'typebox';
import { defaultDashboardOrigins, normalizeOrigin } from './http/cors.ts';
import { AppOrigins, defaultAppsTemplate } from './interactive/origins.ts';
import { type LimitSettings, limitSettingsFromEnv } from './launch/limits.ts';
import type { S3Settings } from './storage/s3.ts';
import { objectStorageFrom, objectStorageVariables } from './storage/settings.ts';

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
  /** Bundles, outputs and archived logs on the local filesystem; unused with object storage (uploads are staged under dataDir/staging). */
  artifactsDir: string;
  /**
   * The region's bucket (SOV_STORAGE_URL): bundles, outputs, environments and archived logs go
   * there, and nothing an instance keeps on its disk is needed by another. Unset: the local filesystem.
   */
  objectStorage: S3Settings | undefined;
  /**
   * When runs' log lines leave the database for the artifact store: this long after a run
   * ended, or once a run's lines still in the database pass `bytes` (each archived object
   * holds about that much text).
   */
  logArchive: { afterSeconds: number; bytes: number };
  /** Working copies of bundles for runs, one directory per run, removed after it. */
  workDir: string;
  /** Unpacked deployments kept under workDir for fast working copies, in bytes (0: none kept). */
  deploymentCacheBytes: number;
  /** Between SIGTERM and SIGKILL when a run is stopped. */
  killGraceSeconds: number;
  /** Where environments are built from (the region's mirror, a directory of wheels), and how long a build may take. */
  packages: {
    pipIndexUrl?: string;
    pipFindLinks: string[];
    npmRegistry?: string;
    buildTimeoutSeconds: number;
    cacheBytes: number;
  };
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
  /** SOV_HOME when set: the jail hides it from runs, as it may hold other state. */
  homeDir: string | undefined;
  sandbox: SandboxSettings;
  /** What each run may use, unless its job asks otherwise, and the most a job may ask. */
  runLimits: LimitSettings;
}

export { ConfigError } from '@sovereign/server-kit/config';

const clientIdDescription =
  'The client id the control plane gave at POST /dataplanes; its instances share SOV_HOME/dataplanes/<client id>.';

/** Where a data plane keeps its state and the key to its secrets: all a maintenance command reads. */
const storageVariables = {
  // Optional here: a maintenance command given SOV_DATA_DIR needs no client id.
  SOV_CLIENT_ID: Type.Optional(Text({ description: clientIdDescription })),
  SOV_HOME: Type.Optional(Text({ description: 'State directory; .sovereign by default.' })),
  SOV_DATA_DIR: Type.Optional(
    Text({ description: 'This data plane’s own state; SOV_HOME/dataplanes/<client id> by default.' }),
  ),
  SOV_DATABASE_URL: Type.Optional(
    Text({
      description: 'PostgreSQL shared by every instance of this data plane; PGlite under SOV_DATA_DIR if unset.',
    }),
  ),
  SOV_MASTER_KEY: Type.Optional(Secret({ description: '32 bytes (base64 or hex) that wrap every secret’s data key.' })),
  SOV_MASTER_KEY_FILE: Type.Optional(Text({ description: 'Or a file holding them, mode 0600, owned by its user.' })),
  SOV_DEV: Flag({
    description: 'true: a master key is made under SOV_DATA_DIR when none is given; jails are automatic.',
  }),
};

export const DataPlaneStorageEnv = Type.Object(storageVariables);

/** A run limit's variable: a size, CPUs or a count, as `limits.ts` reads it. */
function runLimit(description: string) {
  return Type.Optional(Text({ description, maxLength: 100 }));
}

/**
 * Every SOV_* variable the data plane reads, with its default and limits: the one place
 * they are written. What depends on several of them (URLs, the jail) is judged in
 * `configFromEnv`, and reported with the rest.
 */
export const DataPlaneEnv = Type.Object({
  ...storageVariables,
  SOV_CLIENT_ID: Text({ description: clientIdDescription }),
  SOV_CLIENT_SECRET: Secret({ description: 'The client secret the control plane gave with the id.' }),
  SOV_CONTROL_PLANE_URL: Text({ description: 'The control plane (outbound calls only).' }),
  SOV_HOST: Text({ default: '127.0.0.1', description: 'Address to listen on.' }),
  SOV_PORT: Port({ default: 8081, description: 'Port to listen on.' }),
  SOV_DATA_PLANE_PORT: Type.Optional(Port({ description: 'Port to listen on, over SOV_PORT when both are set.' })),
  SOV_PUBLIC_URL: Type.Optional(
    Text({ description: 'Where clients reach this data plane; http://SOV_HOST:SOV_PORT by default.' }),
  ),
  SOV_DASHBOARD_ORIGINS: Type.Optional(
    Text({
      description: 'Browser origins allowed to call the API (CORS), comma-separated; the control plane’s by default.',
    }),
  ),
  SOV_APPS_URL_TEMPLATE: Type.Optional(
    Text({ description: 'Each interactive run’s own origin, {run} in its host; beside the public URL by default.' }),
  ),
  SOV_DASHBOARD_URL: Type.Optional(
    Text({ description: 'Where a browser without a session for an app is sent; SOV_CONTROL_PLANE_URL by default.' }),
  ),
  SOV_ARTIFACTS_DIR: Type.Optional(Text({ description: 'Bundles and outputs; SOV_DATA_DIR/artifacts by default.' })),
  ...objectStorageVariables,
  SOV_LOG_ARCHIVE_AFTER_SECONDS: WholeNumber({
    default: 60,
    description:
      'A run’s log lines move from the database to the artifact store (the bucket, or SOV_ARTIFACTS_DIR) this long after it ended.',
  }),
  SOV_LOG_ARCHIVE_BYTES: WholeNumber({
    default: 8 * 1024 ** 2,
    minimum: 1024,
    description:
      'A running run’s log text in the database past this is archived without waiting for its end; each archived object holds about this much.',
  }),
  SOV_WORK_DIR: Type.Optional(Text({ description: 'Runs’ working copies; SOV_DATA_DIR/work by default.' })),
  SOV_DEPLOYMENT_CACHE_BYTES: WholeNumber({
    default: 1024 ** 3,
    description: 'Unpacked deployments kept under SOV_WORK_DIR, copied for each run (0: none kept).',
  }),
  SOV_KILL_GRACE_SECONDS: WholeNumber({
    default: 10,
    description: 'Between SIGTERM and SIGKILL when a run is stopped.',
  }),
  SOV_PIP_INDEX_URL: Type.Optional(
    Text({
      description: 'The package index Python environments are built from: the region’s mirror (pip’s --index-url).',
    }),
  ),
  SOV_PIP_FIND_LINKS: Type.Optional(
    Text({
      description: 'Directories of wheels Python environments are built from, colon-separated (pip’s --find-links).',
    }),
  ),
  SOV_NPM_REGISTRY: Type.Optional(
    Text({ description: 'The npm registry Node environments are built from: the region’s mirror.' }),
  ),
  SOV_BUILD_TIMEOUT_SECONDS: WholeNumber({
    default: 900,
    minimum: 1,
    description: 'How long an environment’s build may take before the deployment is refused.',
  }),
  SOV_ENVIRONMENT_CACHE_BYTES: WholeNumber({
    default: 10 * 1024 ** 3,
    description:
      'Disk the built environments may take; past it the least recently used are removed (built again when needed).',
  }),
  SOV_INSTANCE_STALE_SECONDS: WholeNumber({
    default: 30,
    // Three missed notes at least: a busy instance must never be taken for a dead one.
    minimum: 15,
    description: 'An instance unseen this long is gone: its runs end as abandoned, its files go.',
  }),
  SOV_MAX_BUNDLE_BYTES: WholeNumber({ default: 512 * 1024 ** 2, description: 'Largest deployment accepted.' }),
  SOV_MAX_BUNDLE_ENTRIES: WholeNumber({ default: 100_000, description: 'Most files and directories in a deployment.' }),
  SOV_MAX_UNPACKED_BYTES: WholeNumber({
    default: 4 * 1024 ** 3,
    description: 'Largest a deployment may be once unpacked.',
  }),
  SOV_CAPACITY: WholeNumber({
    default: availableParallelism(),
    description: 'Batch runs at once on this instance; the number of CPUs by default.',
  }),
  SOV_INTERACTIVE_CAPACITY: WholeNumber({
    default: 16,
    description: 'Interactive runs at once on this instance, counted apart from batch runs.',
  }),
  SOV_INTERACTIVE_START_TIMEOUT_SECONDS: WholeNumber({
    default: 120,
    minimum: 1,
    description: 'How long an interactive job’s port may take to answer.',
  }),
  SOV_INTERACTIVE_SESSION_SECONDS: WholeNumber({
    default: 3600,
    minimum: 60,
    maximum: interactiveSessionMaxSeconds,
    description: 'Life of the browser session cookie for an interactive run.',
  }),
  SOV_TOKEN_CLOCK_SKEW_SECONDS: WholeNumber({
    default: tokenClockSkewSeconds,
    maximum: tokenClockSkewSeconds,
    description: 'Clock skew tolerated on token times; at most the contract’s.',
  }),
  SOV_LOG_LEVEL: LogLevel({ description: 'pino level, or silent.' }),
  SOV_SANDBOX: Type.Optional(
    Type.Union([Type.Literal('on'), Type.Literal('auto'), Type.Literal('off')], {
      description: 'on: every run jailed, refuse to start otherwise; off: no jail, on purpose; auto: development only.',
      expected: 'on, off, or auto (development only)',
    }),
  ),
  SOV_SANDBOX_UIDS: Text({
    default: '1500000000-1500999999',
    pattern: '^\\d{1,10}-\\d{1,10}$',
    description: 'Host user ids given to runs, one per run.',
    expected: 'a range of user ids from 1000, such as 1500000000-1500999999',
  }),
  SOV_SANDBOX_READ_ONLY_PATHS: Type.Optional(
    Text({ description: 'Host directories a job sees read-only besides the system’s, colon-separated.' }),
  ),
  SOV_SANDBOX_POOL: WholeNumber({ default: 2, description: 'Jails kept started in advance.' }),
  SOV_SANDBOX_DIR: Text({
    default: '/var/lib/sovereign/runs',
    pattern: '^/',
    description: 'Where runs’ directories are made; every directory above it must be o+x.',
    expected: 'an absolute path',
  }),
  SOV_RUN_MEMORY: runLimit('Memory a run gets unless its job asks (512m, 2g).'),
  SOV_RUN_MEMORY_MAX: runLimit('The most memory a job may ask for.'),
  SOV_RUN_CPUS: runLimit('CPUs a run gets unless its job asks (0.5, 2).'),
  SOV_RUN_CPUS_MAX: runLimit('The most CPUs a job may ask for.'),
  SOV_RUN_PIDS: runLimit('Processes and threads a run may have at once, unless its job asks.'),
  SOV_RUN_PIDS_MAX: runLimit('The most processes a job may ask for.'),
  SOV_RUN_TMP: runLimit('The size of a run’s /tmp, unless its job asks.'),
  SOV_RUN_TMP_MAX: runLimit('The largest /tmp a job may ask for.'),
  SOV_RUN_LOG_BYTES: runLimit('Log bytes a run may write before it is stopped, unless its job asks.'),
  SOV_RUN_LOG_BYTES_MAX: runLimit('The most log bytes a job may ask for.'),
  SOV_RUN_OUTPUT_BYTES: runLimit('Bytes of outputs a run may leave before it is stopped, unless its job asks.'),
  SOV_RUN_OUTPUT_BYTES_MAX: runLimit('The most output bytes a job may ask for.'),
});

/** Where a data plane keeps its state, and the key to its secrets: all a maintenance command needs. */
export type StorageConfig = Pick<DataPlaneConfig, 'dataDir' | 'database' | 'masterKey' | 'dev'>;

function storageFrom(v: Static<typeof DataPlaneStorageEnv>, problems: Problems): StorageConfig {
  // Instances started with one data plane's credentials share its directory: its storage.
  let dataDir = v.SOV_DATA_DIR;
  if (dataDir === undefined) {
    if (v.SOV_CLIENT_ID === undefined || v.SOV_CLIENT_ID === '')
      problems.add('SOV_CLIENT_ID', 'SOV_CLIENT_ID is required');
    dataDir = join(v.SOV_HOME ?? '.sovereign', 'dataplanes', v.SOV_CLIENT_ID ?? '');
  }
  // Absolute from the start: a run works in a directory of its own, where a relative
  // path (of its state file, its outputs) would point somewhere else.
  dataDir = resolve(dataDir);
  return {
    dataDir,
    database: { url: v.SOV_DATABASE_URL, dataDir: join(dataDir, 'db') },
    masterKey: { key: v.SOV_MASTER_KEY, file: v.SOV_MASTER_KEY_FILE && resolve(v.SOV_MASTER_KEY_FILE) },
    dev: v.SOV_DEV,
  };
}

export function storageConfigFromEnv(env: Environment = process.env): StorageConfig {
  return readEnvironment(DataPlaneStorageEnv, env, storageFrom);
}

type DataPlaneEnv = Static<typeof DataPlaneEnv>;

/** SOV_DASHBOARD_ORIGINS (comma-separated origins), else the control plane's origin. */
function dashboardOrigins(v: DataPlaneEnv, controlPlaneUrl: string, problems: Problems): string[] {
  const raw = v.SOV_DASHBOARD_ORIGINS;
  if (raw === undefined || raw.trim() === '') {
    return problems.has('SOV_CONTROL_PLANE_URL') ? [] : defaultDashboardOrigins(controlPlaneUrl);
  }
  const origins: string[] = [];
  for (const item of raw.split(',').map((each) => each.trim())) {
    if (item === '') continue;
    const origin = normalizeOrigin(item);
    if (origin === undefined) {
      problems.add(
        'SOV_DASHBOARD_ORIGINS',
        `SOV_DASHBOARD_ORIGINS holds "${item}", which is not an origin (scheme://host[:port], no path)`,
      );
    } else {
      origins.push(origin);
    }
  }
  return origins;
}

function sandboxSettings(v: DataPlaneEnv, problems: Problems): SandboxSettings {
  const mode = v.SOV_SANDBOX ?? (v.SOV_DEV ? 'auto' : 'on');
  if (mode === 'auto' && !v.SOV_DEV) {
    problems.add(
      'SOV_SANDBOX',
      'SOV_SANDBOX=auto is for development (SOV_DEV=true): in production a run is jailed, or not on purpose (off)',
    );
  }
  const [first, last] = v.SOV_SANDBOX_UIDS.split('-').map(Number) as [number, number];
  if (!problems.has('SOV_SANDBOX_UIDS') && (first < 1000 || last < first || last >= 2 ** 32 - 1)) {
    problems.add(
      'SOV_SANDBOX_UIDS',
      `SOV_SANDBOX_UIDS must be a range of user ids from 1000, such as 1500000000-1500999999, got "${v.SOV_SANDBOX_UIDS}"`,
    );
  }
  const readOnlyPaths = (v.SOV_SANDBOX_READ_ONLY_PATHS ?? '').split(':').filter((p) => p !== '');
  for (const path of readOnlyPaths) {
    if (!path.startsWith('/') || path.split('/').includes('..')) {
      problems.add(
        'SOV_SANDBOX_READ_ONLY_PATHS',
        `SOV_SANDBOX_READ_ONLY_PATHS holds "${path}", which is not an absolute path`,
      );
    }
  }
  return {
    mode,
    uids: { first, count: last - first + 1 },
    readOnlyPaths,
    pool: v.SOV_SANDBOX_POOL,
    dir: v.SOV_SANDBOX_DIR,
  };
}

/** SOV_APPS_URL_TEMPLATE, else one derived from the public URL (`*.apps.localhost` on loopback). */
function appOrigins(v: DataPlaneEnv, publicUrl: string, problems: Problems): AppOrigins | undefined {
  const template = v.SOV_APPS_URL_TEMPLATE?.trim() || defaultAppsTemplate(publicUrl);
  if (template === undefined) {
    problems.add(
      'SOV_APPS_URL_TEMPLATE',
      `SOV_APPS_URL_TEMPLATE is required: the public URL ${publicUrl} is an IP address, and every interactive app needs a host name of its own (such as https://{run}.apps.eu-1.example.eu)`,
    );
    return undefined;
  }
  try {
    return AppOrigins.parse(template);
  } catch (error) {
    problems.add(
      'SOV_APPS_URL_TEMPLATE',
      `SOV_APPS_URL_TEMPLATE "${template}" is not usable: ${error instanceof Error ? error.message : String(error)}`,
    );
    return undefined;
  }
}

function dashboardUrl(v: DataPlaneEnv, controlPlaneUrl: string, problems: Problems): string {
  const given = v.SOV_DASHBOARD_URL?.trim() || undefined;
  const value = (given ?? controlPlaneUrl).replace(/\/+$/, '');
  // Unset, it is the control plane's URL: refused already if it is wrong.
  if (given === undefined && problems.has('SOV_CONTROL_PLANE_URL')) return value;
  const url = URL.parse(value);
  if (url === null || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
    problems.add('SOV_DASHBOARD_URL', `SOV_DASHBOARD_URL must be an http(s) URL with no query, got "${value}"`);
  }
  return value;
}

/** Reads the data plane's settings from SOV_* environment variables. */
export function configFromEnv(env: Environment = process.env): DataPlaneConfig {
  return readEnvironment(DataPlaneEnv, env, (v, problems) => {
    const port = v.SOV_DATA_PLANE_PORT ?? v.SOV_PORT;
    const storage = storageFrom(v, problems);
    const controlPlaneUrl = v.SOV_CONTROL_PLANE_URL.replace(/\/+$/, '');
    if (!problems.has('SOV_CONTROL_PLANE_URL') && !/^https?:$/.test(URL.parse(controlPlaneUrl)?.protocol ?? '')) {
      problems.add('SOV_CONTROL_PLANE_URL', `SOV_CONTROL_PLANE_URL must be an http(s) URL, got "${controlPlaneUrl}"`);
    }
    const publicUrl = (v.SOV_PUBLIC_URL ?? `http://${v.SOV_HOST}:${port}`).replace(/\/+$/, '');
    // The control plane would refuse it at every call: better said once, at start.
    if (!new RegExp(publicUrlPattern).test(publicUrl) || URL.parse(publicUrl) === null) {
      problems.add(
        'SOV_PUBLIC_URL',
        `SOV_PUBLIC_URL must be an http(s) URL without user info, query or fragment, got "${publicUrl}"`,
      );
    }
    const apps = appOrigins(v, publicUrl, problems);
    const config: Omit<DataPlaneConfig, 'apps'> = {
      host: v.SOV_HOST,
      port,
      publicUrl,
      controlPlaneUrl,
      dashboardOrigins: dashboardOrigins(v, controlPlaneUrl, problems),
      dashboardUrl: dashboardUrl(v, controlPlaneUrl, problems),
      clientId: v.SOV_CLIENT_ID,
      clientSecret: v.SOV_CLIENT_SECRET,
      ...storage,
      artifactsDir: resolve(v.SOV_ARTIFACTS_DIR ?? join(storage.dataDir, 'artifacts')),
      objectStorage: objectStorageFrom(v, env, problems),
      logArchive: { afterSeconds: v.SOV_LOG_ARCHIVE_AFTER_SECONDS, bytes: v.SOV_LOG_ARCHIVE_BYTES },
      workDir: resolve(v.SOV_WORK_DIR ?? join(storage.dataDir, 'work')),
      deploymentCacheBytes: v.SOV_DEPLOYMENT_CACHE_BYTES,
      killGraceSeconds: v.SOV_KILL_GRACE_SECONDS,
      packages: {
        ...(v.SOV_PIP_INDEX_URL === undefined ? {} : { pipIndexUrl: v.SOV_PIP_INDEX_URL }),
        pipFindLinks: (v.SOV_PIP_FIND_LINKS ?? '')
          .split(':')
          .filter((p) => p !== '')
          .map((p) => resolve(p)),
        ...(v.SOV_NPM_REGISTRY === undefined ? {} : { npmRegistry: v.SOV_NPM_REGISTRY }),
        buildTimeoutSeconds: v.SOV_BUILD_TIMEOUT_SECONDS,
        cacheBytes: v.SOV_ENVIRONMENT_CACHE_BYTES,
      },
      instanceStaleSeconds: v.SOV_INSTANCE_STALE_SECONDS,
      maxBundleBytes: v.SOV_MAX_BUNDLE_BYTES,
      maxBundleEntries: v.SOV_MAX_BUNDLE_ENTRIES,
      maxUnpackedBytes: v.SOV_MAX_UNPACKED_BYTES,
      capacity: v.SOV_CAPACITY,
      interactiveCapacity: v.SOV_INTERACTIVE_CAPACITY,
      interactiveStartTimeoutSeconds: v.SOV_INTERACTIVE_START_TIMEOUT_SECONDS,
      interactiveSessionSeconds: v.SOV_INTERACTIVE_SESSION_SECONDS,
      tokenSkewSeconds: v.SOV_TOKEN_CLOCK_SKEW_SECONDS,
      logLevel: logLevelOf(v.SOV_LOG_LEVEL),
      homeDir: v.SOV_HOME && resolve(v.SOV_HOME),
      sandbox: sandboxSettings(v, problems),
      runLimits: limitSettingsFromEnv(v, problems),
    };
    // Undefined only when refused, and then readEnvironment throws with the reason.
    return { ...config, apps: apps as AppOrigins };
  });
}
