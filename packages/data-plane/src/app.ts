import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import { type App, createHttpServer, refuseUnstorableText } from '@sovereign/server-kit/http';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { Gauge } from 'prom-client';
import manifest from '../package.json' with { type: 'json' };
import { Agent } from './agent/agent.ts';
import { ControlPlaneClient } from './agent/control-plane-client.ts';
import { RevocationFollower } from './agent/revocation-follower.ts';
import { installScopedAuth } from './auth/scoped.ts';
import { TokenVerifier } from './auth/verify-token.ts';
import type { DataPlaneConfig } from './config.ts';
import { Deployments } from './deployments/index.ts';
import { deploymentReportKind } from './deployments/report.ts';
import { deploymentRoutes } from './deployments/routes.ts';
import { EnvironmentArchive } from './environments/archive.ts';
import { Environments } from './environments/builder.ts';
import { definingFilesOf } from './environments/bundle-files.ts';
import { Executor } from './executor/executor.ts';
import { cacheDirName, WorkingCopies } from './executor/working-copies.ts';
import { Janitor } from './files/janitor.ts';
import { installCors } from './http/cors.ts';
import { InteractiveGateway } from './interactive/gateway.ts';
import { AppLaunches } from './interactive/launch.ts';
import { requestLogSerializer } from './interactive/log.ts';
import { appLaunchRoutes, installAppOrigins, interactiveRedirects } from './interactive/routes.ts';
import { cookieNames, SessionSigner } from './interactive/session.ts';
import { makeLauncher } from './launch/index.ts';
import { hiddenName } from './launch/jail/launcher.ts';
import { Spawner } from './launch/spawner.ts';
import { LogArchiver } from './logs/archive.ts';
import { LogStore } from './logs/store.ts';
import { movedOutputRoutes } from './moved-outputs/routes.ts';
import { OutboxDeliverer } from './outbox/outbox.ts';
import { parameterRoutes } from './parameters/routes.ts';
import { runRoutes } from './runs/routes.ts';
import { runEventKind } from './runs/store.ts';
import { stateRoutes } from './state/routes.ts';
import { migrateDataPlane } from './storage/migrations.ts';
import { openArtifactStore } from './storage/open.ts';
import { loadMasterKey, Variables } from './variables/index.ts';
import { variableRoutes } from './variables/routes.ts';

/** The package's version, as package.json says: written once. */
export const version: string = manifest.version;
export const apiPrefix = '/api/v1';

export interface DataPlane {
  app: App;
  db: Database;
  /** Starts talking to the control plane (initialize, heartbeats, outbox). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Opens storage, checks the master key, and assembles the data plane's HTTP server. */
export async function buildDataPlane(config: DataPlaneConfig, options: { db?: Database } = {}): Promise<DataPlane> {
  // Refuse to start without a usable master key before touching anything else.
  const masterKey = await loadMasterKey({
    key: config.masterKey.key,
    file: config.masterKey.file,
    dev: config.dev,
    devKeyPath: `${config.dataDir}/master.key`,
  });
  const db = options.db ?? (await openDatabase(config.database));
  try {
    await migrateDataPlane(db);
    const variables = await Variables.open(db, masterKey);
    const app = createHttpServer({
      service: 'data-plane',
      logger:
        config.logLevel === false
          ? false
          : {
              level: config.logLevel,
              base: { service: 'data-plane' },
              redact: ['req.headers.authorization', 'req.headers.cookie'],
              // Of an interactive app's URL, only its run in our logs: the rest may carry a token or the app's data.
              serializers: { req: requestLogSerializer },
            },
      ready: async () => {
        await db.query('SELECT 1');
        if (agent.stoppedReason !== undefined) return `credentials refused (${agent.stoppedReason})`;
        if (agent.refusedReason !== undefined) return agent.refusedReason;
        return agent.identity === undefined ? 'not registered with the control plane yet' : true;
      },
      // What runs are started in: a jail, or none (and why), said whether ready or not.
      readyFacts: () => ({ sandbox: launcher.facts }),
    });
    // Variables and state are text and jsonb in PostgreSQL, which cannot hold U+0000 or lone surrogates.
    refuseUnstorableText(app);
    const client = new ControlPlaneClient({
      baseUrl: config.controlPlaneUrl,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
    });
    // This instance's id names its runs' jails and its cache before the agent reports it.
    const instanceId = randomUUID();
    const janitor = new Janitor();
    const spawner = new Spawner(app.log);
    const launcher = await makeLauncher({ config, instanceId, spawner, janitor, log: app.log });
    const agent = new Agent({
      db,
      client,
      clientId: config.clientId,
      instanceId,
      publicUrl: config.publicUrl,
      version,
      capacity: config.capacity,
      sandbox: launcher.facts,
      log: app.log,
    });
    const revocations = new RevocationFollower({ client, agent, log: app.log });
    const outbox = new OutboxDeliverer(db, client, [deploymentReportKind, runEventKind], app.log);
    const store = await openArtifactStore(config);
    const logs = new LogStore(db, store);
    // On every instance: claims keep two from archiving the same run's lines.
    const archiver = new LogArchiver({
      logs,
      artifacts: store,
      afterSeconds: config.logArchive.afterSeconds,
      bytes: config.logArchive.bytes,
      log: app.log,
    });
    // Shared by this data plane's instances and workspaces: an environment is named by what defines it.
    const environments = new Environments({
      root:
        launcher.facts.mode === 'off'
          ? join(config.dataDir, 'environments')
          : join(config.sandbox.dir, 'env', hiddenName(config.clientId)),
      launcher,
      sources: config.packages,
      // A build may use what the most demanding job may ask for: compilers want memory.
      limits: config.runLimits.max,
      timeoutMs: config.packages.buildTimeoutSeconds * 1000,
      killGraceMs: config.killGraceSeconds * 1000,
      budgetBytes: config.packages.cacheBytes,
      // With object storage the cache is filled from the bucket: no instance's disk is needed by another.
      // The filesystem store's instances share the cache's directory already: packing each build would gain nothing.
      archive: config.objectStorage === undefined ? undefined : new EnvironmentArchive(store),
      log: app.log,
    });
    const deployments = new Deployments({
      db,
      store,
      environments,
      sources: config.packages,
      limits: {
        maxBundleBytes: config.maxBundleBytes,
        maxEntries: config.maxBundleEntries,
        maxUnpackedBytes: config.maxUnpackedBytes,
      },
      maxRunLimits: config.runLimits.max,
    });
    const copies = new WorkingCopies({
      deployments,
      root: join(config.workDir, cacheDirName, instanceId),
      budgetBytes: config.deploymentCacheBytes,
      log: app.log,
      chownTree: (path, uid, gid) => janitor.chown(path, uid, gid),
    });
    new Gauge({
      name: 'sovereign_runs_jailed',
      help: 'Whether this instance starts every run in a jail (1) or runs jobs unjailed (0), by sandbox mode.',
      labelNames: ['mode'],
      registers: [app.metrics],
    }).set({ mode: launcher.facts.mode }, launcher.facts.mode === 'off' ? 0 : 1);
    // It listens to the agent (runs to stop, leases to renew) and to the outbox (run events answered).
    const executor = new Executor({
      db,
      agent,
      client,
      copies,
      variables,
      artifacts: store,
      logs,
      outbox,
      launcher,
      environments,
      environmentFiles: async (workspaceId, deploymentId) =>
        definingFilesOf(await deployments.openBundle(workspaceId, deploymentId)),
      janitor,
      runs: {
        capacity: config.capacity,
        interactiveCapacity: config.interactiveCapacity,
        limits: config.runLimits,
        killGraceMs: config.killGraceSeconds * 1000,
        interactiveStartTimeoutMs: config.interactiveStartTimeoutSeconds * 1000,
      },
      instanceStaleSeconds: config.instanceStaleSeconds,
      appUrl: (runId) => config.apps.urlOf(runId, '/'),
      log: app.log,
    });
    const verifier = new TokenVerifier(agent, config.tokenSkewSeconds);
    const gateway = new InteractiveGateway({
      db,
      agent,
      verifier,
      signer: new SessionSigner(masterKey.key),
      cookies: cookieNames(config.apps.secure),
      live: (runId) => executor.interactive(runId),
    });
    const launches = new AppLaunches({
      db,
      gateway,
      origins: config.apps,
      dashboardUrl: config.dashboardUrl,
      sessionSeconds: config.interactiveSessionSeconds,
    });

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Sovereign data plane',
          version,
          description:
            'Everything that carries customer data, in its region: deployments, variables and secrets, runs’ logs, outputs and state, and interactive jobs, each served (every method and WebSocket) on an origin of its own, not under this API. Every call needs a scoped token from the control plane, checked here without calling it.',
        },
        servers: [{ url: config.publicUrl }],
        components: { securitySchemes: { scopedToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ scopedToken: [] }],
      },
    });
    // Before the API's routes, so every one of them (and its refusals) carries the headers.
    installCors(app, { prefix: apiPrefix, origins: config.dashboardOrigins });
    await app.register(
      async (scope) => {
        installScopedAuth(scope, verifier);
        await deploymentRoutes(scope as App, { deployments, outbox, maxBundleBytes: config.maxBundleBytes });
        await variableRoutes(scope as App, { variables });
        await runRoutes(scope as App, { db, logs, artifacts: store, verifier });
        await stateRoutes(scope as App, { db });
        await parameterRoutes(scope as App, { db });
        await movedOutputRoutes(scope as App, {
          db,
          artifacts: store,
          maxFileBytes: config.runLimits.max.outputBytes,
        });
        await appLaunchRoutes(scope as App, { launches });
      },
      { prefix: apiPrefix },
    );
    // The URL the control plane gives for a run, sent on to the app's origin: no token needed.
    await app.register(async (scope) => interactiveRedirects(scope as App, { origins: config.apps }), {
      prefix: apiPrefix,
    });
    // Requests to an app's origin go to its app, before any route of this server is chosen.
    const upgrades = installAppOrigins(app, { gateway, launches, origins: config.apps, log: app.log });
    app.get(`${apiPrefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
    await app.ready();

    return {
      app,
      db,
      async start() {
        await agent.start();
        revocations.start();
        outbox.start();
        executor.start();
        archiver.start();
      },
      async close() {
        upgrades.close();
        await executor.stop();
        await archiver.stop();
        spawner.close();
        await janitor.close();
        agent.stop();
        await revocations.stop();
        await outbox.stop();
        await app.close();
        store.close?.();
        if (options.db === undefined) await db.close();
      },
    };
  } catch (error) {
    if (options.db === undefined) await db.close().catch(() => {});
    throw error;
  }
}
