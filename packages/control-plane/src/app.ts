import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import { type App, createHttpServer, refuseUnstorableText } from '@sovereign/server-kit/http';
import { type Database, migrate, openDatabase } from '@sovereign/server-kit/sql';
import manifest from '../package.json' with { type: 'json' };
import { RateLimiter } from './auth/rate-limit.ts';
import { type BootstrapResult, bootstrap } from './bootstrap.ts';
import type { ControlPlaneConfig } from './config.ts';
import type { Deps } from './context.ts';
import { DashboardFiles } from './dashboard/serve.ts';
import { dataplaneApiRoutes } from './dataplane-api/routes.ts';
import { LeaseExpiry } from './leases/expiry.ts';
import { LockKeys } from './locks.ts';
import { publicApi, publicApiPrefix } from './public-api.ts';
import { Dispatcher } from './runs/dispatcher.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { SigningKeys } from './signing/keys.ts';
import { loadMasterKeyring } from './signing/master-keys.ts';

/** The package's version, as package.json says: written once. */
export const version: string = manifest.version;
const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

/** Brings the control plane's database to the current schema (maintenance commands too). */
export function migrateControlPlane(db: Database): Promise<string[]> {
  return migrate(db, migrationsDir, LockKeys.migrations);
}

export interface ControlPlane {
  app: App;
  deps: Deps;
  scheduler: Scheduler;
  bootstrap: BootstrapResult;
  close(): Promise<void>;
}

export interface BuildOptions {
  /** A clock other than the wall clock (tests of health and expiry). */
  now?: () => Date;
  /** Run the scheduler loop (default true); tests may tick it by hand instead. */
  scheduler?: boolean;
  /** Use this database instead of opening one from the config. */
  db?: Database;
}

/** Reads the master key, opens the database, migrates it, and assembles the control plane's HTTP server. */
export async function buildControlPlane(config: ControlPlaneConfig, options: BuildOptions = {}): Promise<ControlPlane> {
  // Refuse to start without a usable master key before touching anything else.
  const ring = await loadMasterKeyring(config);
  const db = options.db ?? (await openDatabase(config.database));
  try {
    await migrateControlPlane(db);
    const keys = new SigningKeys(db, ring);
    // A master key that does not open every private key stops the start here: no token is ever signed.
    const sealing = await keys.open();
    const dashboard = new DashboardFiles(config.dashboardDir);
    const app = createHttpServer({
      service: 'control-plane',
      logger:
        config.logLevel === false
          ? false
          : {
              level: config.logLevel,
              base: { service: 'control-plane' },
              redact: ['req.headers.authorization', 'req.headers.cookie'],
            },
      bodyLimit: config.bodyLimit,
      ready: async () => {
        await db.query('SELECT 1');
        return true;
      },
      // The dashboard answers what no route matched: it never shadows the API.
      notFound: dashboard.answer,
    });
    // Every table keeps text in PostgreSQL, which cannot hold U+0000 or lone surrogates: refuse them at the door.
    refuseUnstorableText(app);
    // Ids and counts only: a key never reaches a log.
    app.log.info(
      {
        masterKeySource: ring.current.source,
        previousMasterKeyIds: ring.previous.map((key) => key.keyId),
        ...sealing,
      },
      'private signing keys sealed under the master key',
    );
    if (sealing.sealedPlaintext > 0) {
      // Sealing the rows does not reach copies made before: backups, old pages and WAL of the database.
      app.log.warn(
        { sealedPlaintext: sealing.sealedPlaintext },
        'private signing keys were stored in plaintext until this start and may remain in backups: rotate the signing keys, then retire the old ones once their tokens have expired',
      );
    }
    if (ring.previous.length > 0 && sealing.resealed === 0) {
      app.log.info('no private key is sealed under SOV_PREVIOUS_MASTER_KEY any more: it can be removed');
    }
    const dispatcher = new Dispatcher(db);
    await dispatcher.start();
    const now = options.now ?? (() => new Date());
    const limiter = new RateLimiter({
      windowSeconds: config.rateLimits.windowSeconds,
      now: () => now().getTime(),
    });
    const deps: Deps = { db, config, keys, dispatcher, now, limiter, log: app.log };
    const scheduler = new Scheduler({
      db,
      dispatcher,
      log: app.log,
      now,
      tickMs: config.schedulerTickMs,
      leases: new LeaseExpiry({
        now,
        leaseSeconds: config.runLeaseSeconds,
        heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
      }),
    });
    const boot = await bootstrap(deps);

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Sovereign control plane',
          version,
          description:
            'Users, organizations, regions, data planes, workspaces and scoped tokens. Regions and data planes follow the shapes of Airbyte’s public API. The control plane never stores or relays customer payload: that goes to the data plane, with a scoped token.',
        },
        servers: [{ url: config.publicUrl }],
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['Tokens'],
          summary: 'Public keys that verify every token this control plane signs',
          security: [],
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=60');
        return deps.keys.jwks();
      },
    );
    await app.register(async (scope) => publicApi(scope as App, deps), { prefix: publicApiPrefix });
    await app.register(async (scope) => dataplaneApiRoutes(scope as App, deps));
    app.get(`${publicApiPrefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
    await dashboard.register(app);
    await app.ready();
    if (options.scheduler !== false) scheduler.start();
    return {
      app,
      deps,
      scheduler,
      bootstrap: boot,
      async close() {
        await scheduler.stop();
        await app.close();
        await dispatcher.stop();
        if (options.db === undefined) await db.close();
      },
    };
  } catch (error) {
    if (options.db === undefined) await db.close().catch(() => {});
    throw error;
  }
}
