import { stopOnSignals } from '@sovereign/contract';
import { buildDataPlane } from './app.ts';
import { ConfigError, configFromEnv, storageConfigFromEnv } from './config.ts';
import { SandboxUnavailableError } from './launch/index.ts';
import { masterKeyCommand } from './variables/master-key-command.ts';

/** What a stop may take beyond its runs' grace: closing the server, the outbox, the database. */
const stopMarginMs = 15_000;

/**
 * `sov-data-plane` serves a data plane, configured by SOV_* variables: the control
 * plane URL, its client credentials, its public URL, its storage and master key.
 * `sov-data-plane master-key id|rotate` works on its storage directly.
 */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'master-key') {
    return masterKeyCommand(argv[1], storageConfigFromEnv(), process.env, (line) => console.log(line)).catch(
      (error: unknown) => {
        console.error(`master-key: ${error instanceof Error ? error.message : String(error)}`);
        return 1;
      },
    );
  }
  const config = configFromEnv();
  const plane = await buildDataPlane(config);
  const address = await plane.app.listen({ host: config.host, port: config.port });
  plane.app.log.info(
    { address, publicUrl: config.publicUrl, controlPlane: config.controlPlaneUrl, driver: plane.db.driver },
    'data plane listening',
  );
  await plane.start();
  stopOnSignals(
    async (signal) => {
      plane.app.log.info({ signal }, 'data plane stopping');
      await plane.close();
      process.exit(0);
    },
    // Its runs get their grace between SIGTERM and SIGKILL; the rest closes in seconds.
    { deadlineMs: config.killGraceSeconds * 1000 + stopMarginMs },
  );
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    // Every wrong variable at once, a line each.
    if (error instanceof ConfigError) for (const problem of error.problems) console.error(`configuration: ${problem}`);
    else if (error instanceof SandboxUnavailableError) console.error(`data plane refuses to start: ${error.message}`);
    else console.error('data plane failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
