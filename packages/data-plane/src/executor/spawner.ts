import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';

const spawnerMain = fileURLToPath(new URL('./spawner-main.ts', import.meta.url));

export interface SpawnRequest {
  id: number;
  command: string;
  cwd: string;
  env: Record<string, string>;
}

/** A supervisor shell started by the spawner: its pid (its process group) and its pipes. */
export interface Spawned {
  pid: number;
  /** Two-way: the go line and the lifeline out, the exit status back. */
  stdin: Socket;
  stdout: Socket;
  stderr: Socket;
}

type Reply = { id: number; error: string } | { id: number; pid: number; stream: keyof Omit<Spawned, 'pid'> };

interface Pending {
  parts: Partial<Spawned>;
  resolve(spawned: Spawned): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class SpawnFailedError extends Error {
  constructor(detail: string) {
    super(`the job could not be started: ${detail}`);
    this.name = 'SpawnFailedError';
  }
}

/** How long a start may take before it counts as failed. */
const spawnTimeoutMs = 30_000;

/**
 * Starts jobs through the spawner process (spawner-main.ts), which forks cheaply where
 * the data plane cannot: a fork's cost grows with the memory of the process that forks.
 * The spawner is started on first use and again after it dies; a start in flight when
 * it dies fails, and jobs already started are not affected (their pipes are ours).
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
    const helper = fork(spawnerMain, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    helper.on('message', (reply: Reply, handle?: Socket) => this.#reply(reply, handle));
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

  #reply(reply: Reply, handle?: Socket): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) {
      handle?.destroy();
      return;
    }
    if ('error' in reply) {
      clearTimeout(pending.timer);
      this.#pending.delete(reply.id);
      pending.reject(new SpawnFailedError(reply.error));
      return;
    }
    if (handle === undefined) return;
    pending.parts.pid = reply.pid;
    pending.parts[reply.stream] = handle;
    const { pid, stdin, stdout, stderr } = pending.parts;
    if (pid === undefined || !stdin || !stdout || !stderr) return;
    clearTimeout(pending.timer);
    this.#pending.delete(reply.id);
    pending.resolve({ pid, stdin, stdout, stderr });
  }

  /** Starts a supervisor shell for `command`, in `cwd`, with exactly `env`. */
  spawn(command: string, options: { cwd: string; env: Record<string, string> }): Promise<Spawned> {
    if (this.#closed) return Promise.reject(new SpawnFailedError('the data plane is stopping'));
    const helper = this.#ensure();
    const id = this.#nextId++;
    return new Promise<Spawned>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SpawnFailedError(`no answer from the spawner in ${spawnTimeoutMs / 1000} s`));
      }, spawnTimeoutMs);
      this.#pending.set(id, { parts: {}, resolve, reject, timer });
      const request: SpawnRequest = { id, command, cwd: options.cwd, env: options.env };
      helper.send(request, (error) => {
        if (error === null || error === undefined) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new SpawnFailedError(error.message));
      });
    });
  }

  /** Stops the spawner; jobs it started keep running until the data plane stops them. */
  close(): void {
    this.#closed = true;
    if (this.#helper?.connected) this.#helper.disconnect();
    this.#helper = undefined;
  }
}
