import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { postgresTarget, type TestDatabase } from '@sovereign/server-kit/testing';
import { Logger, makeWorkerUtils, runMigrations, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { realtimeMs } from '../lib/clock.ts';
import { inParallel } from '../lib/stats.ts';

const workerScript = fileURLToPath(new URL('./graphile-worker.ts', import.meta.url));
const quiet = new Logger(() => () => {});

export type PeerTask = 'noop' | 'spawn' | 'jail';

/**
 * Whether the platform's data planes jail their runs (unless the bench was started with
 * SOV_TEST_SANDBOX=off): only then is the peer measured with its task starting the same jail.
 */
export const jailedPlatform = process.env.SOV_TEST_SANDBOX !== 'off';

interface Stamp {
  start?: number;
  done?: number;
  resolveStart?: () => void;
  resolveDone?: () => void;
  /** Rejects whatever waits on this job: the peer broke (a worker died, a task failed). */
  reject?: (error: Error) => void;
}

/**
 * The peer: graphile-worker (a PostgreSQL job queue for Node, woken by LISTEN/NOTIFY) on
 * the same PostgreSQL server, its workers as separate processes like our data planes.
 */
export class GraphilePeer {
  readonly #database: TestDatabase;
  readonly #utils: WorkerUtils;
  readonly #pool: pg.Pool;
  readonly #workers: ChildProcess[] = [];
  readonly #stamps = new Map<string, Stamp>();
  #next = 0;
  /** Why the peer cannot be measured any more: every wait ends with it rather than hanging. */
  #broken: Error | undefined;
  #stopping = false;

  private constructor(database: TestDatabase, utils: WorkerUtils, pool: pg.Pool) {
    this.#database = database;
    this.#utils = utils;
    this.#pool = pool;
  }

  /**
   * A fresh database on the server at `adminUrl`, with `workers` processes of `concurrency`
   * each; `env` is added to theirs.
   */
  static async start(
    adminUrl: string,
    workers: number,
    concurrency: number,
    env: Record<string, string> = {},
  ): Promise<GraphilePeer> {
    const database = await postgresTarget(adminUrl).create();
    const url = database.options.url as string;
    await runMigrations({ connectionString: url, logger: quiet });
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const utils = await makeWorkerUtils({ pgPool: pool, logger: quiet });
    const peer = new GraphilePeer(database, utils, pool);
    for (let i = 0; i < workers; i++) {
      const child = fork(workerScript, [], {
        env: { ...process.env, ...env, GW_DATABASE_URL: url, GW_CONCURRENCY: String(concurrency) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message: { type: string; id?: string; at?: number; error?: string }) =>
        peer.#heard(message),
      );
      child.on('exit', (code, signal) => {
        if (!peer.#stopping) peer.#break(new Error(`a graphile-worker process ended (${code ?? signal})`));
      });
      peer.#workers.push(child);
      const [ready] = (await once(child, 'message')) as [{ type: string }];
      if (ready.type !== 'ready') throw new Error('graphile-worker did not start');
    }
    return peer;
  }

  #stamp(id: string): Stamp {
    let stamp = this.#stamps.get(id);
    if (stamp === undefined) {
      stamp = {};
      this.#stamps.set(id, stamp);
    }
    return stamp;
  }

  /** The worker processes' pids. */
  workerPids(): number[] {
    return this.#workers.map((child) => child.pid as number);
  }

  #break(error: Error): void {
    this.#broken ??= error;
    for (const stamp of this.#stamps.values()) stamp.reject?.(this.#broken);
  }

  #heard(message: { type: string; id?: string; at?: number; error?: string }): void {
    if (message.type === 'failed') {
      this.#break(new Error(`a peer task failed: ${message.error}`));
      return;
    }
    if (message.id === undefined || message.at === undefined) return;
    const stamp = this.#stamp(message.id);
    if (message.type === 'start') {
      stamp.start = message.at;
      stamp.resolveStart?.();
    } else if (message.type === 'done') {
      stamp.done = message.at;
      stamp.resolveDone?.();
    }
  }

  #started(id: string): Promise<number> {
    const stamp = this.#stamp(id);
    if (stamp.start !== undefined) return Promise.resolve(stamp.start);
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      stamp.resolveStart = () => resolve(stamp.start as number);
      stamp.reject = reject;
    });
  }

  #finished(id: string): Promise<number> {
    const stamp = this.#stamp(id);
    if (stamp.done !== undefined) return Promise.resolve(stamp.done);
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      stamp.resolveDone = () => resolve(stamp.done as number);
      const before = stamp.reject;
      stamp.reject = (error) => {
        before?.(error);
        reject(error);
      };
    });
  }

  /** Adds one job and resolves once it is committed (graphile-worker's add_job), with its id. */
  async add(task: PeerTask): Promise<{ id: string; addedAt: number }> {
    const id = `j${this.#next++}`;
    await this.#utils.addJob(task, { id });
    return { id, addedAt: realtimeMs() };
  }

  /** add-job -> task start latencies (ms) of `n` jobs one after the other, each finished before the next. */
  async latencies(task: PeerTask, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const { id, addedAt } = await this.add(task);
      const started = await this.#started(id);
      await this.#finished(id);
      out.push(started - addedAt);
      this.#stamps.delete(id);
    }
    return out;
  }

  /** `n` jobs added with `inFlight` adds at a time: jobs per second from the first add to the last success. */
  async throughput(task: PeerTask, n: number, inFlight: number): Promise<{ perSecond: number; seconds: number }> {
    const ids: string[] = [];
    const begin = realtimeMs();
    await inParallel(
      Array.from({ length: n }, (_, i) => i),
      inFlight,
      async () => {
        ids.push((await this.add(task)).id);
      },
    );
    const ends = await Promise.all(ids.map((id) => this.#finished(id)));
    const seconds = (Math.max(...ends) - begin) / 1000;
    for (const id of ids) this.#stamps.delete(id);
    return { perSecond: n / seconds, seconds };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const child of this.#workers) {
      // One that died already (the peer broke) has nothing to wait for.
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await this.#utils.release();
    await this.#pool.end();
    await this.#database.drop();
  }
}
