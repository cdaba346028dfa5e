import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ClaimedRun,
  type ClaimResponse,
  InternalPaths,
  interactivePath,
  protocolVersion,
  type ReasonCode,
} from '@sovereign/protocol';
import type { Database } from '@sovereign/protocol/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from '../agent/agent.ts';
import { type ControlPlaneClient, CredentialsRevokedError } from '../agent/control-plane-client.ts';
import { defaultIdleTimeoutSeconds, type ManifestJob } from '../deployments/index.ts';
import type { LiveInteractive } from '../interactive/gateway.ts';
import { IdleWatch } from '../interactive/idle.ts';
import { freeLoopbackPort, waitForPort } from '../interactive/port.ts';
import { Masker } from '../logs/mask.ts';
import { pumpLogs } from '../logs/pump.ts';
import type { LogStore } from '../logs/store.ts';
import type { OutboxDeliverer } from '../outbox/outbox.ts';
import { liveInstances, recordClaim, recordStatus, sweepOrphans, touchInstance } from '../runs/store.ts';
import { writeState } from '../state/store.ts';
import type { ArtifactStore } from '../storage/artifacts.ts';
import type { Variables } from '../variables/index.ts';
import { Janitor } from './janitor.ts';
import { collectOutputs, readStateFile } from './results.ts';
import { RunProcess } from './run-process.ts';
import type { Spawner } from './spawner.ts';
import type { WorkingCopies } from './working-copies.ts';

export interface ExecutorOptions {
  db: Database;
  agent: Agent;
  client: ControlPlaneClient;
  /** Working copies of deployments, and their jobs. */
  copies: WorkingCopies;
  variables: Variables;
  artifacts: ArtifactStore;
  logs: LogStore;
  outbox: OutboxDeliverer;
  /** Fresh working copies of bundles go here, one directory per run. */
  workRoot: string;
  /** Batch runs at once. */
  capacity: number;
  /** Interactive runs at once, counted apart: apps live long and are mostly idle. */
  interactiveCapacity: number;
  /** Time between SIGTERM and SIGKILL when a run is stopped. */
  killGraceMs: number;
  /** An instance not seen for this long is gone: its runs are abandoned, its files removed. */
  instanceStaleSeconds: number;
  /** Interactive jobs: how long their port may take to answer after the start. */
  interactiveStartTimeoutMs: number;
  /** This data plane's public URL: interactive jobs are told where they are served. */
  publicUrl: string;
  /** Starts each job's supervisor shell, from a process that forks cheaply. */
  spawner: Spawner;
  log: FastifyBaseLogger;
}

interface ActiveRun {
  run: ClaimedRun;
  process?: RunProcess;
  /** Log lines stored so far. */
  logLines: number;
  /** Why we stopped it, when we did. */
  stopping?: 'timed_out' | 'cancelled' | 'fenced' | 'shutdown' | 'idle' | 'start_timeout';
  /** Its final status is recorded (the outbox delivers it). */
  ended?: boolean;
  /** An interactive job's port, where the proxy reaches it, and its idle watch once it answers. */
  interactive?: { port: number; stripPrefix: boolean; host?: string; idle?: IdleWatch };
}

/** The longest the next claim waits for the runs of the last one to start. */
const claimDeferMs = 50;

/**
 * Runs jobs: holds a claim open to the control plane while it has free slots, and
 * for each run it gets, makes a fresh working copy of the deployment, starts the
 * job's command in its own process group with the workspace's variables, the SOV_*
 * variables, an output directory and a state file, stores its logs (secrets masked),
 * outputs and state here, and reports statuses through the outbox.
 */
export class Executor {
  readonly #o: ExecutorOptions;
  readonly #active = new Map<string, ActiveRun>();
  readonly #janitor = new Janitor();
  /**
   * Runs that ended here whose final event the control plane has not acknowledged yet
   * (run id -> its sequence number): still held, so their lease is renewed meanwhile.
   */
  readonly #unreported = new Map<string, number>();
  /** The highest `claimSeq` whose runs are in `#active` (or were): see `holding()`. */
  #claimedThrough = 0;
  #closed = false;
  #loop: Promise<void> | undefined;
  #claimAbort = new AbortController();
  #slotFreed: (() => void) | undefined;
  /**
   * Ends the claim held open when it was sent without room for a kind of run that now
   * has some (a batch slot freed while the claim asked for apps only): it is sent again
   * at once. The control plane hands back what it claimed for an abandoned request, and
   * a claim lost in that race is requeued by the next claim, which lists what we hold.
   */
  #claimRefresh: ((kind: ClaimedRun['kind']) => void) | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: ExecutorOptions) {
    this.#o = options;
  }

  /** An interactive run this instance is running, for the proxy; undefined for any other. */
  interactive(runId: string): LiveInteractive | undefined {
    const active = this.#active.get(runId);
    const app = active?.interactive;
    if (active === undefined || app === undefined || active.stopping !== undefined) return undefined;
    return {
      workspaceId: active.run.workspaceId,
      host: app.host,
      port: app.port,
      stripPrefix: app.stripPrefix,
      activity: () => app.idle?.touch(),
    };
  }

  /** Runs this instance holds, for its claims to list. */
  #heldRuns(): string[] {
    return [...new Set([...this.#active.keys(), ...this.#unreported.keys()])];
  }

  /**
   * What a heartbeat sends: the held runs, and the last claim taken in when they were
   * listed. A claim answered after that is not listed yet, and the control plane knows
   * to leave it alone.
   */
  holding(): { heldRuns: string[]; claimedThrough: number } {
    return { heldRuns: this.#heldRuns(), claimedThrough: this.#claimedThrough };
  }

  /** The control plane's answer to delivered run events: final events acknowledged, or runs fenced. */
  acknowledge(answer: { accepted: Array<{ runId: string; seq: number }>; fenced: string[] }): void {
    for (const { runId, seq } of answer.accepted) {
      if (this.#unreported.get(runId) === seq) this.#unreported.delete(runId);
    }
    for (const runId of answer.fenced) this.#unreported.delete(runId);
    this.fence(answer.fenced);
  }

  start(): void {
    const sweep = async () => {
      try {
        await touchInstance(this.#o.db, this.#o.agent.instanceId);
        for (const runId of await sweepOrphans(this.#o.db, this.#o.instanceStaleSeconds)) {
          this.#o.logs.ended(runId);
          // Its instance died: the working copy it left behind is nobody's now.
          await this.#janitor.remove(join(this.#o.workRoot, runId));
        }
        const live = await liveInstances(this.#o.db, this.#o.instanceStaleSeconds);
        await this.#o.copies.removeStale((instanceId) => live.has(instanceId));
      } catch (error) {
        this.#o.log.warn({ err: String(error) }, 'orphan sweep failed');
      }
      if (!this.#closed) {
        this.#sweepTimer = setTimeout(sweep, 5_000);
        this.#sweepTimer.unref();
      }
    };
    void sweep();
    this.#loop = this.#claimLoop();
  }

  /** Stops claiming; running jobs are stopped and reported as failed (dataplane_shutdown). */
  async stop(): Promise<void> {
    this.#closed = true;
    this.#claimAbort.abort();
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    for (const active of this.#active.values()) this.#stop(active, 'shutdown');
    await this.#loop;
    while (this.#active.size > 0) await new Promise((r) => setTimeout(r, 50));
    this.#o.spawner.close();
    await this.#janitor.close();
    await this.#o.copies.clear();
  }

  /** Cancels runs asked for by the control plane. */
  cancel(runIds: string[]): void {
    for (const runId of runIds) {
      const active = this.#active.get(runId);
      if (active !== undefined) this.#stop(active, 'cancelled');
    }
  }

  /** Kills runs whose lease this instance lost: another attempt may be running elsewhere. */
  fence(runIds: string[]): void {
    for (const runId of runIds) {
      const active = this.#active.get(runId);
      if (active === undefined) continue;
      this.#o.log.warn({ runId }, 'lease lost: stopping the run at once');
      active.stopping = 'fenced';
      active.process?.kill();
    }
  }

  #stop(active: ActiveRun, why: NonNullable<ActiveRun['stopping']>): void {
    active.stopping ??= why;
    active.process?.terminate(this.#o.killGraceMs);
  }

  async #claimLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let apps = 0;
      for (const active of this.#active.values()) if (active.run.kind === 'interactive') apps += 1;
      const free = Math.max(0, this.#o.capacity - (this.#active.size - apps));
      const freeApps = Math.max(0, this.#o.interactiveCapacity - apps);
      if ((free === 0 && freeApps === 0) || !this.#o.agent.accepting || this.#o.agent.stoppedReason !== undefined) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
          setTimeout(resolve, 1_000).unref();
        });
        continue;
      }
      const refresh = new AbortController();
      this.#claimRefresh = (kind) => {
        if ((kind === 'batch' && free === 0) || (kind === 'interactive' && freeApps === 0)) refresh.abort();
      };
      try {
        const answer = await this.#o.client.call<ClaimResponse>(
          InternalPaths.claim,
          {
            protocolVersion,
            instanceId: this.#o.agent.instanceId,
            capacity: free,
            interactiveCapacity: freeApps,
            waitMs: 20_000,
            heldRuns: this.#heldRuns(),
          },
          { timeoutMs: 30_000, signal: AbortSignal.any([this.#claimAbort.signal, refresh.signal]) },
        );
        failures = 0;
        this.cancel(answer.cancelRunIds);
        const launched: Promise<void>[] = [];
        for (const run of answer.runs) {
          // Handed again a run this instance holds: a control plane older than claimSeq
          // read a heartbeat late, and the claim looked undelivered. The lease is ours
          // again; the run goes on (or its final event does), and is never started twice.
          if (this.#active.has(run.runId) || this.#unreported.has(run.runId)) {
            this.#o.log.warn({ runId: run.runId }, 'claimed again a run this instance holds: not started twice');
            continue;
          }
          launched.push(this.#launch(run));
        }
        // Only now: every run of this answer is in `#active`, so listed by a heartbeat.
        if (answer.claimSeq !== undefined) this.#claimedThrough = Math.max(this.#claimedThrough, answer.claimSeq);
        // The next claim waits until these have started (a few milliseconds): it would
        // otherwise compete with their start for the CPU, here, at the control plane and
        // in the database, and a run queued meanwhile is handed to it at once anyway.
        if (launched.length > 0)
          await Promise.race([Promise.all(launched), sleep(claimDeferMs, undefined, { ref: false })]);
      } catch (error) {
        if (this.#closed) return;
        if (refresh.signal.aborted) continue;
        if (error instanceof CredentialsRevokedError) return;
        failures += 1;
        if (failures === 1) this.#o.log.warn({ err: String(error) }, 'claim failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  /** Starts a run; resolves once its command was let go, or the run ended before it could be. */
  #launch(run: ClaimedRun): Promise<void> {
    const active: ActiveRun = { run, logLines: 0 };
    this.#active.set(run.runId, active);
    const { promise: launched, resolve: started } = Promise.withResolvers<void>();
    void this.#execute(active, started)
      .catch(async (error: unknown) => {
        this.#o.log.error({ runId: run.runId, err: String(error) }, 'run execution failed');
        // Never leave a run to lapse into lost (and be retried) for a fault of ours.
        if (!active.ended && active.stopping !== 'fenced') {
          await this.#report(run, 'failed', { reasonCode: 'internal_error' }).catch(() => {});
        }
      })
      .finally(() => {
        started();
        this.#active.delete(run.runId);
        this.#o.logs.ended(run.runId);
        this.#slotFreed?.();
        this.#claimRefresh?.(run.kind);
        this.#o.outbox.wake();
      });
    return launched;
  }

  async #report(
    run: ClaimedRun,
    status: 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled',
    fields: { exitCode?: number | null; reasonCode?: ReasonCode; pgid?: number } = {},
  ): Promise<void> {
    const seq = await recordStatus(this.#o.db, run.runId, this.#o.agent.instanceId, status, fields);
    if (status !== 'running') {
      this.#unreported.set(run.runId, seq);
      const active = this.#active.get(run.runId);
      if (active !== undefined) active.ended = true;
    }
    this.#o.outbox.wake();
  }

  async #execute(active: ActiveRun, started: () => void): Promise<void> {
    const { run } = active;
    const { db } = this.#o;
    const workDir = join(this.#o.workRoot, run.runId);
    const appDir = join(workDir, 'app');
    const outputDir = join(workDir, 'outputs');
    const stateFile = join(workDir, 'state.json');
    try {
      // Synchronous, like the small writes below: each asynchronous call costs a thread pool
      // round trip (a few tenths of a millisecond) on the start path of every run.
      mkdirSync(outputDir, { recursive: true, mode: 0o700 });
      // Everything the start needs is asked for at once, the database first, so that a
      // PostgreSQL server works on the queries while this thread copies the working tree.
      // Where the database answers one query at a time (PGlite), the variables come first:
      // the shell cannot start without them. The claim on record (every status reported
      // updates its row) and the saved state, read by the same statement, are needed only
      // for the go, so they are answered while the shell starts.
      const variables = this.#o.variables.forRun(run.workspaceId).catch((error: unknown) => {
        // A wrong master key or a damaged secret: the job must not start without its secrets.
        this.#o.log.error({ runId: run.runId, err: String(error) }, 'the workspace’s secrets cannot be read');
        return undefined;
      });
      const beforeGo = recordClaim(db, run, this.#o.agent.instanceId);
      beforeGo.catch(() => {}); // awaited on every path below
      // Each of these ends in a value (a failure is logged and read below), so all three
      // have settled before anything is decided: nothing is left writing into a working
      // directory that a failed start removes.
      const [job, copied, vars] = await Promise.all([
        this.#o.copies.jobs(run.workspaceId, run.deploymentId).then(
          (jobs) => jobs.find((j) => j.name === run.jobName),
          () => undefined,
        ),
        this.#o.copies.checkout(run.workspaceId, run.deploymentId, appDir).then(
          () => true,
          (error: unknown) => {
            this.#o.log.error({ runId: run.runId, err: String(error) }, 'could not make a working copy');
            return false;
          },
        ),
        variables,
      ]);
      const fail = async (reasonCode: ReasonCode) => {
        await beforeGo;
        await this.#report(run, 'failed', { reasonCode });
      };
      if (job === undefined) return await fail('job_missing');
      if (!copied) return await fail('deployment_missing');
      if (vars === undefined) return await fail('secrets_unreadable');
      const { values } = vars;
      const masker = new Masker(vars.secrets);
      const interactive = run.kind === 'interactive' ? await this.#interactiveEnv(active, job) : {};
      const env: Record<string, string> = {
        // Only what a job needs: never the data plane's own environment (its credentials, its master key).
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: workDir,
        LANG: 'C.UTF-8',
        ...values,
        SOV_RUN_ID: run.runId,
        SOV_JOB: run.jobName,
        SOV_WORKSPACE_ID: run.workspaceId,
        SOV_ATTEMPT: String(run.attempt),
        SOV_OUTPUT_DIR: outputDir,
        SOV_STATE_FILE: stateFile,
        ...interactive,
      };
      if (active.stopping !== undefined) {
        await beforeGo;
        await this.#report(run, 'cancelled', { reasonCode: 'cancelled' });
        return;
      }
      let child: RunProcess;
      try {
        child = await RunProcess.start(this.#o.spawner, job.run, { cwd: appDir, env });
      } catch (error) {
        this.#o.log.error({ runId: run.runId, err: String(error) }, 'could not start the job');
        return await fail('spawn_failed');
      }
      let saved: Awaited<typeof beforeGo>;
      try {
        saved = await beforeGo;
      } catch (error) {
        child.kill(); // its command never ran: it waits for the go
        throw error;
      }
      const stateText = JSON.stringify(saved?.state ?? {});
      if (stateText.length <= 64 * 1024) writeFileSync(stateFile, stateText);
      else await writeFile(stateFile, stateText);
      active.process = child;
      // Stopped while it was being started: it ends before its command runs.
      if (active.stopping !== undefined) child.terminate(this.#o.killGraceMs);
      const logsDone = pumpLogs({
        stdout: child.stdout,
        stderr: child.stderr,
        exited: child.exited,
        masker,
        stored: active.logLines,
        append: (firstSeq, lines) => this.#o.logs.append(run.runId, firstSeq, lines),
      }).then((lines) => {
        active.logLines = lines;
      });
      // Its output is read from here on: the command may start.
      child.go();
      started();
      const timeout = setTimeout(() => this.#stop(active, 'timed_out'), run.timeoutSeconds * 1000);
      // An interactive job is running once its port answers; a batch job, once started.
      const ready = active.interactive === undefined || (await this.#awaitPort(active, child, job));
      if (ready) await this.#report(run, 'running', { pgid: child.pid });
      const outcome = await child.exited;
      clearTimeout(timeout);
      active.interactive?.idle?.stop();
      await logsDone;
      if (active.stopping === 'fenced') return;
      await collectOutputs(this.#o.db, this.#o.artifacts, run.runId, outputDir);
      if (active.stopping === 'start_timeout') {
        await this.#report(run, 'failed', { exitCode: outcome.exitCode, reasonCode: 'start_timeout' });
      } else if (!ready && active.stopping === undefined) {
        await this.#report(run, 'failed', { exitCode: outcome.exitCode, reasonCode: 'exited_before_ready' });
      } else if (active.stopping === 'idle') {
        // Nobody used it for its idle limit: a normal end for an app, not a failure.
        await this.#saveState(active, stateFile);
        await this.#report(run, 'succeeded', { exitCode: outcome.exitCode, reasonCode: 'idle_timeout' });
      } else if (active.stopping === 'timed_out') {
        await this.#report(run, 'timed_out', { exitCode: outcome.exitCode, reasonCode: 'timeout' });
      } else if (active.stopping === 'cancelled') {
        await this.#report(run, 'cancelled', { exitCode: outcome.exitCode, reasonCode: 'cancelled' });
      } else if (active.stopping === 'shutdown') {
        await this.#report(run, 'failed', { exitCode: outcome.exitCode, reasonCode: 'dataplane_shutdown' });
      } else if (outcome.exitCode === 0) {
        await this.#saveState(active, stateFile);
        await this.#report(run, 'succeeded', { exitCode: 0, reasonCode: 'exit_zero' });
      } else {
        const signalled = outcome.exitCode === null || outcome.exitCode > 128;
        await this.#report(run, 'failed', {
          exitCode: outcome.exitCode,
          reasonCode: signalled ? 'killed_by_signal' : 'exit_nonzero',
        });
      }
    } finally {
      await this.#janitor.remove(workDir).catch((error: unknown) => {
        this.#o.log.warn({ runId: run.runId, err: String(error) }, 'could not remove the working copy');
      });
    }
  }

  /** An interactive job's port and where it is served, in its environment. */
  async #interactiveEnv(active: ActiveRun, job: ManifestJob): Promise<Record<string, string>> {
    const port = await freeLoopbackPort();
    active.interactive = { port, stripPrefix: job.stripPrefix ?? true };
    const path = interactivePath(active.run.runId);
    return {
      PORT: String(port),
      // The path the browser sees; with strip_prefix (the default) the app is asked for paths from `/`.
      SOV_BASE_PATH: path,
      SOV_BASE_URL: `${this.#o.publicUrl}${path}`,
    };
  }

  /**
   * Waits for an interactive job's port to answer. Ready: the proxy may reach it, and its
   * idle watch starts. Not ready: the process ended first, or was stopped (cancel,
   * shutdown, or the start timeout, which stops it here).
   */
  async #awaitPort(active: ActiveRun, child: RunProcess, job: ManifestJob): Promise<boolean> {
    const app = active.interactive;
    if (app === undefined) return false;
    const readiness = await waitForPort(app.port, {
      exited: child.exited,
      timeoutMs: this.#o.interactiveStartTimeoutMs,
    });
    if (!readiness.ready) {
      if (readiness.why === 'timeout') this.#stop(active, 'start_timeout');
      return false;
    }
    if (active.stopping !== undefined) return true;
    app.host = readiness.host;
    const idleMs = (job.idleTimeoutSeconds ?? defaultIdleTimeoutSeconds) * 1000;
    app.idle = new IdleWatch(idleMs, () => {
      this.#o.log.info({ runId: active.run.runId, idleSeconds: idleMs / 1000 }, 'interactive run idle: stopping it');
      this.#stop(active, 'idle');
    });
    return true;
  }

  /** After a success, the state file becomes the job's state (when it can be stored). */
  async #saveState(active: ActiveRun, stateFile: string): Promise<void> {
    const { run } = active;
    const read = await readStateFile(stateFile);
    if (read.saved) return writeState(this.#o.db, run.workspaceId, run.jobName, read.state, run.runId);
    // Said in the run's own log, which stays here: the job's author is the one to act.
    active.logLines += 1;
    await this.#o.logs.append(run.runId, active.logLines, [
      { stream: 'stderr', at: new Date(), text: `sovereign: ${read.why}; state not saved` },
    ]);
  }
}
