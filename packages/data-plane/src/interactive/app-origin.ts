import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { appLaunchPath, appTicketParam, ErrorCode } from '@sovereign/contract';
import { BadRequestProblem, HttpProblem, problemContentType } from '@sovereign/server-kit/http';
import type { FastifyBaseLogger } from 'fastify';
import { CrossOriginProblem, InteractiveUnreachableProblem } from './errors.ts';
import { allowedWithCookie, isTopLevelNavigation, upgradeAllowedWithCookie } from './fetch-metadata.ts';
import type { InteractiveCaller, InteractiveGateway } from './gateway.ts';
import type { AppLaunches, Onward } from './launch.ts';
import type { AppOrigins } from './origins.ts';
import { forwardHeaders, proxyHttp, proxyUpgrade, rawHead } from './proxy.ts';
import { readCookies } from './session.ts';

export interface AppOriginOptions {
  gateway: InteractiveGateway;
  launches: AppLaunches;
  origins: AppOrigins;
  log: FastifyBaseLogger;
}

function asProblem(error: unknown): HttpProblem {
  return error instanceof HttpProblem ? error : new HttpProblem(500, ErrorCode.internal, 'Something went wrong.');
}

/** Answers a refusal on a plain response. */
export function writeProblem(res: ServerResponse, problem: HttpProblem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem.toDocument());
  res.writeHead(problem.status, {
    'content-type': problemContentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(problem.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}

/** Answers a refusal on a socket that asked for an upgrade, and hangs up. */
export function refuseUpgrade(socket: Duplex, problem: HttpProblem): void {
  const body = JSON.stringify(problem.toDocument());
  const head = rawHead(problem.status, problem.toDocument().title, {
    'content-type': problemContentType,
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  socket.end(`${head}${body}`);
}

/** Sends the browser on, setting cookies on the app's origin; nothing of it is cached or passed on as a referrer. */
function sendOnward(res: ServerResponse, onward: Onward): void {
  res.writeHead(303, {
    location: onward.location,
    'set-cookie': onward.cookies,
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-length': 0,
  });
  res.end();
}

function hasBearer(req: IncomingMessage): boolean {
  return /^Bearer\s/i.test(req.headers.authorization ?? '');
}

/**
 * A request that arrived on a run's own origin: it reaches that run's app and nothing
 * else, whatever its path (the data plane's API is not served here). One path is the
 * data plane's: the launch ticket's redemption.
 */
export function serveAppRequest(req: IncomingMessage, res: ServerResponse, runId: string, o: AppOriginOptions): void {
  void handle(req, res, runId, o).catch((error: unknown) => {
    const problem = asProblem(error);
    if (problem.status >= 500) o.log.warn({ runId, err: error }, 'app request failed');
    else o.log.info({ runId, status: problem.status, code: problem.code }, 'app request refused');
    writeProblem(res, problem);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, runId: string, o: AppOriginOptions): Promise<void> {
  const url = req.url ?? '';
  // Origin-form only (`/path?query`): no absolute URL or `*` reaches an app.
  if (!url.startsWith('/')) throw new BadRequestProblem(ErrorCode.malformedRequest, 'The request target is a path.');
  const mark = url.indexOf('?');
  const path = mark === -1 ? url : url.slice(0, mark);
  if (path === appLaunchPath) return redeem(req, res, runId, url.slice(mark + 1), o);

  let caller: InteractiveCaller;
  try {
    caller = await o.gateway.caller(req, runId);
  } catch (error) {
    // A browser opening the app without a session: it goes to get one (see AppLaunches).
    if (error instanceof HttpProblem && error.status === 401 && !hasBearer(req)) {
      if (isTopLevelNavigation(req.headers, req.method)) return sendOnward(res, o.launches.start(runId, url));
    }
    throw error;
  }
  if (caller.by === 'cookie' && !allowedWithCookie(req.headers, req.method, o.origins.originOf(runId))) {
    throw new CrossOriginProblem();
  }
  const target = await o.gateway.target(runId, caller);
  const headers = forwardHeaders(req.headers, {
    dropAuthorization: caller.bearer,
    proto: o.origins.scheme,
    clientAddress: req.socket.remoteAddress,
    upgrade: false,
  });
  proxyHttp(req, res, target, url, headers, {
    unreachable: (answer) => writeProblem(answer, new InteractiveUnreachableProblem()),
  });
}

/**
 * The launch ticket's URL, opened by the browser that holds the launch cookie it is
 * bound to, as a page of its own (a frame, fetch or image of any origin is refused).
 */
async function redeem(
  req: IncomingMessage,
  res: ServerResponse,
  runId: string,
  query: string,
  o: AppOriginOptions,
): Promise<void> {
  if (req.method !== 'GET') {
    throw new BadRequestProblem(ErrorCode.validationFailed, 'A launch link is opened with GET, by a browser.');
  }
  const mode = req.headers['sec-fetch-mode'];
  const dest = req.headers['sec-fetch-dest'];
  if ((mode !== undefined && mode !== 'navigate') || (dest !== undefined && dest !== 'document')) {
    throw new CrossOriginProblem();
  }
  const ticket = new URLSearchParams(query).get(appTicketParam);
  const onward = await o.launches.redeem(runId, ticket, readCookies(req.headers.cookie, o.gateway.cookies.launch));
  o.log.info({ runId }, 'app session opened');
  sendOnward(res, onward);
}

/** How often an app's open WebSocket checks that its caller may still be served. */
const upgradeCheckMs = 1_000;

/**
 * A WebSocket (any upgrade) on a run's own origin, authorized as its HTTP requests are;
 * a browser's, with the session cookie, only from the app's own pages.
 */
export function serveAppUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  runId: string,
  o: AppOriginOptions,
): void {
  void (async () => {
    const url = req.url ?? '';
    if (!url.startsWith('/')) throw new BadRequestProblem(ErrorCode.malformedRequest, 'The request target is a path.');
    const caller = await o.gateway.caller(req, runId);
    if (caller.by === 'cookie' && !upgradeAllowedWithCookie(req.headers, o.origins.originOf(runId))) {
      throw new CrossOriginProblem();
    }
    const target = await o.gateway.target(runId, caller);
    const headers = forwardHeaders(req.headers, {
      dropAuthorization: caller.bearer,
      proto: o.origins.scheme,
      clientAddress: req.socket.remoteAddress,
      upgrade: true,
    });
    proxyUpgrade(req, socket, head, target, url, headers, {
      unreachable: () => refuseUpgrade(socket, new InteractiveUnreachableProblem()),
    });
    // The connection outlives the check above: it ends when its session or token does,
    // or once the token is revoked (the app's side goes with it).
    const watch = setInterval(() => {
      if (o.gateway.stillStands(caller)) return;
      o.log.info({ runId }, 'app WebSocket closed: its session or token ended');
      socket.destroy();
    }, upgradeCheckMs);
    watch.unref();
    socket.once('close', () => clearInterval(watch));
  })().catch((error: unknown) => {
    const problem = asProblem(error);
    if (problem.status >= 500) o.log.warn({ err: error, runId }, 'upgrade refused');
    refuseUpgrade(socket, problem);
  });
}
