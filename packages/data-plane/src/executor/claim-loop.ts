import { setTimeout as sleep } from 'node:timers/promises';
import { type ClaimedRun, InternalRoutes, protocolVersion } from '@sovereign/contract';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from '../agent/agent.ts';
import { type ControlPlaneClient, CredentialsRevokedError } from '../agent/control-plane-client.ts';

export interface ClaimLoopOptions {
  client: ControlPlaneClient;
  agent: Agent;
  /** Batch runs at once. */
  capacity: number;
  /** Interactive runs at once, counted apart: apps live long and are mostly idle. */
  interactiveCapacity: number;
  /** Runs this instance has now, by kind. */
  running(): { batch: number; interactive: number };
  /** Runs this instance holds, for the claim to list. */
  heldRuns(): string[];
  /** Whether this instance holds the run already. */
  holds(runId: string): boolean;
  /** Starts a run; resolves once its command was let go, or the run ended before it could be. */
  launch(run: ClaimedRun): Promise<void>;
  /** Runs whose cancel was asked for. */
  cancel(runIds: string[]): void;
  /** Every run of the answer numbered `claimSeq` is held now. */
  tookIn(claimSeq: number): void;
  log: FastifyBaseLogger;
}

/** The longest the next claim waits for the runs of the last one to start. */
const claimDeferMs = 50;

/**
 * Holds a claim open to the control plane while this instance has room, and launches
 * the runs each answer brings. A queued run reaches it in milliseconds: the control
 * plane answers a held claim the moment a run exists.
 */
export class ClaimLoop {
  readonly #o: ClaimLoopOptions;
  readonly #abort = new AbortController();
  #closed = false;
  #loop: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  /**
   * Ends the claim held open when it was sent without room for a kind of run that now
   * has some (a batch slot freed while the claim asked for apps only): it is sent again
   * at once. The control plane hands back what it claimed for an abandoned request, and
   * a claim lost in that race is requeued by the next claim, which lists what we hold.
   */
  #refresh: ((kind: ClaimedRun['kind']) => void) | undefined;

  constructor(options: ClaimLoopOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops claiming; a claim held open is abandoned. */
  async stop(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#slotFreed?.();
    await this.#loop;
  }

  /** A run of `kind` ended: its room may be claimed again. */
  freed(kind: ClaimedRun['kind']): void {
    this.#slotFreed?.();
    this.#refresh?.(kind);
  }

  async #run(): Promise<void> {
    const o = this.#o;
    let failures = 0;
    while (!this.#closed) {
      const running = o.running();
      const free = Math.max(0, o.capacity - running.batch);
      const freeApps = Math.max(0, o.interactiveCapacity - running.interactive);
      if ((free === 0 && freeApps === 0) || !o.agent.accepting || o.agent.stoppedReason !== undefined) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
          setTimeout(resolve, 1_000).unref();
        });
        continue;
      }
      const refresh = new AbortController();
      this.#refresh = (kind) => {
        if ((kind === 'batch' && free === 0) || (kind === 'interactive' && freeApps === 0)) refresh.abort();
      };
      try {
        const answer = await o.client.call(
          InternalRoutes.claim,
          {
            protocolVersion,
            instanceId: o.agent.instanceId,
            capacity: free,
            interactiveCapacity: freeApps,
            waitMs: 20_000,
            heldRuns: o.heldRuns(),
          },
          { timeoutMs: 30_000, signal: AbortSignal.any([this.#abort.signal, refresh.signal]) },
        );
        failures = 0;
        o.cancel(answer.cancelRunIds);
        const launched: Promise<void>[] = [];
        for (const run of answer.runs) {
          // Handed again a run this instance holds: a control plane older than claimSeq
          // read a heartbeat late, and the claim looked undelivered. The lease is ours
          // again; the run goes on (or its final event does), and is never started twice.
          if (o.holds(run.runId)) {
            o.log.warn({ runId: run.runId }, 'claimed again a run this instance holds: not started twice');
            continue;
          }
          launched.push(o.launch(run));
        }
        // Only now: every run of this answer is held, so listed by a heartbeat.
        if (answer.claimSeq !== undefined) o.tookIn(answer.claimSeq);
        // The next claim waits until these have started (a few milliseconds): it would
        // otherwise compete with their start for the CPU, here, at the control plane and
        // in the database, and a run queued meanwhile is handed to it at once anyway.
        if (launched.length > 0) {
          await Promise.race([Promise.all(launched), sleep(claimDeferMs, undefined, { ref: false })]);
        }
      } catch (error) {
        if (this.#closed) return;
        if (refresh.signal.aborted) continue;
        if (error instanceof CredentialsRevokedError) return;
        failures += 1;
        if (failures === 1) o.log.warn({ err: error }, 'claim failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(failures, 6))));
      }
    }
  }
}
