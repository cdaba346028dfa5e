import type { Socket } from 'node:net';
import type { SandboxFacts } from '@sovereign/contract';
import type { RunLimits } from './limits.ts';

/**
 * How the data plane starts a run's process, and all it needs to know of where: one
 * small interface, so that the bubblewrap jail (launch/jail/) and the unjailed launcher
 * (launch/plain.ts) are interchangeable, and a launcher that starts each run as a
 * Kubernetes pod can take their place later.
 *
 * A run goes: acquire() a slot (a jail, possibly made in advance), fill its directory
 * (working copy, state file), start() the command, go() once its output is being read,
 * wait for `exited`, read its outputs and state, release().
 */
export interface Launcher {
  /** What runs are started in, for `/readyz`, `/metrics` and the data plane's health. */
  readonly facts: SandboxFacts;
  /** A place to run one run in. Throws SandboxFailedError when none can be made. */
  acquire(request: LaunchRequest): Promise<RunSlot>;
  /**
   * Where a run sees a directory of this machine mounted for it at `jailPath`: there in a
   * jail, at the directory itself unjailed. An environment is built where its runs find it.
   */
  mountPoint(hostPath: string, jailPath: string): string;
  /** Frees what instances no longer alive (not in `live`) left behind: their runs' directories, cgroups, sockets. */
  removeStale(live: ReadonlySet<string>): Promise<void>;
  /** Stops making slots and frees those made in advance; slots in use are their runs' to release. */
  close(): Promise<void>;
}

/** Under the work directory: one directory per instance (named by its id) of its runs' directories. */
export const runsDirName = '.runs';

export interface LaunchRequest {
  runId: string;
  kind: 'batch' | 'interactive';
  limits: RunLimits;
  /** `outside`: the job reaches the world (never this machine's loopback); `none`: no network at all. */
  network: 'outside' | 'none';
  /**
   * Directories of this machine the run sees besides its own: a built environment
   * (read-only for a run, writable for its build), a directory of packages for a build.
   * A jail takes each at `at`; unjailed, a run finds each where it is (`at` is then its
   * host path: see Launcher.mountPoint).
   */
  mounts?: Mount[];
  /** Directories (as the run sees them) put before the system's on its PATH: an environment's `bin`. */
  pathPrefix?: string[];
}

export interface Mount {
  host: string;
  at: string;
  writable?: boolean;
}

/** The places a run has: its home, working copy, output directory and state file. */
export interface RunPaths {
  home: string;
  app: string;
  outputs: string;
  stateFile: string;
  /** The run's parameters as JSON (issue 20), when its job takes any. */
  paramsFile: string;
}

/** Where the proxy reaches an interactive job's app. */
export type AppAddress = { host: string; port: number } | { socketPath: string };

export type AppReadiness = { ready: true; address: AppAddress } | { ready: false; why: 'exited' | 'timeout' };

/** A limit the run hit, as the jail saw it. */
export type LimitHit = 'memory' | 'pids' | 'tmp';

export interface ProcessEnding {
  /** The command's exit status; null when it was killed before it could give one. */
  exitCode: number | null;
  /** Limits hit during the run: the kernel's OOM killer ran, forks were refused, /tmp filled. */
  limitsHit: LimitHit[];
}

export interface StartOptions {
  /**
   * Called (once per limit) while the run goes on, when it hits a limit that it would
   * otherwise sit at forever (forks refused, /tmp full): the caller stops it.
   */
  onLimit?: (limit: Exclude<LimitHit, 'memory'>) => void;
}

export interface RunSlot {
  /** The run's places on this machine: the data plane writes the working copy and state file, reads outputs. */
  readonly host: RunPaths;
  /** The same places as the job sees them. */
  readonly job: RunPaths;
  /** An interactive job's port, where its app listens (inside its own network when jailed). */
  readonly port: number | undefined;
  /** The user id files under `host.home` must belong to for the job to write them; undefined: the data plane's own. */
  readonly owner: { uid: number; gid: number } | undefined;
  /** Starts `command` with exactly `env` (and nothing of the data plane's); the command waits for go(). */
  start(command: string, env: Record<string, string>, options?: StartOptions): Promise<LaunchedRun>;
  /** Frees what the slot holds: its processes, limits, network and files. Safe to call more than once. */
  release(): Promise<void>;
}

/** A run's process tree, started: watched and stopped as one. */
export interface LaunchedRun {
  readonly pid: number;
  readonly stdout: Socket;
  readonly stderr: Socket;
  /** Resolves when every process of the run has ended. */
  readonly exited: Promise<ProcessEnding>;
  /** Lets the command start: call it once its output is being read. */
  go(): void;
  /** SIGTERM to every process of the run, then SIGKILL after the grace period. */
  terminate(graceMs: number): void;
  kill(): void;
  /** Interactive jobs: waits until the app listens on its port, the run ends, or the timeout passes. */
  waitForApp(port: number, timeoutMs: number): Promise<AppReadiness>;
}

export class SandboxFailedError extends Error {
  constructor(detail: string) {
    super(`the run's sandbox could not be made: ${detail}`);
    this.name = 'SandboxFailedError';
  }
}
