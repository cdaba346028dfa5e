import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SandboxFacts } from '@sovereign/contract';
import { removeDeadInstanceDirs } from '../files/instance-dirs.ts';
import type { Janitor } from '../files/janitor.ts';
import { freeLoopbackPort, waitForPort } from '../interactive/port.ts';
import type { LaunchedRun, Launcher, LaunchRequest, RunPaths, RunSlot } from './launcher.ts';
import { RunProcess, signalGroup } from './run-process.ts';
import type { Spawner } from './spawner.ts';

export interface PlainLauncherOptions {
  /** This instance's run directories, one per run named by its id, in a directory named by the instance's id. */
  root: string;
  spawner: Spawner;
  janitor: Janitor;
  facts: SandboxFacts;
}

/** The places of a run under `home`, the same for the data plane and the job. */
export function runPaths(home: string): RunPaths {
  return {
    home,
    app: join(home, 'app'),
    outputs: join(home, 'outputs'),
    stateFile: join(home, 'state.json'),
    paramsFile: join(home, 'params.json'),
  };
}

/**
 * Runs jobs with no jail (SOV_SANDBOX=off): as the data plane's own user, on its
 * filesystem and network, each in its own process group. Only for a machine whose jobs
 * all trust each other; the data plane says so at every start and in its health.
 */
export class PlainLauncher implements Launcher {
  readonly facts: SandboxFacts;
  readonly #o: PlainLauncherOptions;

  constructor(options: PlainLauncherOptions) {
    this.#o = options;
    this.facts = options.facts;
  }

  /** Unjailed, a run sees this machine's directories where they are. */
  mountPoint(hostPath: string): string {
    return hostPath;
  }

  async acquire(request: LaunchRequest): Promise<RunSlot> {
    const paths = runPaths(join(this.#o.root, request.runId));
    // Synchronous: an asynchronous call costs a thread pool round trip on the start path of every run.
    mkdirSync(paths.outputs, { recursive: true, mode: 0o700 });
    const port = request.kind === 'interactive' ? await freeLoopbackPort() : undefined;
    const { spawner, janitor } = this.#o;
    return {
      host: paths,
      job: paths,
      port,
      owner: undefined,
      async start(command, env): Promise<LaunchedRun> {
        // The data plane's PATH: under `npm start`, with the repository's Node first.
        const path = [...(request.pathPrefix ?? []), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':');
        const spawned = await spawner.spawn(command, { cwd: paths.app, env: { PATH: path, ...env } });
        return new RunProcess(spawned, {
          signal: (signal) => signalGroup(spawned.pid, signal),
          limitsHit: async () => [],
          waitForApp: async (appPort, timeoutMs, exited) => {
            const readiness = await waitForPort(appPort, { exited, timeoutMs });
            return readiness.ready ? { ready: true, address: { host: readiness.host, port: appPort } } : readiness;
          },
        });
      },
      release: () => janitor.remove(paths.home),
    };
  }

  removeStale(live: ReadonlySet<string>): Promise<void> {
    const { root, janitor } = this.#o;
    return removeDeadInstanceDirs(
      dirname(root),
      basename(root),
      (id) => live.has(id),
      (path) => janitor.remove(path),
    );
  }

  async close(): Promise<void> {}
}
