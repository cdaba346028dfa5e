import { chmodSync, copyFileSync, existsSync, linkSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SandboxFacts } from '@sovereign/contract';
import type { FastifyBaseLogger } from 'fastify';
import type { DataPlaneConfig } from '../config.ts';
import type { Janitor } from '../files/janitor.ts';
import { hiddenName, JailLauncher } from './jail/launcher.ts';
import { ancestors, jailLayout } from './jail/layout.ts';
import { probeJail, SandboxUnavailableError } from './jail/probe.ts';
import { type Launcher, runsDirName, SandboxFailedError } from './launcher.ts';
import { PlainLauncher } from './plain.ts';
import type { Spawner } from './spawner.ts';

export { SandboxUnavailableError } from './jail/probe.ts';

export interface LauncherContext {
  config: DataPlaneConfig;
  instanceId: string;
  spawner: Spawner;
  janitor: Janitor;
  log: FastifyBaseLogger;
}

/** Whether every user can reach `path` by its name (each directory above it is o+x) and read it. */
function reachable(path: string): boolean {
  return (statSync(path).mode & 0o005) === 0o005 && ancestors(path).every((dir) => (statSync(dir).mode & 0o001) !== 0);
}

/**
 * The data plane's Node, where a run's user can reach it to bind it into its jail: a link
 * under the jails' directory (which every user may traverse, and only root changes), or,
 * across filesystems, Node where it is when every user can reach it there, else a copy.
 *
 * A link first, even where Node is reachable in place: bound from where it is, every
 * jail of this data plane would fail ("Can't find source path", from bwrap) once a
 * directory above it stops being o+x, as a test that opened a checkout's directories
 * for a moment and closed them again did to the data planes started meanwhile.
 */
export function nodeForJails(root: string, node: string = process.execPath): string {
  const target = join(root, 'node');
  const source = statSync(node);
  const present = existsSync(target) ? statSync(target) : undefined;
  if (present?.ino === source.ino || (present?.size === source.size && present.mtimeMs >= source.mtimeMs)) {
    return target;
  }
  // Made under a name of its own, then renamed over: data planes starting together each leave a whole file.
  const fresh = `${target}.${process.pid}`;
  rmSync(fresh, { force: true });
  try {
    linkSync(node, fresh);
  } catch {
    if (reachable(node)) return node;
    copyFileSync(node, fresh);
  }
  chmodSync(fresh, 0o755);
  renameSync(fresh, target);
  return target;
}

/**
 * How this data plane launches runs: in jails (SOV_SANDBOX=on, the default in
 * production; it refuses to start without them), unjailed on purpose (off), or in
 * development (auto) jailed when this machine can, else unjailed with a warning. The
 * choice is logged at every start and is part of the data plane's health.
 */
export async function makeLauncher(ctx: LauncherContext): Promise<Launcher> {
  const { config, instanceId, spawner, janitor, log } = ctx;
  const { sandbox } = config;
  const plain = (reason: string) =>
    new PlainLauncher({
      root: join(config.workDir, runsDirName, instanceId),
      spawner,
      janitor,
      facts: { mode: 'off', reason, limits: config.runLimits } satisfies SandboxFacts,
    });
  if (sandbox.mode === 'off') {
    log.warn(
      { sandbox: 'off' },
      'runs are NOT jailed (SOV_SANDBOX=off): every job runs as this data plane’s user and can read its files, keys and other jobs',
    );
    return plain('SOV_SANDBOX=off');
  }
  const runsRoot = join(sandbox.dir, hiddenName(config.clientId));
  try {
    const probe = probeJail({
      runsDir: join(runsRoot, hiddenName(instanceId)),
      cgroupName: `sovereign-${hiddenName(config.clientId)}`,
    });
    const layout = jailLayout({
      readOnly: sandbox.readOnlyPaths,
      ownPaths: [
        config.dataDir,
        config.artifactsDir,
        config.workDir,
        sandbox.dir,
        ...(config.masterKey.file === undefined ? [] : [config.masterKey.file]),
        ...(config.homeDir === undefined ? [] : [resolve(config.homeDir)]),
      ],
      node: nodeForJails(sandbox.dir),
    });
    const launcher = new JailLauncher({
      instanceId,
      runsRoot,
      // Short, as a socket's path must be: this data plane's own, named by its client id's start.
      socketsRoot: join(sandbox.dir, 's', hiddenName(config.clientId).slice(0, 8)),
      cgroups: probe.cgroups,
      layout,
      tools: probe.tools,
      spawner,
      janitor,
      uids: sandbox.uids,
      pool: sandbox.pool,
      defaults: config.runLimits.defaults,
      facts: { mode: 'bubblewrap', cgroups: probe.cgroups.version, limits: config.runLimits },
      log,
    });
    try {
      await launcher.prepare();
    } catch (error) {
      await launcher.close().catch(() => {});
      throw new SandboxUnavailableError([
        `a working jail: a trial one failed (${error instanceof SandboxFailedError ? error.message : String(error)})`,
      ]);
    }
    log.info(
      { sandbox: 'bubblewrap', cgroups: probe.cgroups.version, pool: sandbox.pool, runsDir: runsRoot },
      'every run is jailed',
    );
    return launcher;
  } catch (error) {
    if (!(error instanceof SandboxUnavailableError) || sandbox.mode === 'on') throw error;
    const reason = `unavailable in development: ${error.missing.join('; ')}`;
    log.warn({ sandbox: 'off', missing: error.missing }, 'runs are NOT jailed: this machine cannot build jails');
    return plain(reason);
  }
}
