import type { IncomingMessage } from 'node:http';
import { ErrorCode, interactivePathPrefix, TokenType } from '@sovereign/contract';
import { ForbiddenProblem, UnauthorizedProblem } from '@sovereign/server-kit/http';
import type { Database } from '@sovereign/server-kit/sql';
import { decodeProtectedHeader } from 'jose';
import type { Agent } from '../agent/agent.ts';
import { DataplaneNotReadyProblem, type TokenVerifier } from '../auth/verify-token.ts';
import type { AppAddress } from '../launch/launcher.ts';
import { type LocalRun, localRun } from '../runs/store.ts';
import {
  InteractiveNotRunningProblem,
  InteractiveOnOtherInstanceProblem,
  RunNotHereProblem,
  RunNotInteractiveProblem,
  SessionInvalidProblem,
} from './errors.ts';
import type { ProxyTarget } from './proxy.ts';
import { type CookieNames, type InteractiveSession, readCookies, type SessionSigner } from './session.ts';

/** A running interactive job as the executor of this instance holds it. */
export interface LiveInteractive {
  workspaceId: string;
  /** Where the proxy reaches the app: set once it listens; until then it is starting. */
  address: AppAddress | undefined;
  /** The port the app listens on, as it sees it. */
  port: number;
  /** Traffic through the proxy: resets the idle clock. */
  activity: () => void;
}

/**
 * `/api/v1/interactive/<runId><rest>?<query>` on the data plane's own origin, split;
 * undefined for any other path. A GET there is sent on to the app's origin.
 */
export interface InteractiveUrl {
  runId: string;
  /** The run's segment as sent, which may differ from `runId` in case only. */
  segment: string;
  /** What follows the run's segment: '' or a path starting with '/'. */
  rest: string;
  query: string;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseInteractiveUrl(url: string): InteractiveUrl | undefined {
  const mark = url.indexOf('?');
  const path = mark === -1 ? url : url.slice(0, mark);
  const query = mark === -1 ? '' : url.slice(mark + 1);
  if (!path.startsWith(`${interactivePathPrefix}/`)) return undefined;
  const after = path.slice(interactivePathPrefix.length + 1);
  const slash = after.indexOf('/');
  const segment = slash === -1 ? after : after.slice(0, slash);
  if (!uuid.test(segment)) return undefined;
  return { runId: segment.toLowerCase(), segment, rest: slash === -1 ? '' : after.slice(slash), query };
}

/** Who may reach the run: from a session cookie or a bearer token. */
export interface InteractiveCaller {
  userId: string;
  workspaceId: string;
  tokenId: string;
  /** How the caller came: the app's session cookie (a browser), or a bearer token. */
  by: 'cookie' | 'bearer';
  /** Our bearer token was in the Authorization header: it is not forwarded. */
  bearer: boolean;
  /** When what it came with ends: its session, or its token. */
  expiresAt: Date;
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** Whether an Authorization header carries one of our scoped tokens (an app's own credentials pass through). */
function isScopedToken(token: string | undefined): boolean {
  if (token === undefined) return false;
  try {
    return decodeProtectedHeader(token).typ === TokenType.scoped;
  } catch {
    return false;
  }
}

export interface GatewayOptions {
  db: Database;
  agent: Agent;
  verifier: TokenVerifier;
  signer: SessionSigner;
  cookies: CookieNames;
  live: (runId: string) => LiveInteractive | undefined;
}

/**
 * Decides who reaches which interactive run: the caller (a session cookie for this
 * run, or a scoped token with the `interactive` scope), then the run (here, of the
 * caller's workspace, interactive, and running on this instance).
 */
export class InteractiveGateway {
  readonly #o: GatewayOptions;

  constructor(options: GatewayOptions) {
    this.#o = options;
  }

  get signer(): SessionSigner {
    return this.#o.signer;
  }

  get cookies(): CookieNames {
    return this.#o.cookies;
  }

  /** Checks a scoped token for the interactive scope. */
  async verifyToken(token: string | undefined): Promise<InteractiveCaller> {
    const principal = await this.#o.verifier.verify(token, undefined, 'interactive');
    return {
      userId: principal.userId,
      workspaceId: principal.workspaceId,
      tokenId: principal.tokenId,
      by: 'bearer',
      bearer: true,
      expiresAt: principal.expiresAt,
    };
  }

  /**
   * The caller of a request on `runId`'s origin. Our session cookie when one is valid
   * for this run (a sibling host may have added others of the same name: they open
   * nothing here); else a bearer token; a cookie that is not valid is refused when there
   * is no token.
   */
  async caller(req: IncomingMessage, runId: string): Promise<InteractiveCaller> {
    const cookies = readCookies(req.headers.cookie, this.#o.cookies.session);
    const token = bearerOf(req);
    for (const cookie of cookies) {
      const session = this.#o.signer.read(cookie);
      if (session === undefined || session.run !== runId) continue;
      await this.checkSession(session);
      return {
        userId: session.sub,
        workspaceId: session.ws,
        tokenId: session.jti,
        by: 'cookie',
        bearer: isScopedToken(token),
        expiresAt: new Date(session.exp * 1000),
      };
    }
    if (token === undefined && cookies.length > 0) throw new SessionInvalidProblem();
    return this.verifyToken(token);
  }

  /** A session (or a ticket about to become one) still stands: this data plane serves, its token is not revoked. */
  async checkSession(session: Pick<InteractiveSession, 'ws' | 'jti'>): Promise<void> {
    const agent = this.#o.agent;
    if (agent.stoppedReason !== undefined || agent.identity === undefined) {
      throw new DataplaneNotReadyProblem('This data plane serves no requests right now.');
    }
    if (agent.isRevoked(session.jti)) {
      throw new UnauthorizedProblem(ErrorCode.tokenRevoked, 'The token this session was opened with was revoked.');
    }
    // Another instance of this data plane may have opened it for a workspace this one has yet to hear of.
    if (!(await agent.learnHosts(session.ws))) {
      throw new ForbiddenProblem(ErrorCode.workspaceNotHosted, 'That workspace is not hosted by this data plane.');
    }
  }

  /**
   * Whether a caller let in earlier may still be served: its session or token has not
   * ended, its token was not revoked since, and this data plane still serves. A WebSocket
   * asks as it goes, where a request asks once.
   */
  stillStands(caller: Pick<InteractiveCaller, 'tokenId' | 'expiresAt'>, now = Date.now()): boolean {
    return this.#o.agent.stillServes(caller.tokenId) && now <= caller.expiresAt.getTime();
  }

  /** The run, when it is here and of the caller's workspace: another workspace's run does not exist here. */
  async run(runId: string, caller: Pick<InteractiveCaller, 'workspaceId'>): Promise<LocalRun> {
    const run = await localRun(this.#o.db, runId);
    if (run === undefined || run.workspace_id !== caller.workspaceId) throw new RunNotHereProblem();
    if (run.kind !== 'interactive') throw new RunNotInteractiveProblem();
    return run;
  }

  /** Where to forward: the app of a run that runs on this instance and whose port answers. */
  async target(runId: string, caller: InteractiveCaller): Promise<ProxyTarget> {
    const run = await this.run(runId, caller);
    const live = this.#o.live(runId);
    if (live === undefined || live.workspaceId !== run.workspace_id) {
      if (run.status === 'running' && run.instance_id !== this.#o.agent.instanceId) {
        throw new InteractiveOnOtherInstanceProblem();
      }
      // Still 'running' here but gone from the executor: it is being stopped right now.
      const status = run.status === 'running' ? 'stopping' : run.status === 'abandoned' ? 'lost' : run.status;
      throw new InteractiveNotRunningProblem(status);
    }
    if (live.address === undefined) throw new InteractiveNotRunningProblem('starting');
    return { address: live.address, port: live.port, activity: live.activity };
  }
}
