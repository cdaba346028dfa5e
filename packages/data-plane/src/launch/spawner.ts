import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';

const spawnerMain = fileURLToPath(new URL('./spawner-main.ts', import.meta.url));

/** Start an unjailed supervisor shell for `command`, in `cwd`, with exactly `env`. */
export interface PlainRequest {
  op: 'plain';
  command: string;
  cwd: string;
  env: Record<string, string>;
}

/**
 * Start a jail: bwrap with `options`, then `command`, as `uid`:`gid`, given the texts in `data` on the
 * descriptors after its stdio (3: the pid it reports, 4: the byte it waits for, then one
 * per text, then a lifeline whose other end tells slirp4netns when the jail is gone). Before that byte, its first process is put in the cgroups (`cgroupProcs`),
 * and (with `network`) slirp4netns gives it a way out that never leads to this machine.
 */
export interface JailRequest {
  op: 'jail';
  bwrap: string;
  /** Given on a descriptor: not in the command line of the jail's first process, where the job would read this machine's paths. */
  options: string[];
  command: string[];
  uid: number;
  gid: number;
  env: Record<string, string>;
  data: string[];
  cgroupProcs: string[];
  network: { slirp4netns: string } | undefined;
}

/**
 * Bridge an app in a jail to a unix socket here: socat, in the jail's network namespace
 * (entered by nsenter) but outside its other namespaces, as `uid`:`gid`, listening on
 * `socketPath` and connecting to `host`:`port`. It ends with the jail (`jail`, its id).
 */
export interface BridgeRequest {
  op: 'bridge';
  jail: number;
  innerPid: number;
  nsenter: string;
  socat: string;
  socketPath: string;
  host: '127.0.0.1' | '::1';
  port: number;
  uid: number;
  gid: number;
}

export type SpawnerRequest = (PlainRequest | JailRequest | BridgeRequest) & { id: number };

/** A supervisor shell started by the spawner: its pid (its process group) and its pipes. */
export interface Spawned {
  pid: number;
  /** Two-way: the go line and the lifeline out, the exit status back. */
  stdin: Socket;
  stdout: Socket;
  stderr: Socket;
}

/** A jail started by the spawner: bwrap's pid, the pid of its first process (in its own namespaces), its pipes. */
export interface SpawnedJail extends Spawned {
  /** The spawner's id for it: bridges refer to it. */
  jail: number;
  innerPid: number;
}

type Stream = 'stdin' | 'stdout' | 'stderr';
export type SpawnerReply =
  | { id: number; error: string }
  | { id: number; done: true }
  | { id: number; pid: number; innerPid?: number; stream: Stream };

interface Pending {
  parts: { pid?: number; innerPid?: number; stdin?: Socket; stdout?: Socket; stderr?: Socket };
  resolve(value: SpawnedJail | undefined): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class SpawnFailedError extends Error {
  constructor(detail: string) {
    super(`the job could not be started: ${detail}`);
    this.name = 'SpawnFailedError';
  }
}

/** What the spawner and the helpers it starts (slirp4netns, nsenter, socat) may inherit. */
const inherited = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'NODE_COMPILE_CACHE'];

/**
 * The spawner's environment: the few variables a program needs, never the data plane's own
 * (its client secret, master key, database URL, bucket credentials). Jobs get an environment
 * built for them; the helpers around a jail (its network, an app's bridge, which runs as the
 * run's own user) would otherwise carry every credential of this data plane.
 */
export function helperEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of inherited) {
    const value = env[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/** How long a start may take before it counts as failed. */
const spawnTimeoutMs = 30_000;

/**
 * Starts jobs, jails and bridges through the spawner process (spawner-main.ts), which
 * forks cheaply where the data plane cannot: a fork's cost grows with the memory of the
 * process that forks. The spawner is started on first use and again after it dies; a
 * start in flight when it dies fails, and what it started already is not affected (the
 * pipes are the data plane's, and a jail needs nothing of the spawner once it runs).
 */
export class Spawner {
  readonly #log: FastifyBaseLogger;
  readonly #pending = new Map<number, Pending>();
  #helper: ChildProcess | undefined;
  #nextId = 1;
  #closed = false;

  constructor(log: FastifyBaseLogger) {
    this.#log = log;
  }

  #ensure(): ChildProcess {
    if (this.#helper !== undefined) return this.#helper;
    const helper = fork(spawnerMain, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      env: helperEnvironment(process.env),
    });
    helper.on('message', (reply: SpawnerReply, handle?: Socket) => this.#reply(reply, handle));
    helper.on('exit', (code, signal) => {
      if (this.#helper === helper) this.#helper = undefined;
      if (!this.#closed) this.#log.warn({ code, signal }, 'the job spawner exited; it starts again when needed');
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new SpawnFailedError('the spawner exited'));
        this.#pending.delete(id);
      }
    });
    // It keeps nothing alive: the data plane's own lifetime decides.
    helper.unref();
    helper.channel?.unref();
    this.#helper = helper;
    return helper;
  }

  #reply(reply: SpawnerReply, handle?: Socket): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) {
      handle?.destroy();
      return;
    }
    const settle = () => {
      clearTimeout(pending.timer);
      this.#pending.delete(reply.id);
    };
    if ('error' in reply) {
      settle();
      pending.reject(new SpawnFailedError(reply.error));
      return;
    }
    if ('done' in reply) {
      settle();
      pending.resolve(undefined);
      return;
    }
    if (handle === undefined) return;
    const { parts } = pending;
    parts.pid = reply.pid;
    if (reply.innerPid !== undefined) parts.innerPid = reply.innerPid;
    parts[reply.stream] = handle;
    const { pid, stdin, stdout, stderr } = parts;
    if (pid === undefined || !stdin || !stdout || !stderr) return;
    settle();
    pending.resolve({ jail: reply.id, pid, innerPid: parts.innerPid ?? pid, stdin, stdout, stderr });
  }

  #ask(request: PlainRequest | JailRequest | BridgeRequest): Promise<SpawnedJail | undefined> {
    if (this.#closed) return Promise.reject(new SpawnFailedError('the data plane is stopping'));
    const helper = this.#ensure();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SpawnFailedError(`no answer from the spawner in ${spawnTimeoutMs / 1000} s`));
      }, spawnTimeoutMs);
      this.#pending.set(id, { parts: {}, resolve, reject, timer });
      helper.send({ ...request, id } satisfies SpawnerRequest, (error) => {
        if (error === null || error === undefined) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new SpawnFailedError(error.message));
      });
    });
  }

  /** Starts an unjailed supervisor shell for `command`, in `cwd`, with exactly `env`. */
  async spawn(command: string, options: { cwd: string; env: Record<string, string> }): Promise<Spawned> {
    const spawned = await this.#ask({ op: 'plain', command, cwd: options.cwd, env: options.env });
    if (spawned === undefined) throw new SpawnFailedError('no process');
    return spawned;
  }

  /** Starts a jail, ready for its go: its supervisor waits on stdin. */
  async jail(request: Omit<JailRequest, 'op'>): Promise<SpawnedJail> {
    const spawned = await this.#ask({ op: 'jail', ...request });
    if (spawned === undefined) throw new SpawnFailedError('no jail');
    return spawned;
  }

  /** Bridges an app in a jail to a unix socket here; resolves once the socket listens. */
  async bridge(request: Omit<BridgeRequest, 'op'>): Promise<void> {
    await this.#ask({ op: 'bridge', ...request });
  }

  /** Stops the spawner; what it started keeps running until the data plane stops it. */
  close(): void {
    this.#closed = true;
    if (this.#helper?.connected) this.#helper.disconnect();
    this.#helper = undefined;
  }
}
