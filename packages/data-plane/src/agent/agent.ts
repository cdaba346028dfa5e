import {
  ErrorCode,
  type HeartbeatRequest,
  type InitializeRequest,
  type InitializeResponse,
  InternalRoutes,
  interactiveSessionMaxSeconds,
  protocolVersion,
  type RevokedToken,
  type SandboxFacts,
} from '@sovereign/contract';
import type { Database } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import { Events } from '../events.ts';
import { type ControlPlaneClient, CredentialsRevokedError, ProtocolRefusedError } from './control-plane-client.ts';
import { type AgentSnapshot, loadSnapshot, saveSnapshot } from './state.ts';

export interface AgentOptions {
  db: Database;
  client: ControlPlaneClient;
  clientId: string;
  /** This instance's id, made at its start: its runs, jails and cache are named by it too. */
  instanceId: string;
  publicUrl: string;
  version: string;
  capacity: number;
  /** What this instance runs jobs in: told to the control plane, for the data plane's health. */
  sandbox?: SandboxFacts;
  log: FastifyBaseLogger;
}

/** Runs this instance holds, to renew their leases, and the highest claim it had taken in as it listed them. */
export type Holding = Pick<HeartbeatRequest, 'heldRuns' | 'claimedThrough'>;

/** What the agent tells whoever listens (the executor), as the control plane's answers say it. */
export interface AgentEvents {
  /** Runs to stop, as a heartbeat answer lists them: cancelled, or whose lease was lost (fenced). */
  runControl: { cancelRunIds: string[]; fencedRunIds: string[] };
}

const maxBackoffMs = 30_000;
/** How soon an instance refused for its public URL asks again. */
const refusedRetryMs = 5_000;
/**
 * At most one early heartbeat (asked for by a token naming a workspace this instance
 * does not know) per this many ms: a flood of such tokens cannot hammer the control plane.
 */
const earlyHeartbeatIntervalMs = 1_000;
/** How long a request waits for an early heartbeat's answer before it is refused: never a long hang. */
const earlyHeartbeatWaitMs = 3_000;

const noop = () => {};

/** Waits for `promise` (its failure is someone else's to report) until `deadline` at most. */
async function within(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  try {
    await Promise.race([promise.then(noop, noop), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The data plane's side of the protocol: it initializes with the control plane, then
 * heartbeats. Every answer updates what the token checks rely on (hosted workspaces,
 * revoked token ids, whether to take work). When the control plane is away it keeps
 * serving from what it last learned and retries by itself; when its credentials are
 * refused it stops taking work for good and says why.
 */
export class Agent {
  readonly instanceId: string;
  readonly #options: AgentOptions;
  readonly #events = new Events<AgentEvents>();
  /** Where heartbeats learn what this instance holds: nothing until the executor says. */
  #holding: () => Holding = () => ({ heldRuns: [], claimedThrough: 0 });
  #snapshot: AgentSnapshot | undefined;
  #workspaces = new Set<string>();
  #revoked = new Map<string, number>();
  #stoppedReason: string | undefined;
  /** The control plane refuses this instance's public URL: no work until it accepts it. */
  #urlRefused: { publicUrl: string } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #failures = 0;
  #lastHeartbeatAt: Date | undefined;
  #jwksFetchedAt = 0;
  /** The heartbeat in flight: heartbeats are sent one at a time, so answers apply in order. */
  #beat: Promise<number> | undefined;
  /** An early heartbeat asked for and not sent yet: every request that needs one shares it. */
  #early: Promise<void> | undefined;
  /** When the last early heartbeat was sent, for their rate limit. */
  #earlySentAt = 0;
  /** Initialized with the control plane in this process (not only restored from the database). */
  #initialized = false;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.instanceId = options.instanceId;
  }

  on<Name extends keyof AgentEvents>(name: Name, listener: (event: AgentEvents[Name]) => void): void {
    this.#events.on(name, listener);
  }

  /** Heartbeats list what `source` says this instance holds (the executor's runs), to renew their leases. */
  holdingFrom(source: () => Holding): void {
    this.#holding = source;
  }

  /** Loads what the last run learned, then starts talking to the control plane in the background. */
  async start(): Promise<void> {
    const saved = await loadSnapshot(this.#options.db, this.#options.clientId);
    if (saved !== undefined) this.#apply(saved);
    this.#schedule(0, () => this.#initialize());
  }

  stop(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  get identity(): InitializeResponse | undefined {
    return this.#snapshot?.identity;
  }

  /** Why this data plane no longer takes work, when its credentials were refused. */
  get stoppedReason(): string | undefined {
    return this.#stoppedReason;
  }

  /**
   * Why the control plane refuses this instance for now (it reports another public URL
   * than its data plane's), until a heartbeat is accepted again.
   */
  get refusedReason(): string | undefined {
    return this.#urlRefused === undefined
      ? undefined
      : `the control plane refuses its public URL (${this.#options.publicUrl}): the data plane's is ${this.#urlRefused.publicUrl}`;
  }

  get accepting(): boolean {
    return this.#stoppedReason === undefined && this.#urlRefused === undefined && (this.#snapshot?.accepting ?? false);
  }

  get lastHeartbeatAt(): Date | undefined {
    return this.#lastHeartbeatAt;
  }

  hosts(workspaceId: string): boolean {
    return this.#workspaces.has(workspaceId);
  }

  /**
   * Whether this instance hosts the workspace, asking the control plane at once when it
   * does not know it (a workspace created since the last heartbeat, whose token the
   * control plane signed for this data plane): by an early heartbeat, shared by every
   * request waiting for one, sent at most once per `earlyHeartbeatIntervalMs`, and waited
   * for no longer than `waitMs`. A workspace its answer does not list (deleted) is
   * not hosted here; nor is any while the control plane cannot be reached.
   */
  async learnHosts(workspaceId: string, waitMs = earlyHeartbeatWaitMs): Promise<boolean> {
    if (this.hosts(workspaceId)) return true;
    if (!this.#initialized || this.#closed || this.#stoppedReason !== undefined) return false;
    const deadline = Date.now() + waitMs;
    // A heartbeat in flight (most often the early one a burst of first requests asked
    // for) may bring it already.
    if (this.#beat !== undefined) {
      await within(this.#beat, deadline);
      if (this.hosts(workspaceId)) return true;
    }
    // Else one sent after now: the control plane reads its workspaces after it signed this token.
    this.#early ??= this.#earlyHeartbeat(workspaceId);
    await within(this.#early, deadline);
    return this.hosts(workspaceId);
  }

  async #earlyHeartbeat(workspaceId: string): Promise<void> {
    try {
      // Waited for even when it is 0: sending clears `#early`, which must be this promise by then.
      const wait = Math.max(0, this.#earlySentAt + earlyHeartbeatIntervalMs - Date.now());
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
      if (this.#closed) {
        this.#early = undefined;
        return;
      }
      await this.#heartbeat({
        timeoutMs: earlyHeartbeatWaitMs,
        onSend: () => {
          // Sent: whoever needs one from now on asks for the next.
          this.#early = undefined;
          this.#earlySentAt = Date.now();
          this.#options.log.info(
            { workspaceId, instanceId: this.instanceId },
            'early heartbeat: a valid token names a workspace this instance does not know',
          );
        },
      });
    } catch (error) {
      // The scheduled heartbeats report (and act on) the control plane's failures.
      this.#options.log.warn({ err: error, workspaceId }, 'early heartbeat failed: the workspace is refused for now');
    }
  }

  /**
   * A token id the control plane lists as revoked. It lists them past their expiry for
   * as long as an interactive session opened with one may last, so a session checks here too.
   */
  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  /**
   * Whether a caller who came with token `jti` may still be served here: the token is not
   * revoked, and this data plane still serves. A stream or a WebSocket asks as it goes.
   */
  stillServes(jti: string): boolean {
    return this.#stoppedReason === undefined && !this.#revoked.has(jti);
  }

  jwks(): AgentSnapshot['jwks'] {
    return this.#snapshot?.jwks ?? { keys: [] };
  }

  /**
   * Fetches the control plane's keys again, at most once per `minIntervalMs` (an
   * unknown `kid` must not let anyone make us hammer the control plane).
   */
  async refreshJwks(minIntervalMs = 5_000): Promise<boolean> {
    if (this.#snapshot === undefined || Date.now() - this.#jwksFetchedAt < minIntervalMs) return false;
    this.#jwksFetchedAt = Date.now();
    try {
      const jwks = await this.#options.client.jwks();
      await this.#save({ ...this.#snapshot, jwks });
      return true;
    } catch (error) {
      this.#options.log.warn({ err: error }, 'could not refresh the control plane keys');
      return false;
    }
  }

  /** Registered with the control plane in this process: its calls may begin. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /**
   * Revocations the control plane announced as they happened (between heartbeats): in
   * force at once, and kept in the saved snapshot.
   */
  async learnRevoked(tokens: RevokedToken[]): Promise<void> {
    const snapshot = this.#snapshot;
    if (snapshot === undefined || tokens.length === 0) return;
    await this.#save({ ...snapshot, revokedTokens: [...snapshot.revokedTokens, ...tokens] });
  }

  #apply(snapshot: AgentSnapshot): void {
    // A revocation is never undone, so what is known is kept, whoever said it last (a
    // heartbeat's full list may have been read before a revocation announced since), and
    // forgotten once no token or app session it names can be used any more.
    const forgetBefore = Date.now() - interactiveSessionMaxSeconds * 1000;
    const revoked = new Map<string, RevokedToken>();
    for (const token of [...(this.#snapshot?.revokedTokens ?? []), ...snapshot.revokedTokens]) {
      if (Date.parse(token.expiresAt) > forgetBefore) revoked.set(token.jti, token);
    }
    this.#snapshot = { ...snapshot, revokedTokens: [...revoked.values()] };
    this.#workspaces = new Set(snapshot.workspaceIds);
    this.#revoked = new Map([...revoked.values()].map((r) => [r.jti, Date.parse(r.expiresAt)]));
  }

  async #save(snapshot: AgentSnapshot): Promise<void> {
    this.#apply(snapshot);
    await saveSnapshot(this.#options.db, this.#snapshot ?? snapshot);
  }

  #schedule(delayMs: number, step: () => Promise<number>): void {
    if (this.#closed || this.#stoppedReason !== undefined) return;
    this.#timer = setTimeout(async () => {
      let next: number;
      try {
        next = await step();
        if (this.#urlRefused !== undefined) {
          this.#options.log.info(
            { publicUrl: this.#options.publicUrl, instanceId: this.instanceId },
            'the control plane accepts this instance’s public URL now: it takes work again',
          );
          this.#urlRefused = undefined;
        } else if (this.#failures > 0) {
          this.#options.log.info({ afterFailures: this.#failures }, 'control plane reachable again');
        }
        this.#failures = 0;
      } catch (error) {
        if (error instanceof ProtocolRefusedError && error.code === ErrorCode.dataplanePublicUrlMismatch) {
          this.#refusedForUrl(error);
        } else if (error instanceof CredentialsRevokedError) {
          this.#stoppedReason = error.code;
          this.#options.log.error(
            { code: error.code, instanceId: this.instanceId },
            'the control plane refused this data plane’s credentials (deleted or revoked): it takes no more work',
          );
          return;
        }
        this.#failures += 1;
        if (this.#urlRefused === undefined && (this.#failures === 1 || this.#failures % 20 === 0)) {
          this.#options.log.warn(
            { err: error, failures: this.#failures },
            'control plane call failed; retrying by itself',
          );
        }
        next = Math.min(maxBackoffMs, 500 * 2 ** Math.min(this.#failures, 6));
        // Refused for its URL, it asks again soon: an administrator's fix holds from the next call.
        if (this.#urlRefused !== undefined) next = Math.min(next, refusedRetryMs);
        // Once registered, retry no slower than the heartbeat interval: leases depend on it.
        const interval = (this.#snapshot?.identity.heartbeatIntervalSeconds ?? 0) * 1000;
        if (this.#initialized && interval > 0) next = Math.min(next, interval);
        // Until initialized, retry initialize; afterwards keep heartbeating.
        if (this.#snapshot === undefined || !this.#initialized) {
          this.#schedule(next, () => this.#initialize());
          return;
        }
      }
      this.#schedule(next, () => this.#heartbeat());
    }, delayMs);
    this.#timer.unref();
  }

  /**
   * The control plane refused this instance: it reports another public URL than its data
   * plane's, which is where clients are sent. Said loudly (at the first refusal, then
   * every 20th), with both URLs and the two ways out; no work is taken meanwhile.
   */
  #refusedForUrl(error: ProtocolRefusedError): void {
    const publicUrl = typeof error.problem.publicUrl === 'string' ? error.problem.publicUrl : 'unknown';
    const first = this.#urlRefused === undefined;
    this.#urlRefused = { publicUrl };
    if (first || (this.#failures + 1) % 20 === 0) {
      this.#options.log.error(
        {
          code: error.code,
          instanceId: this.instanceId,
          reportedUrl: this.#options.publicUrl,
          dataplanePublicUrl: publicUrl,
        },
        `the control plane refused this instance: it reports public URL ${this.#options.publicUrl} (SOV_PUBLIC_URL), ` +
          `but this data plane's public URL is ${publicUrl}. It takes no work until they agree: start it with ` +
          `SOV_PUBLIC_URL=${publicUrl}, or have an administrator set the data plane's publicUrl`,
      );
    }
  }

  #facts(): InitializeRequest {
    const sandbox = this.#options.sandbox;
    return {
      protocolVersion,
      instanceId: this.instanceId,
      version: this.#options.version,
      publicUrl: this.#options.publicUrl,
      capacity: this.#options.capacity,
      ...(sandbox === undefined ? {} : { sandbox }),
    };
  }

  async #initialize(): Promise<number> {
    const identity = await this.#options.client.call(InternalRoutes.initialize, this.#facts());
    const jwks = await this.#options.client.jwks();
    this.#jwksFetchedAt = Date.now();
    await this.#save({
      clientId: this.#options.clientId,
      identity,
      jwks,
      workspaceIds: this.#snapshot?.workspaceIds ?? [],
      revokedTokens: this.#snapshot?.revokedTokens ?? [],
      accepting: identity.dataplaneEnabled && identity.regionEnabled,
    });
    this.#initialized = true;
    this.#options.log.info(
      { dataplaneId: identity.dataplaneId, region: identity.regionName, instanceId: this.instanceId },
      'data plane registered with its control plane',
    );
    return this.#heartbeat();
  }

  /**
   * One heartbeat, once any in flight has been answered: two at once could apply their
   * answers out of order (an older list of workspaces last), and would renew the same
   * leases twice. `onSend` is told when it is sent.
   */
  async #heartbeat(options: { timeoutMs?: number; onSend?: () => void } = {}): Promise<number> {
    while (this.#beat !== undefined) await this.#beat.then(noop, noop);
    options.onSend?.();
    const beat = this.#sendHeartbeat(options.timeoutMs);
    this.#beat = beat;
    try {
      return await beat;
    } finally {
      if (this.#beat === beat) this.#beat = undefined;
    }
  }

  async #sendHeartbeat(timeoutMs: number | undefined): Promise<number> {
    const request: HeartbeatRequest = {
      ...this.#facts(),
      ...this.#holding(),
    };
    const answer = await this.#options.client.call(
      InternalRoutes.heartbeat,
      request,
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    const snapshot = this.#snapshot;
    if (snapshot === undefined) throw new Error('heartbeat before initialize');
    if (snapshot.accepting !== answer.accepting) {
      this.#options.log.warn(
        { accepting: answer.accepting, reason: answer.reason ?? null },
        answer.accepting ? 'the control plane enabled this data plane' : 'the control plane disabled this data plane',
      );
    }
    await this.#save({
      ...snapshot,
      identity: {
        ...snapshot.identity,
        dataplaneEnabled: answer.dataplaneEnabled,
        regionEnabled: answer.regionEnabled,
      },
      workspaceIds: answer.workspaceIds,
      revokedTokens: answer.revokedTokens,
      accepting: answer.accepting,
    });
    this.#lastHeartbeatAt = new Date();
    this.#events.emit('runControl', { cancelRunIds: answer.cancelRunIds, fencedRunIds: answer.fencedRunIds });
    return answer.heartbeatIntervalSeconds * 1000;
  }
}
