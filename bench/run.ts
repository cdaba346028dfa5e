/**
 * `npm run bench`: every benchmark on the platform as real processes on loopback, on
 * PGlite and on PostgreSQL, next to its peer measured in the same run on the same
 * machine. Prints a table (ours, the peer's, ours / peer, the goal) and writes the
 * results as JSON under bench/results/.
 *
 *   npm run bench                      everything, full sizes (takes a while)
 *   npm run bench -- --smoke           tiny sizes, PGlite only: proves the benches still run
 *   npm run bench -- --only=dispatch,logs --targets=postgres
 *   npm run bench -- --only=deploy,logs --storage=s3   the data planes on object storage only
 *   npm run bench -- --out=/tmp/results
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type DatabaseTarget, pgliteTarget, postgresTarget } from '@sovereign/server-kit/testing';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { deployBench } from './deploy.ts';
import { dispatchBench } from './dispatch.ts';
import { benchPackages, environmentsBench, makeBenchWheelhouse } from './environments.ts';
import { clockSkewMs } from './lib/clock.ts';
import type { BenchContext } from './lib/context.ts';
import { startPlatform } from './lib/platform.ts';
import { benchPostgres } from './lib/postgres.ts';
import { type Figure, runMeta, type Storage, type Target, table, writeResults } from './lib/report.ts';
import { logsBench } from './logs.ts';
import { scaleBench } from './scale.ts';
import { schedulerBench } from './scheduler.ts';
import { throughputBench } from './throughput.ts';
import { tokensBench } from './tokens.ts';

/** In the order they run: the scheduler bench disables a data plane, scale restarts the control plane. */
const benches: Record<string, (ctx: BenchContext) => Promise<void>> = {
  tokens: tokensBench,
  dispatch: dispatchBench,
  throughput: throughputBench,
  logs: logsBench,
  deploy: deployBench,
  environments: environmentsBench,
  scheduler: schedulerBench,
  scale: scaleBench,
};

/**
 * The benches whose figures depend on where a data plane keeps its files: run again with
 * the data planes on object storage (s3rver on loopback), beside the filesystem.
 */
const storageBenches = new Set(['deploy', 'logs']);

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: process.env.SOV_BENCH_SMOKE === 'true' },
    only: { type: 'string' },
    targets: { type: 'string' },
    storage: { type: 'string', default: 'fs,s3' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
  },
});
const smoke = values.smoke === true;
const only = values.only?.split(',').filter(Boolean) ?? Object.keys(benches);
for (const name of only) if (!(name in benches)) throw new Error(`no bench named ${name}`);
const storages = (values.storage as string).split(',').filter(Boolean) as Storage[];
for (const storage of storages)
  if (storage !== 'fs' && storage !== 's3') throw new Error(`no storage ${storage}: fs or s3`);

const meta = runMeta(smoke ? 'smoke' : 'full');
// The platform passes SOV_TEST_SANDBOX to its data planes as SOV_SANDBOX: a run measured
// with runs not jailed says so, and never reads as the platform's figures.
if (process.env.SOV_TEST_SANDBOX) meta.notes.push(`Data planes ran with SOV_SANDBOX=${process.env.SOV_TEST_SANDBOX}.`);
const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const skew = clockSkewMs();
if (Math.abs(skew) > 5) throw new Error(`this process's clock is ${skew} ms off date(1): stamps cannot be compared`);

// Smoke mode never starts a PostgreSQL of its own: it uses one only when the environment names it.
const postgres = await benchPostgres(!smoke);
if (postgres === undefined) {
  meta.notes.push('No PostgreSQL was available: the platform ran on PGlite only and the peer was not measured.');
  log('no PostgreSQL: PGlite figures only, the peer (graphile-worker) is not measured');
} else {
  meta.postgres = { source: postgres.source, ...postgres.settings };
  log(`PostgreSQL ${postgres.settings.server_version} from ${postgres.source}, fsync=${postgres.settings.fsync}`);
}
const wanted = values.targets?.split(',') ?? (smoke ? ['pglite'] : ['pglite', 'postgres']);
const targets: Array<{ name: Target; target: DatabaseTarget }> = [];
if (wanted.includes('pglite')) targets.push({ name: 'pglite', target: pgliteTarget });
if (wanted.includes('postgres') && postgres !== undefined) {
  targets.push({ name: 'postgres', target: postgresTarget(postgres.url) });
}

// Ctrl-C (or a kill) still stops the services and drops the databases of this run.
let current: { stop(): Promise<void> } | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the platform`);
    void Promise.allSettled([current?.stop(), postgres?.stop()]).finally(() => process.exit(130));
  });
}

const figures: Figure[] = [];
const details: Record<string, unknown> = {};
const peers = new Map<string, Promise<unknown>>();
const failures: string[] = [];
try {
  for (const { name, target } of targets) {
    for (const storage of storages) {
      const here = only.filter((bench) => storage === 'fs' || storageBenches.has(bench));
      if (here.length === 0) continue;
      const where = storage === 's3' ? `${name}, data planes on object storage (s3rver)` : name;
      log(`starting the platform on ${where}`);
      const scratch = await mkdtemp(join(tmpdir(), `sov-bench-${name}-${storage}-`));
      // The environments bench builds from a wheelhouse: the data plane's package source.
      const wheelhouse = here.includes('environments') ? await makeBenchWheelhouse(benchPackages(smoke)) : undefined;
      // One bucket, a prefix per data plane, as two regions' buckets would be on one server.
      let bucket: TestObjectStorage | undefined;
      let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
      try {
        bucket = storage === 's3' ? await startObjectStorage() : undefined;
        platform = await startPlatform(target, {
          ...(wheelhouse === undefined ? {} : { dataplaneEnv: { SOV_PIP_FIND_LINKS: wheelhouse } }),
          ...(bucket === undefined
            ? {}
            : { perDataplaneEnv: { 'us-1': bucket.env('us-1'), 'eu-1': bucket.env('eu-1') } }),
        });
        current = platform;
        const ctx: BenchContext = {
          target: name,
          storage,
          platform,
          smoke,
          scratch,
          postgres,
          peers,
          figures,
          details,
          log,
        };
        for (const bench of here) {
          log(`${bench} [${where}]`);
          const began = performance.now();
          const first = figures.length;
          try {
            await (benches[bench] as (ctx: BenchContext) => Promise<void>)(ctx);
            log(`${bench} [${where}] done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
          } catch (error) {
            // One failed bench does not lose the others' figures; the run still exits non-zero.
            failures.push(`${bench} [${where}]: ${error instanceof Error ? error.message : String(error)}`);
            log(`${bench} [${where}] FAILED: ${error instanceof Error ? error.stack : String(error)}`);
            for (const [plane, dp] of platform.dataplanes) {
              const { exitCode, signalCode } = dp.service.process;
              log(`data plane ${plane} (exit ${exitCode}, signal ${signalCode}) printed (last 3000 characters):`);
              log(dp.service.output().slice(-3000));
            }
            log(`control plane printed (last 3000 characters):\n${platform.controlPlane.output().slice(-3000)}`);
          }
          for (const figure of figures.slice(first)) figure.storage = storage;
        }
      } finally {
        await platform?.stop();
        await bucket?.close();
        await rm(scratch, { recursive: true, force: true });
        if (wheelhouse !== undefined) await rm(wheelhouse, { recursive: true, force: true });
      }
    }
  }
} finally {
  await postgres?.stop();
}

console.log(table(figures));
for (const note of meta.notes) console.log(`\nNote: ${note}`);
meta.notes.push(...failures.map((f) => `FAILED: ${f}`));
const path = await writeResults(values.out as string, meta, figures, details);
console.log(`\nresults: ${path}`);
if (failures.length > 0) {
  console.error(`\n${failures.length} bench(es) failed:\n${failures.join('\n')}`);
  process.exitCode = 1;
}
