import { stopOnSignals } from '@sovereign/contract';
import { openDatabase } from '@sovereign/server-kit/sql';
import { buildControlPlane, migrateControlPlane } from './app.ts';
import { ConfigError, type ControlPlaneConfig, configFromEnv } from './config.ts';
import { SigningKeys } from './signing/keys.ts';
import { masterKeyCommand } from './signing/master-key-command.ts';
import { loadMasterKeyring } from './signing/master-keys.ts';

/**
 * The longest a stop may take: its requests are short (a claim held open ends when its
 * connection is closed), so what is left after this is stuck.
 */
const stopDeadlineMs = 15_000;

/**
 * `sov-control-plane` serves the control plane, configured by SOV_* variables.
 * `sov-control-plane keys list|rotate|retire` manages signing keys directly in its
 * database (for when the API is not reachable, or in a maintenance job), and
 * `sov-control-plane master-key id|rotate` the master key that seals their private halves.
 */
async function main(argv: string[]): Promise<number> {
  const config = configFromEnv();
  if (argv[0] === 'keys') return keysCommand(argv[1], config);
  if (argv[0] === 'master-key') {
    return masterKeyCommand(argv[1], config, process.env, (line) => console.log(line)).catch((error: unknown) => {
      console.error(`master-key: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    });
  }
  const plane = await buildControlPlane(config);
  const address = await plane.app.listen({ host: config.host, port: config.port });
  plane.app.log.info({ address, publicUrl: config.publicUrl, driver: plane.deps.db.driver }, 'control plane listening');
  stopOnSignals(
    async (signal) => {
      plane.app.log.info({ signal }, 'control plane stopping');
      await plane.close();
      process.exit(0);
    },
    { deadlineMs: stopDeadlineMs },
  );
  return -1;
}

async function keysCommand(action: string | undefined, config: ControlPlaneConfig) {
  if (action !== 'list' && action !== 'rotate' && action !== 'retire') {
    console.error('usage: sov-control-plane keys list|rotate|retire');
    return 2;
  }
  // The master key as the control plane reads it: a new key is sealed under it.
  const ring = await loadMasterKeyring(config);
  const db = await openDatabase(config.database);
  try {
    await migrateControlPlane(db);
    const keys = new SigningKeys(db, ring);
    await keys.open();
    if (action === 'rotate') console.log(`active key: ${await keys.rotate()}`);
    if (action === 'retire') console.log(`retired: ${(await keys.retire()).join(', ') || 'none'}`);
    for (const key of await keys.list()) console.log(`${key.kid}\t${key.state}\t${key.createdAt}`);
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    // Every wrong variable at once, a line each.
    if (error instanceof ConfigError) for (const problem of error.problems) console.error(`configuration: ${problem}`);
    else console.error('control plane failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
