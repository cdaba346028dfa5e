import {
  appLaunchPath,
  appTicketParam,
  dashboardLaunchPath,
  type InteractiveLaunch,
  type InteractiveLaunchRequest,
  interactiveTicketSeconds,
  launchPathParam,
  launchStateParam,
} from '@sovereign/contract';
import type { Database } from '@sovereign/server-kit/sql';
import type { ScopedPrincipal } from '../auth/verify-token.ts';
import { TicketInvalidProblem } from './errors.ts';
import type { InteractiveGateway } from './gateway.ts';
import type { AppOrigins } from './origins.ts';
import { digest, newSecret, secretPattern, setCookie } from './session.ts';
import { redeemTicket, storeTicket } from './store.ts';

/** How long a browser may take from the app's origin through the dashboard (a sign-in, say) and back. */
const launchCookieSeconds = 600;
/** Where in the app a launch may land: a path of its origin, never `//host` or `/\host` (another site). */
export const appPathPattern = String.raw`^/(?![/\\])[^\s\\\x00-\x1f\x7f]*$`;
const appPath = new RegExp(appPathPattern);
export const appPathMaxLength = 2048;

export function isAppPath(path: string): boolean {
  return path.length <= appPathMaxLength && appPath.test(path);
}

export interface LaunchOptions {
  db: Database;
  gateway: InteractiveGateway;
  origins: AppOrigins;
  dashboardUrl: string;
  /** Life of the session cookie a redeemed ticket sets. */
  sessionSeconds: number;
}

/** An answer that sends the browser on: where to, and the cookies it sets on the app's origin. */
export interface Onward {
  location: string;
  cookies: string[];
}

/**
 * How a browser gets a session for an app, so that it is only ever a session of the
 * browser's own user, started by the data plane itself:
 *
 * 1. A navigation to the app's origin without a session gets a launch cookie there (a
 *    secret, HttpOnly, host-only) and is sent to the dashboard with the cookie's hash,
 *    the `state` (`start`).
 * 2. The dashboard, signed in as its user, asks for a ticket with a scoped token, by
 *    POST, bound to that state (`issue`): the ticket is for the token's user and this
 *    run only. A user who may not open the app gets no ticket.
 * 3. The browser opens the ticket's URL on the app's origin; the ticket is redeemed
 *    there once, within a minute, and only with the launch cookie it is bound to
 *    (`redeem`), and the session cookie is set.
 *
 * An attacker's ticket is bound to the attacker's own launch cookie, which no other
 * browser holds: a link carrying it logs nobody in.
 */
export class AppLaunches {
  readonly #o: LaunchOptions;

  constructor(options: LaunchOptions) {
    this.#o = options;
  }

  /** Step 1: the launch cookie, and the dashboard page that asks for a ticket. */
  start(runId: string, requested: string): Onward {
    const secret = newSecret();
    const query = new URLSearchParams({
      [launchStateParam]: digest(secret),
      [launchPathParam]: isAppPath(requested) ? requested : '/',
    });
    return {
      location: `${this.#o.dashboardUrl}${dashboardLaunchPath(runId)}?${query}`,
      cookies: [setCookie(this.#o.gateway.cookies.launch, secret, launchCookieSeconds, this.#o.origins.secure)],
    };
  }

  /** Step 2: a ticket for the token's user, on this run, bound to the browser's state. */
  async issue(caller: ScopedPrincipal, runId: string, request: InteractiveLaunchRequest): Promise<InteractiveLaunch> {
    await this.#o.gateway.run(runId, caller);
    const ticket = newSecret();
    const expiresAt = await storeTicket(
      this.#o.db,
      digest(ticket),
      request.state,
      {
        runId,
        workspaceId: caller.workspaceId,
        userId: caller.userId,
        tokenId: caller.tokenId,
        path: request.path ?? '/',
      },
      interactiveTicketSeconds,
    );
    const { origins } = this.#o;
    return {
      url: origins.urlOf(runId, `${appLaunchPath}?${appTicketParam}=${ticket}`),
      appUrl: origins.urlOf(runId, '/'),
      expiresAt: expiresAt.toISOString(),
    };
  }

  /**
   * Step 3: the ticket, with the one launch cookie this browser holds for the app's
   * origin (two mean a sibling host added one: refused), becomes the session cookie.
   */
  async redeem(runId: string, ticket: string | null, launchCookies: string[]): Promise<Onward> {
    const [secret] = launchCookies;
    if (ticket === null || !secretPattern.test(ticket) || launchCookies.length !== 1 || secret === undefined) {
      throw new TicketInvalidProblem();
    }
    if (!secretPattern.test(secret)) throw new TicketInvalidProblem();
    const grant = await redeemTicket(this.#o.db, digest(ticket), runId, digest(secret));
    if (grant === undefined) throw new TicketInvalidProblem();
    const { gateway, origins } = this.#o;
    await gateway.checkSession({ ws: grant.workspaceId, jti: grant.tokenId });
    await gateway.run(runId, { workspaceId: grant.workspaceId });
    const session = gateway.signer.sign({
      run: runId,
      ws: grant.workspaceId,
      sub: grant.userId,
      jti: grant.tokenId,
      exp: Math.floor(Date.now() / 1000) + this.#o.sessionSeconds,
    });
    return {
      location: grant.path,
      cookies: [
        setCookie(gateway.cookies.session, session, this.#o.sessionSeconds, origins.secure),
        setCookie(gateway.cookies.launch, '', 0, origins.secure),
      ],
    };
  }
}
