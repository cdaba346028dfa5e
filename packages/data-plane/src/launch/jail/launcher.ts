import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxFacts } from '@sovereign/contract';
import type { FastifyBaseLogger } from 'fastify';
import { removeDeadInstanceDirs } from '../../files/instance-dirs.ts';
import type { Janitor } from '../../files/janitor.ts';
import type {
  AppReadiness,
  LaunchedRun,
  Launcher,
  LaunchRequest,
  LimitHit,
  Mount,
  RunPaths,
  RunSlot,
  StartOptions,
} from '../launcher.ts';
import { SandboxFailedError } from '../launcher.ts';
import type { RunLimits } from '../limits.ts';
import { runPaths } from '../plain.ts';
import { RunProcess } from '../run-process.ts';
import type { SpawnedJail, Spawner } from '../spawner.ts';
import { envFile, jailSupervisorScript } from '../supervisor.ts';
import { type CgroupLayout, RunCgroup, removeStaleCgroups } from './cgroups.ts';
import {
  bwrapArgs,
  type JailLayout,
  jailEnvFile,
  jailGroup,
  jailPasswd,
  jailPath,
  jailResolv,
  jobPaths,
} from './layout.ts';
import { listeningHost } from './listening.ts';
import type { JailTools } from './probe.ts';

export interface JailLauncherOptions {
  /** This instance's id: its directories (by a name derived from it) and cgroups are named by it. */
  instanceId: string;
  /** This data plane's directory of runs, one directory per instance in it. */
  runsRoot: string;
  /** Where bridges to interactive jobs listen (short: a socket's path is 107 bytes at most). */
  socketsRoot: string;
  cgroups: CgroupLayout;
  layout: JailLayout;
  tools: JailTools;
  spawner: Spawner;
  janitor: Janitor;
  /** Host user ids for runs: [first, first + count). */
  uids: { first: number; count: number };
  /** Jails started in advance, of the shape most runs take (a batch job, with a network, the default /tmp). */
  pool: number;
  defaults: RunLimits;
  facts: SandboxFacts;
  log: FastifyBaseLogger;
}

/** The port an interactive job listens on: alone in its network namespace, any port is free. */
const appPort = 8080;
/** How often a running jail is looked at for a limit it would otherwise sit at forever. */
const watchMs = 1_000;
/** How long after a run's go the pool is filled again: past the start of its command. */
const refillDelayMs = 25;
/**
 * How many times a run's own jail is tried before the run fails as sandbox_failed, and how
 * long the first retry waits (then twice as long each time): bwrap can fail for a moment
 * under load (its netlink request for the loopback address answered with an error), and
 * a fault of the moment must not fail a run. Such moments were seen to last over a second
 * on a busy machine (several pool jails in a row failing in 3 s), so the tries span about
 * five seconds (0.15 + 0.3 + 0.6 + 1.2 + 2.4 s of waiting); one that lasts fails the run then.
 */
const makeAttempts = 6;
const retryDelayMs = 150;
/** /tmp counts as full below this much room: a filler stops a little short of the last byte. */
const tmpFullBytes = 64 * 1024;

interface Shape {
  kind: LaunchRequest['kind'];
  network: LaunchRequest['network'];
  mounts?: readonly Mount[];
  pathPrefix?: readonly string[];
  tmpBytes: number;
}

/**
 * Runs every job in a jail of its own (R9): bubblewrap's namespaces around a filesystem
 * made for it (jail/layout.ts), a host user id of its own, cgroup limits, and a network
 * of its own that reaches the world through slirp4netns but never this machine. Jails
 * for the usual shape are made in advance (a pool), so a run's start does not wait for
 * namespaces, mounts and a network to be built: that takes longer than the rest of it.
 */
export class JailLauncher implements Launcher {
  readonly facts: SandboxFacts;
  readonly #o: JailLauncherOptions;
  readonly #root: string;
  readonly #uidsInUse = new Set<number>();
  readonly #ready: Jail[] = [];
  #making = 0;
  #failures = 0;
  #refillTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: JailLauncherOptions) {
    this.#o = options;
    this.facts = options.facts;
    this.#root = join(options.runsRoot, hiddenName(options.instanceId));
  }

  get #usual(): Shape {
    return { kind: 'batch', network: 'outside', tmpBytes: this.#o.defaults.tmpBytes };
  }

  /** Makes the first jail now, and fills the pool: a data plane that cannot jail a run refuses to start. */
  async prepare(): Promise<void> {
    mkdirSync(this.#root, { recursive: true, mode: 0o711 });
    mkdirSync(this.#o.socketsRoot, { recursive: true, mode: 0o711 });
    // The trial jail is tried as a run's is: a fault of the moment does not keep a data plane from starting.
    const trial = await this.#makeTrying(this.#usual, this.#o.defaults, {});
    this.#ready.push(trial);
    this.#fill();
  }

  mountPoint(_hostPath: string, jailPath: string): string {
    return jailPath;
  }

  async acquire(request: LaunchRequest): Promise<RunSlot> {
    const usual = this.#usual;
    // A run with mounts of its own (an environment) gets a jail made for it: a jail's
    // mounts are made when it starts, and one made in advance has none.
    const mounts = request.mounts ?? [];
    const fits =
      mounts.length === 0 &&
      request.kind === usual.kind &&
      request.network === usual.network &&
      request.limits.tmpBytes === usual.tmpBytes;
    let pooled = fits ? this.#ready.shift() : undefined;
    // One that ended while it waited (killed from outside, say) is let go, never handed out.
    while (pooled !== undefined && !pooled.alive()) {
      void pooled.release();
      pooled = this.#ready.shift();
    }
    // Making a jail costs more of this thread than a run's start (its directories, its
    // cgroup, the request to the spawner: about 3 ms here), so a run that got a jail from
    // the pool does not pay for the next one: the pool is filled again once its command
    // has started (Jail.start, refillSoon). A run that found the pool empty waits for a
    // jail of its own, and the pool is filled beside it, for the runs that follow.
    if (pooled === undefined && fits) this.#fill();
    if (pooled !== undefined) {
      pooled.setLimits(request.limits);
      return pooled;
    }
    const shape = {
      kind: request.kind,
      network: request.network,
      tmpBytes: request.limits.tmpBytes,
      mounts,
      pathPrefix: request.pathPrefix ?? [],
    };
    return this.#makeTrying(shape, request.limits, { runId: request.runId });
  }

  /** Makes a jail, trying again after a failure of the moment (see makeAttempts). */
  async #makeTrying(shape: Shape, limits: RunLimits, ids: { runId?: string }): Promise<Jail> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#make(shape, limits);
      } catch (error) {
        if (attempt >= makeAttempts || this.#closed) throw error;
        this.#o.log.warn({ ...ids, attempt, err: error }, 'could not make the run’s jail: trying again');
        await sleep(retryDelayMs * 2 ** (attempt - 1), undefined, { ref: false });
      }
    }
  }

  /** Fills the pool a moment after a run took a jail from it and started its command. */
  refillSoon(): void {
    if (this.#refillTimer !== undefined || this.#closed) return;
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined;
      this.#fill();
    }, refillDelayMs);
    this.#refillTimer.unref();
  }

  /** Starts jails of the usual shape until the pool is full; a failure is retried later, gently. */
  #fill(): void {
    while (!this.#closed && this.#ready.length + this.#making < this.#o.pool) {
      this.#making += 1;
      this.#make(this.#usual, this.#o.defaults)
        .then(
          (jail) => {
            this.#failures = 0;
            if (this.#closed) void jail.release();
            else this.#ready.push(jail);
          },
          async (error: unknown) => {
            this.#failures += 1;
            if (this.#failures === 1) this.#o.log.warn({ err: error }, 'could not make a jail in advance');
            await sleep(Math.min(30_000, 250 * 2 ** Math.min(this.#failures, 7)), undefined, { ref: false });
          },
        )
        .finally(() => {
          this.#making -= 1;
          if (this.#failures > 0) this.#fill();
        });
      // One at a time after a failure: the next waits for its backoff.
      if (this.#failures > 0) return;
    }
  }

  #uid(): number {
    const { first, count } = this.#o.uids;
    // A range smaller than the jails at once (runs, the pool, builds) would loop here for
    // good, on the thread that serves every tenant: the run fails as sandbox_failed instead.
    if (this.#uidsInUse.size >= count) {
      throw new SandboxFailedError(`every user id of SOV_SANDBOX_UIDS (${count}) is in use by another jail`);
    }
    for (;;) {
      const uid = first + (randomBytes(4).readUInt32BE() % count);
      if (!this.#uidsInUse.has(uid)) {
        this.#uidsInUse.add(uid);
        return uid;
      }
    }
  }

  async #make(shape: Shape, limits: RunLimits): Promise<Jail> {
    const o = this.#o;
    const name = randomBytes(6).toString('hex');
    const uid = this.#uid();
    const home = join(this.#root, name);
    const host = runPaths(home);
    let cgroup: RunCgroup | undefined;
    try {
      mkdirSync(host.outputs, { recursive: true, mode: 0o700 });
      chownSync(home, uid, uid);
      chownSync(host.outputs, uid, uid);
      cgroup = RunCgroup.create(o.cgroups, `${hiddenName(o.instanceId)}/${name}`, limits);
      const network = shape.network === 'outside';
      // Without a network, no resolver either: a name lookup fails at once instead of timing out.
      const data = [jailPasswd, jailGroup, '', network ? jailResolv : ''];
      const spawned = await o.spawner.jail({
        bwrap: o.tools.bwrap,
        options: bwrapArgs({
          layout: o.layout,
          home,
          tmpBytes: shape.tmpBytes,
          mounts: shape.mounts ?? [],
          fds: {
            info: 3,
            block: 4,
            passwd: 5,
            group: 6,
            env: 7,
            resolv: 8,
            sync: 5 + data.length,
          },
        }),
        command: ['/bin/sh', '-c', jailSupervisorScript(jailEnvFile, jobPaths.app)],
        uid,
        gid: uid,
        env: { PATH: jailPath },
        data,
        cgroupProcs: cgroup.procsFiles,
        network: network ? { slirp4netns: o.tools.slirp4netns } : undefined,
      });
      return new Jail(this, {
        name,
        uid,
        host,
        kind: shape.kind,
        cgroup,
        spawned,
        path: [...(shape.pathPrefix ?? []), jailPath].join(':'),
      });
    } catch (error) {
      this.#uidsInUse.delete(uid);
      await cgroup?.remove().catch(() => {});
      await o.janitor.remove(home).catch(() => {});
      throw new SandboxFailedError(error instanceof Error ? error.message : String(error));
    }
  }

  /** What a jail's slot needs of its launcher. */
  get options(): JailLauncherOptions {
    return this.#o;
  }

  freeUid(uid: number): void {
    this.#uidsInUse.delete(uid);
  }

  async removeStale(live: ReadonlySet<string>): Promise<void> {
    const { instanceId, janitor, cgroups, socketsRoot } = this.#o;
    const names = new Set([...live, instanceId].map(hiddenName));
    await removeDeadInstanceDirs(
      dirname(this.#root),
      basename(this.#root),
      (name) => names.has(name),
      (path) => janitor.remove(path),
    );
    removeStaleCgroups(cgroups, (name) => names.has(name));
    // Bridges' directories start with their instance's name, cut short.
    const prefixes = new Set([...names].map((name) => name.slice(0, 8)));
    for (const name of await readdir(socketsRoot).catch(() => [] as string[])) {
      if (!prefixes.has(name.slice(0, 8))) await janitor.remove(join(socketsRoot, name));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    const idle = this.#ready.splice(0);
    await Promise.all(idle.map((jail) => jail.release()));
    // Empty by now, but for runs still holding their directories (they release them on
    // their own); the data plane's directory goes with its last instance.
    for (const dir of [this.#root, dirname(this.#root), this.#o.socketsRoot]) {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
    }
  }
}

interface JailParts {
  name: string;
  uid: number;
  host: RunPaths;
  kind: LaunchRequest['kind'];
  cgroup: RunCgroup;
  spawned: SpawnedJail;
  /** The run's PATH: an environment's `bin` first, when it has one. */
  path: string;
}

/**
 * The name a directory of runs, or a cgroup, takes for an id (a data plane's client id,
 * an instance's id): a job sees the path its home is bound from in /proc/self/mountinfo
 * and its cgroup's in /proc/self/cgroup, and learns no id of its data plane from them.
 */
export function hiddenName(id: string): string {
  return createHash('sha256').update(`sovereign-runs:${id}`).digest('hex').slice(0, 16);
}

/** When process `pid` started, from /proc/<pid>/stat; undefined when there is no such process. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command's name (in parentheses, which may hold anything): field 22 is the start time.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** One jail, made for one run: its supervisor waits for the go. */
class Jail implements RunSlot {
  readonly host: RunPaths;
  readonly job = jobPaths;
  readonly port: number | undefined;
  readonly owner: { uid: number; gid: number };
  readonly #launcher: JailLauncher;
  readonly #p: JailParts;
  /** When the jail's first process started (/proc's clock ticks): a pid reused by another process is never signalled. */
  readonly #started: string | undefined;
  #process: RunProcess | undefined;
  #watch: NodeJS.Timeout | undefined;
  #socketDir: string | undefined;
  #released: Promise<void> | undefined;

  constructor(launcher: JailLauncher, parts: JailParts) {
    this.#launcher = launcher;
    this.#p = parts;
    this.host = parts.host;
    this.port = parts.kind === 'interactive' ? appPort : undefined;
    this.owner = { uid: parts.uid, gid: parts.uid };
    this.#started = processStart(parts.spawned.innerPid);
  }

  /** Its first process is still the one that started it. */
  alive(): boolean {
    return this.#started !== undefined && processStart(this.#p.spawned.innerPid) === this.#started;
  }

  setLimits(limits: RunLimits): void {
    this.#p.cgroup.setLimits(limits);
  }

  /** Every process of the jail: SIGKILL to its first process ends them all; other signals go to its session. */
  #signal(signal: NodeJS.Signals): void {
    const { innerPid } = this.#p.spawned;
    if (!this.alive()) return;
    try {
      if (signal === 'SIGKILL') process.kill(innerPid, signal);
      else process.kill(-innerPid, signal);
    } catch {
      // already gone
    }
  }

  #tmpFull(): boolean {
    try {
      const stats = statfsSync(`/proc/${this.#p.spawned.innerPid}/root/tmp`);
      return stats.bavail * stats.bsize < tmpFullBytes;
    } catch {
      return false;
    }
  }

  #limitsHit(): LimitHit[] {
    const hits: LimitHit[] = this.#p.cgroup.hits();
    if (this.#tmpFull()) hits.push('tmp');
    return hits;
  }

  async start(command: string, env: Record<string, string>, options: StartOptions = {}): Promise<LaunchedRun> {
    const { spawned } = this.#p;
    // Written into the jail's own tmpfs through its first process: nothing of it touches a disk.
    const file = `/proc/${spawned.innerPid}/root${jailEnvFile}`;
    // It exists (bwrap made it, the jail user's): opened as it is, never created here.
    writeFileSync(file, envFile({ ...env, PATH: this.#p.path, SOV_COMMAND: command }), { flag: 'r+' });
    const run = new RunProcess(spawned, {
      signal: (signal) => this.#signal(signal),
      limitsHit: async () => this.#limitsHit(),
      waitForApp: (port, timeoutMs, exited) => this.#waitForApp(port, timeoutMs, exited),
      afterGo: () => this.#launcher.refillSoon(),
    });
    this.#process = run;
    const told = new Set<string>();
    this.#watch = setInterval(() => {
      for (const hit of this.#limitsHit()) {
        if (hit === 'memory' || told.has(hit)) continue;
        told.add(hit);
        options.onLimit?.(hit);
      }
    }, watchMs);
    this.#watch.unref();
    void run.exited.finally(() => clearInterval(this.#watch));
    return run;
  }

  /**
   * Waits until the app listens on its port, in the jail's own network, then bridges it
   * to a unix socket the proxy connects to: no other job can reach the app, and the proxy
   * never reaches into the jail.
   */
  async #waitForApp(port: number, timeoutMs: number, exited: Promise<unknown>): Promise<AppReadiness> {
    let ended = false;
    void exited.then(() => {
      ended = true;
    });
    const deadline = Date.now() + timeoutMs;
    let pause = 20;
    for (;;) {
      if (ended) return { ready: false, why: 'exited' };
      const host = listeningHost(this.#p.spawned.innerPid, port);
      if (host !== undefined) return this.#bridge(host, port);
      if (Date.now() >= deadline) return { ready: false, why: 'timeout' };
      await Promise.race([sleep(pause), exited]);
      pause = Math.min(250, pause * 2);
    }
  }

  async #bridge(host: '127.0.0.1' | '::1', port: number): Promise<AppReadiness> {
    const o = this.#launcher.options;
    const { spawned, uid, name } = this.#p;
    const dir = join(o.socketsRoot, `${hiddenName(o.instanceId).slice(0, 8)}-${name}`);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, uid);
    this.#socketDir = dir;
    const socketPath = join(dir, 'app');
    await o.spawner.bridge({
      jail: spawned.jail,
      innerPid: spawned.innerPid,
      nsenter: o.tools.nsenter,
      socat: o.tools.socat,
      socketPath,
      host,
      port,
      uid,
      gid: uid,
    });
    return { ready: true, address: { socketPath } };
  }

  release(): Promise<void> {
    this.#released ??= this.#free();
    return this.#released;
  }

  async #free(): Promise<void> {
    const o = this.#launcher.options;
    clearInterval(this.#watch);
    this.#launcher.refillSoon();
    const { spawned, cgroup, uid, host } = this.#p;
    if (this.#process === undefined) {
      // Never started: its supervisor ends when its lifeline closes, and takes its jail with it.
      spawned.stdin.destroy();
      spawned.stdout.destroy();
      spawned.stderr.destroy();
    }
    this.#signal('SIGKILL');
    await cgroup.remove();
    await o.janitor.remove(host.home);
    if (this.#socketDir !== undefined) await o.janitor.remove(this.#socketDir);
    this.#launcher.freeUid(uid);
  }
}
