import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClaimedRun, ReasonCode, RunEventsResponse } from '@sovereign/contract';
import type { Database } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from '../agent/agent.ts';
import type { ControlPlaneClient } from '../agent/control-plane-client.ts';
import { defaultIdleTimeoutSeconds, type ManifestJob } from '../deployments/index.ts';
import type { Environments, HeldEnvironments } from '../environments/builder.ts';
import type { Janitor } from '../files/janitor.ts';
import type { LiveInteractive } from '../interactive/gateway.ts';
import { IdleWatch } from '../interactive/idle.ts';
import type { AppAddress, LaunchedRun, Launcher, RunPaths, RunSlot } from '../launch/launcher.ts';
import { formatLimit, type LimitSettings, type RunLimits, resolveLimits } from '../launch/limits.ts';
import { Masker, minMaskedLength, tooShortToMask } from '../logs/mask.ts';
import { pumpLogs } from '../logs/pump.ts';
import type { LogStore } from '../logs/store.ts';
import type { OutboxDeliverer } from '../outbox/outbox.ts';
import { parameterEnv } from '../parameters/declarations.ts';
import { parametersForRun } from '../parameters/for-run.ts';
import { liveInstances, recordClaim, recordStatus, runEventKind, sweepOrphans, touchInstance } from '../runs/store.ts';
import { writeState } from '../state/store.ts';
import type { ArtifactStore } from '../storage/artifacts.ts';
import type { Variables } from '../variables/index.ts';
import { ClaimLoop } from './claim-loop.ts';
import { runOutcome, type StopReason } from './outcome.ts';
import { collectOutputs, maxStateBytes, readStateFile, skippedOutputNotes, writeStateFile } from './results.ts';
import type { CopySize, WorkingCopies } from './working-copies.ts';

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
  /** Where each run's processes start: a jail, or (SOV_SANDBOX=off) none. */
  launcher: Launcher;
  /** The environments deployments declared, built in the region: a run gets its job's, read-only. */
  environments?: Environments;
  /** The files that define a deployment's environments, from its bundle: to build one again that the cache let go. */
  environmentFiles?: (workspaceId: string, deploymentId: string) => Promise<Map<string, Buffer>>;
  /** Walks run directories off the main thread. */
  janitor: Janitor;
  runs: {
    /** Batch runs at once. */
    capacity: number;
    /** Interactive runs at once, counted apart: apps live long and are mostly idle. */
    interactiveCapacity: number;
    /** What a run may use unless its job asks otherwise, and the most a job may ask. */
    limits: LimitSettings;
    /** Time between SIGTERM and SIGKILL when a run is stopped. */
    killGraceMs: number;
    /** Interactive jobs: how long their port may take to answer after the start. */
    interactiveStartTimeoutMs: number;
  };
  /** An instance not seen for this long is gone: its runs are abandoned, its files removed. */
  instanceStaleSeconds: number;
  /** Where a run's app is served (its own origin): interactive jobs are told. */
  appUrl: (runId: string) => string;
  log: FastifyBaseLogger;
}

interface ActiveRun {
  run: ClaimedRun;
  process?: LaunchedRun;
  /** Log lines stored so far. */
  logLines: number;
  /** Why we stopped it, when we did. */
  stopping?: StopReason;
  /** Its secrets' masker, once they are read: what the data plane says in its log is masked too. */
  masker?: Masker;
  /** Stopped because its files under /job (not only its outputs) went past what it may keep there. */
  homeFull?: boolean;
  /** Its final status is recorded (the outbox delivers it). */
  ended?: boolean;
  /** An interactive job's port, where the proxy reaches it once it listens, and its idle watch. */
  interactive?: { port: number; address?: AppAddress; idle?: IdleWatch };
  /**
   * It counts against the capacity: from its claim until its process has ended. What
   * follows (outputs, state, the final status, the jail's teardown) is bookkeeping that
   * overlaps the next run's start, as a queue's worker takes its next job while the last
   * one's completion is written.
   */
  inSlot: boolean;
}

/**
 * A home's entries besides its working copy (itself, the copy's directory, outputs, the
 * state and parameters files, an environment's link), and the block a Measure's `usage`
 * counts each at least.
 */
const homeEntriesBesideCopy = 16;
const usageBlock = 4096;

/** How often a running run's output directory is measured against its limit. */
const outputCheckMs = 5_000;

/**
 * The interval a scheduled or backfilled run covers, as the control plane handed it out
 * (ISO 8601, UTC): from its schedule's previous due time to its own. Others get none.
 */
function intervalEnv(run: ClaimedRun): Record<string, string> {
  if (run.intervalStart === undefined || run.intervalEnd === undefined) return {};
  return {
    SOV_INTERVAL_START: new Date(run.intervalStart).toISOString(),
    SOV_INTERVAL_END: new Date(run.intervalEnd).toISOString(),
  };
}

/**
 * Runs jobs. For each run the claim loop brings, it gets a slot from the launcher (a
 * jail), fills it with a fresh working copy of the deployment and the job's saved state,
 * starts the job's command with the workspace's variables and the SOV_* variables, stores
 * its logs (secrets masked), outputs and state here, and reports statuses through the
 * outbox. What becomes of a run is decided by runOutcome(), from how it ended.
 */
export class Executor {
  readonly #o: ExecutorOptions;
  readonly #active = new Map<string, ActiveRun>();
  /**
   * Runs that ended here whose final event the control plane has not acknowledged yet
   * (run id -> its sequence number): still held, so their lease is renewed meanwhile.
   */
  readonly #unreported = new Map<string, number>();
  readonly #claims: ClaimLoop;
  /** The highest `claimSeq` whose runs are in `#active` (or were): see `holding()`. */
  #claimedThrough = 0;
  #closed = false;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: ExecutorOptions) {
    this.#o = options;
    // The agent and the outbox know no executor: it listens to what the control plane told them.
    options.agent.on('runControl', ({ cancelRunIds, fencedRunIds }) => {
      this.cancel(cancelRunIds);
      this.fence(fencedRunIds);
    });
    options.agent.holdingFrom(() => this.holding());
    options.outbox.on('answered', ({ kind, answer }) => {
      if (kind === runEventKind.kind) this.acknowledge(answer as RunEventsResponse);
    });
    this.#claims = new ClaimLoop({
      client: options.client,
      agent: options.agent,
      capacity: options.runs.capacity,
      interactiveCapacity: options.runs.interactiveCapacity,
      running: () => {
        const running = { batch: 0, interactive: 0 };
        for (const active of this.#active.values()) if (active.inSlot) running[active.run.kind] += 1;
        return running;
      },
      heldRuns: () => this.#heldRuns(),
      holds: (runId) => this.#active.has(runId) || this.#unreported.has(runId),
      launch: (run) => this.#launch(run),
      cancel: (runIds) => this.cancel(runIds),
      tookIn: (claimSeq) => {
        this.#claimedThrough = Math.max(this.#claimedThrough, claimSeq);
      },
      log: options.log,
    });
  }

  /** An interactive run this instance is running, for the proxy; undefined for any other. */
  interactive(runId: string): LiveInteractive | undefined {
    const active = this.#active.get(runId);
    const app = active?.interactive;
    if (active === undefined || app === undefined || active.stopping !== undefined) return undefined;
    return {
      workspaceId: active.run.workspaceId,
      address: app.address,
      port: app.port,
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
  acknowledge(answer: RunEventsResponse): void {
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
        // Runs of an instance that died: their followers stop waiting; the files the
        // instance left behind (its runs' directories, its cache) are nobody's now.
        for (const runId of await sweepOrphans(this.#o.db, this.#o.instanceStaleSeconds)) this.#o.logs.ended(runId);
        const live = await liveInstances(this.#o.db, this.#o.instanceStaleSeconds);
        await this.#o.launcher.removeStale(live);
        await this.#o.copies.removeStale((instanceId) => live.has(instanceId));
      } catch (error) {
        this.#o.log.warn({ err: error }, 'orphan sweep failed');
      }
      if (!this.#closed) {
        this.#sweepTimer = setTimeout(sweep, 5_000);
        this.#sweepTimer.unref();
      }
    };
    void sweep();
    this.#claims.start();
  }

  /** Stops claiming; running jobs are stopped and reported as cancelled (dataplane_shutdown), not failed. */
  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    for (const active of this.#active.values()) this.#stop(active, 'shutdown');
    await this.#claims.stop();
    while (this.#active.size > 0) await new Promise((r) => setTimeout(r, 50));
    await this.#o.launcher.close();
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

  #stop(active: ActiveRun, why: StopReason): void {
    active.stopping ??= why;
    active.process?.terminate(this.#o.runs.killGraceMs);
  }

  /** Starts a run; resolves once its command was let go, or the run ended before it could be. */
  #launch(run: ClaimedRun): Promise<void> {
    const active: ActiveRun = { run, logLines: 0, inSlot: true };
    this.#active.set(run.runId, active);
    const { promise: launched, resolve: started } = Promise.withResolvers<void>();
    void this.#execute(active, started)
      .catch(async (error: unknown) => {
        this.#o.log.error({ runId: run.runId, err: error }, 'run execution failed');
        // Never leave a run to lapse into lost (and be retried) for a fault of ours.
        if (!active.ended && active.stopping !== 'fenced') {
          await this.#report(run, 'failed', { reasonCode: 'internal_error' }).catch(() => {});
        }
      })
      .finally(() => {
        started();
        this.#active.delete(run.runId);
        this.#o.logs.ended(run.runId);
        this.#leaveSlot(active);
        this.#o.outbox.wake();
      });
    return launched;
  }

  /** Its process has ended (or never started): its room may be claimed again. */
  #leaveSlot(active: ActiveRun): void {
    if (!active.inSlot) return;
    active.inSlot = false;
    this.#claims.freed(active.run.kind);
  }

  async #report(
    run: ClaimedRun,
    status: 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled',
    fields: { exitCode?: number | null; reasonCode?: ReasonCode; pgid?: number; at?: Date } = {},
  ): Promise<void> {
    const seq = await recordStatus(this.#o.db, run.runId, this.#o.agent.instanceId, status, fields);
    if (status !== 'running') {
      this.#unreported.set(run.runId, seq);
      const active = this.#active.get(run.runId);
      if (active !== undefined) active.ended = true;
    }
    this.#o.outbox.wake();
  }

  /** Says something to the job's author in the run's own log (which stays in the region). */
  async #note(active: ActiveRun, text: string): Promise<void> {
    active.logLines += 1;
    // A note may quote what the job wrote (a member name of its state file, say): a secret
    // in it is masked as in the job's own output.
    const masked = active.masker?.mask(text) ?? text;
    await this.#o.logs.append(active.run.runId, active.logLines, [{ stream: 'stderr', at: new Date(), text: masked }]);
  }

  async #execute(active: ActiveRun, started: () => void): Promise<void> {
    const { run } = active;
    const { db } = this.#o;
    let slot: RunSlot | undefined;
    let held: HeldEnvironments | undefined;
    try {
      // Everything the start needs is asked for at once, the database first, so that a
      // PostgreSQL server works on the queries while this thread prepares the run. Where
      // the database answers one query at a time (PGlite), the variables come first: the
      // command cannot start without them. The claim on record (every status reported
      // updates its row) and the saved state, read by the same statement, are needed only
      // for the go, so they are answered while the command's process starts.
      const variables = this.#o.variables.forRun(run.workspaceId).catch((error: unknown) => {
        // A wrong master key or a damaged secret: the job must not start without its secrets.
        this.#o.log.error({ runId: run.runId, err: error }, 'the workspace’s secrets cannot be read');
        return undefined;
      });
      const beforeGo = recordClaim(db, run, this.#o.agent.instanceId);
      beforeGo.catch(() => {}); // awaited on every path below
      const fail = async (reasonCode: ReasonCode) => {
        await Promise.all([beforeGo, variables]);
        await this.#report(run, 'failed', { reasonCode });
      };
      // Known here already but for a deployment's first run: its jobs are remembered.
      const job = await this.#o.copies.jobs(run.workspaceId, run.deploymentId).then(
        (jobs) => jobs.find((j) => j.name === run.jobName),
        () => undefined,
      );
      if (job === undefined) return await fail('job_missing');
      // Customer data (issue 20): in the job's environment and home, never in our logs.
      const params = await parametersForRun(db, run, job);
      if (!params.ok) {
        await beforeGo;
        await this.#note(active, `sovereign: the run did not start: ${params.why}`);
        return await fail(params.reasonCode);
      }
      const limits = resolveLimits(job.limits, this.#o.runs.limits);
      const files = this.#o.environmentFiles;
      try {
        held =
          job.environments === undefined || files === undefined
            ? undefined
            : await this.#o.environments?.hold(job.environments, () => files(run.workspaceId, run.deploymentId));
      } catch (error) {
        this.#o.log.error({ runId: run.runId, err: error }, 'could not build the run’s environment');
        return await fail('environment_failed');
      }
      const environment = held?.use;
      try {
        slot = await this.#o.launcher.acquire({
          runId: run.runId,
          kind: run.kind,
          limits,
          network: job.network ?? 'outside',
          ...(environment === undefined ? {} : { mounts: environment.mounts, pathPrefix: environment.pathPrefix }),
        });
      } catch (error) {
        this.#o.log.error({ runId: run.runId, err: error }, 'could not make the run’s sandbox');
        return await fail('sandbox_failed');
      }
      const room = slot;
      // Each of these ends in a value (a failure is logged and read below), so both have
      // settled before anything is decided: nothing is left writing into a directory that
      // a failed start removes.
      const [copied, vars] = await Promise.all([
        this.#o.copies.checkout(run.workspaceId, run.deploymentId, room.host.app, room.owner).then(
          (size) => size,
          (error: unknown) => {
            this.#o.log.error({ runId: run.runId, err: error }, 'could not make a working copy');
            return undefined;
          },
        ),
        variables,
      ]);
      if (copied === undefined) return await fail('deployment_missing');
      // A Node environment is found where Node looks, beside the code; a node_modules the
      // bundle brings (taken back in by a .sovignore) is the project's choice and stays.
      if (environment?.nodeModules !== undefined) {
        await symlink(environment.nodeModules, join(room.host.app, 'node_modules')).catch(
          (error: NodeJS.ErrnoException) => {
            if (error.code !== 'EEXIST') throw error;
          },
        );
      }
      if (vars === undefined) return await fail('secrets_unreadable');
      const masker = new Masker(vars.secrets.map((secret) => secret.value));
      active.masker = masker;
      const env: Record<string, string> = {
        // Only what a job needs: never the data plane's own environment (its credentials, its master key).
        LANG: 'C.UTF-8',
        ...vars.values,
        ...environment?.env,
        HOME: room.job.home,
        SOV_RUN_ID: run.runId,
        SOV_JOB: run.jobName,
        SOV_WORKSPACE_ID: run.workspaceId,
        SOV_ATTEMPT: String(run.attempt),
        SOV_OUTPUT_DIR: room.job.outputs,
        SOV_STATE_FILE: room.job.stateFile,
        ...intervalEnv(run),
        ...(params.values === undefined
          ? {}
          : { ...parameterEnv(params.values), SOV_PARAMS_FILE: room.job.paramsFile }),
        ...this.#interactiveEnv(active, room),
      };
      if (active.stopping !== undefined) {
        await beforeGo;
        await this.#report(run, 'cancelled', { reasonCode: 'cancelled' });
        return;
      }
      if (params.values !== undefined) await writeStateFile(room.host.paramsFile, params.values, room.owner);
      let child: LaunchedRun;
      try {
        child = await room.start(job.run, env, { onLimit: (limit) => this.#stop(active, `${limit}_limit`) });
      } catch (error) {
        this.#o.log.error({ runId: run.runId, err: error }, 'could not start the job');
        return await fail('spawn_failed');
      }
      let saved: Awaited<typeof beforeGo>;
      try {
        saved = await beforeGo;
      } catch (error) {
        child.kill(); // its command never ran: it waits for the go
        throw error;
      }
      await writeStateFile(room.host.stateFile, saved?.state ?? {}, room.owner);
      active.process = child;
      // Stopped while it was being started: it ends before its command runs.
      if (active.stopping !== undefined) child.terminate(this.#o.runs.killGraceMs);
      await this.#noteUnmasked(active, vars.secrets);
      const logsDone = pumpLogs({
        stdout: child.stdout,
        stderr: child.stderr,
        exited: child.exited,
        masker,
        stored: active.logLines,
        maxBytes: limits.logBytes,
        onLimit: () => this.#stop(active, 'log_limit'),
        append: (firstSeq, lines) => this.#o.logs.append(run.runId, firstSeq, lines),
      }).then((lines) => {
        active.logLines = lines;
      });
      // Its output is read from here on: the command may start.
      child.go();
      const wentAt = new Date();
      started();
      const timeout = setTimeout(() => this.#stop(active, 'timed_out'), run.timeoutSeconds * 1000);
      const outputWatch = this.#watchDisk(active, room.host, limits.outputBytes, copied);
      // An interactive job is running once its port answers; a batch job, once started.
      const ready = active.interactive === undefined || (await this.#awaitApp(active, child, job));
      if (ready) await this.#report(run, 'running', { pgid: child.pid, at: wentAt });
      const ending = await child.exited;
      const endedAt = new Date();
      this.#leaveSlot(active);
      clearTimeout(timeout);
      clearInterval(outputWatch);
      active.interactive?.idle?.stop();
      await logsDone;
      if (active.stopping === 'fenced') return;
      const collected = await collectOutputs(db, this.#o.artifacts, run.runId, room.host.outputs, limits.outputBytes);
      if (!collected.complete) active.stopping ??= 'output_limit';
      for (const note of skippedOutputNotes(collected.skipped)) await this.#note(active, note);
      if (collected.refused === true) {
        await this.#note(active, `sovereign: ${room.job.outputs} was not a directory (a link?): no output was kept`);
      }
      const outcome = runOutcome({
        kind: run.kind,
        stopping: active.stopping,
        ready,
        exitCode: ending.exitCode,
        limitsHit: ending.limitsHit,
      });
      if (!outcome.report) return;
      await this.#explainLimit(active, outcome.reasonCode, limits);
      if (outcome.saveState) await this.#saveState(active, room.host.stateFile);
      await this.#report(run, outcome.status, {
        exitCode: ending.exitCode,
        reasonCode: outcome.reasonCode,
        at: endedAt,
      });
    } finally {
      await slot?.release().catch((error: unknown) => {
        this.#o.log.warn({ runId: run.runId, err: error }, 'could not free the run’s sandbox');
      });
      held?.release();
    }
  }

  /** An interactive job's port and where it is served, in its environment. */
  #interactiveEnv(active: ActiveRun, slot: RunSlot): Record<string, string> {
    if (active.run.kind !== 'interactive' || slot.port === undefined) return {};
    active.interactive = { port: slot.port };
    return {
      PORT: String(slot.port),
      // Every app is served from `/` of an origin of its own: the browser's paths are the app's.
      SOV_BASE_PATH: '/',
      SOV_BASE_URL: this.#o.appUrl(active.run.runId),
    };
  }

  /**
   * Waits for an interactive job's app to listen. Ready: the proxy may reach it, and its
   * idle watch starts. Not ready: the process ended first, or was stopped (cancel,
   * shutdown, or the start timeout, which stops it here).
   */
  async #awaitApp(active: ActiveRun, child: LaunchedRun, job: ManifestJob): Promise<boolean> {
    const app = active.interactive;
    if (app === undefined) return false;
    const readiness = await child.waitForApp(app.port, this.#o.runs.interactiveStartTimeoutMs);
    this.#o.log.info(
      { runId: active.run.runId, ready: readiness.ready, ...(readiness.ready ? {} : { why: readiness.why }) },
      readiness.ready ? 'interactive app listening' : 'interactive app never listened',
    );
    if (!readiness.ready) {
      if (readiness.why === 'timeout') this.#stop(active, 'start_timeout');
      return false;
    }
    if (active.stopping !== undefined) return true;
    app.address = readiness.address;
    const idleMs = (job.idleTimeoutSeconds ?? defaultIdleTimeoutSeconds) * 1000;
    app.idle = new IdleWatch(idleMs, () => {
      this.#o.log.info({ runId: active.run.runId, idleSeconds: idleMs / 1000 }, 'interactive run idle: stopping it');
      this.#stop(active, 'idle');
    });
    return true;
  }

  /**
   * Measures the run's files now and then, as a kubelet measures a pod's ephemeral
   * storage: a run past its output limit is stopped (`output_limit`), and so is one whose
   * home (working copy, outputs, state and anything else it writes there: a directory of
   * the machine's disk, shared by every tenant's runs) takes more than its working copy
   * (its bytes, and a block for each entry, as Measure's `usage` counts), its outputs and a state
   * file may. Scratch space is /tmp, a tmpfs of its own limit.
   */
  #watchDisk(active: ActiveRun, host: RunPaths, maxBytes: number, copy: CopySize): NodeJS.Timeout {
    const homeMax = copy.bytes + (copy.entries + homeEntriesBesideCopy) * usageBlock + maxBytes + maxStateBytes;
    let measuring = false;
    const { janitor } = this.#o;
    const timer = setInterval(() => {
      if (measuring || active.stopping !== undefined) return;
      measuring = true;
      // One walk of the home for both: the outputs are in it.
      janitor
        .measure(host.home, host.outputs, { files: maxBytes, usage: homeMax })
        .then((measured) => {
          if (measured.files > maxBytes) this.#stop(active, 'output_limit');
          else if (measured.usage > homeMax) {
            active.homeFull = true;
            this.#stop(active, 'output_limit');
          }
        })
        .catch(() => {})
        .finally(() => {
          measuring = false;
        });
    }, outputCheckMs);
    timer.unref();
    return timer;
  }

  /** Names, in the run's log, the secrets too short to be masked in it (never their values). */
  async #noteUnmasked(active: ActiveRun, secrets: Array<{ name: string; value: string }>): Promise<void> {
    const names = secrets
      .filter((secret) => secret.value.length > 0 && tooShortToMask(secret.value))
      .map((secret) => secret.name);
    if (names.length === 0) return;
    await this.#note(
      active,
      `sovereign: secrets shorter than ${minMaskedLength} characters are not masked in this log: ${names.sort().join(', ')}`,
    );
  }

  /**
   * A run that ended by one of its limits says which, and how much it was, as the last
   * line of its own log: whether the data plane stopped it once it saw the limit, or it
   * ended on its own after the kernel enforced it (the OOM killer, a refused fork).
   */
  async #explainLimit(active: ActiveRun, reason: ReasonCode, limits: RunLimits): Promise<void> {
    const stopped = active.stopping === reason ? ' and was stopped' : '';
    const said: Partial<Record<ReasonCode, string>> = {
      out_of_memory: `the run went past its memory limit (${formatLimit('memoryBytes', limits.memoryBytes)}): the kernel killed a process of it`,
      log_limit: `the run printed more than its log limit (${formatLimit('logBytes', limits.logBytes)}) and was stopped`,
      output_limit:
        active.homeFull === true
          ? `the run's files in its home ($HOME) went past its working copy, its output limit (${formatLimit('outputBytes', limits.outputBytes)}) and a state file, and it was stopped: scratch space is /tmp`
          : `the run's outputs went past its output limit (${formatLimit('outputBytes', limits.outputBytes)}): it failed, and what was past the limit was not kept`,
      pids_limit: `the run reached its process limit (${limits.pids})${stopped}`,
      tmp_limit: `the run filled its /tmp (${formatLimit('tmpBytes', limits.tmpBytes)})${stopped}`,
    };
    const text = said[reason];
    if (text !== undefined) await this.#note(active, `sovereign: ${text}`);
  }

  /** After a success, the state file becomes the job's state (when it can be stored). */
  async #saveState(active: ActiveRun, stateFile: string): Promise<void> {
    const { run } = active;
    const read = await readStateFile(stateFile);
    if (read.saved) return writeState(this.#o.db, run.workspaceId, run.jobName, read.state, run.runId);
    // Said in the run's own log, which stays here: the job's author is the one to act.
    await this.#note(active, `sovereign: ${read.why}; state not saved`);
  }
}
