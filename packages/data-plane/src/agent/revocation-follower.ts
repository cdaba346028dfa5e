import { setTimeout as sleep } from 'node:timers/promises';
import { InternalRoutes, protocolVersion, type RevocationsRequest } from '@sovereign/contract';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from './agent.ts';
import { type ControlPlaneClient, CredentialsRevokedError, ProtocolRefusedError } from './control-plane-client.ts';

/** How long the control plane holds a request open when nothing is revoked. */
const waitMs = 25_000;

/**
 * Follows the revocations of this data plane's tokens as they happen: a request held
 * open at the control plane, answered the moment a token is revoked (a member removed,
 * a user signed out everywhere, an API key deleted, a token revoked by hand). A revoked
 * token, and every app session opened with it, is refused here within a second rather
 * than at the next heartbeat, whose full list stays the fallback.
 */
export class RevocationFollower {
  readonly #client: ControlPlaneClient;
  readonly #agent: Agent;
  readonly #log: FastifyBaseLogger;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  /** The newest revocation number seen; 0 asks for every one that still matters. */
  #after = 0;

  constructor(options: { client: ControlPlaneClient; agent: Agent; log: FastifyBaseLogger }) {
    this.#client = options.client;
    this.#agent = options.agent;
    this.#log = options.log;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted && this.#agent.stoppedReason === undefined) {
      if (!this.#agent.initialized) {
        await sleep(200, undefined, { signal }).catch(() => {});
        continue;
      }
      try {
        const request: RevocationsRequest = { protocolVersion, after: this.#after, waitMs };
        const answer = await this.#client.call(InternalRoutes.revocations, request, {
          timeoutMs: waitMs + 15_000,
          signal,
        });
        await this.#agent.learnRevoked(answer.revokedTokens);
        if (answer.revokedTokens.length > 0) {
          this.#log.info({ tokens: answer.revokedTokens.length }, 'tokens revoked: refused from now on');
        }
        this.#after = answer.through;
        failures = 0;
      } catch (error) {
        if (signal.aborted || error instanceof CredentialsRevokedError) return;
        failures += 1;
        // A control plane older than this route answers 404: the heartbeat's list serves.
        const older = error instanceof ProtocolRefusedError && error.status === 404;
        if (failures === 1 && !older) {
          this.#log.warn({ err: error }, 'could not follow revocations');
        }
        const backoff = older ? 60_000 : Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        await sleep(backoff, undefined, { signal }).catch(() => {});
      }
    }
  }
}
