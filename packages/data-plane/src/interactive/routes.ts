import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, interactivePath, interactivePathPrefix, interactiveTokenParam } from '@sovereign/protocol';
import { type App, BadRequestProblem, HttpProblem, problemContentType } from '@sovereign/protocol/http';
import type { FastifyBaseLogger } from 'fastify';
import { InteractiveNotRunningProblem, InteractiveUnreachableProblem, RunNotHereProblem } from './errors.ts';
import { type InteractiveGateway, type InteractiveUrl, parseInteractiveUrl } from './gateway.ts';
import { forwardHeaders, proxyHttp, proxyUpgrade, rawHead, upstreamPath } from './proxy.ts';
import { sessionSetCookie } from './session.ts';

export interface InteractiveRouteOptions {
  gateway: InteractiveGateway;
  publicUrl: string;
  /** Life of a session cookie set by the token exchange. */
  sessionSeconds: number;
  log: FastifyBaseLogger;
}

function problemBody(problem: HttpProblem): string {
  return JSON.stringify(problem.toDocument());
}

function asProblem(error: unknown): HttpProblem {
  return error instanceof HttpProblem ? error : new HttpProblem(500, ErrorCode.internal, 'Something went wrong.');
}

/** Answers a refusal on a plain response (the reply was handed over to the proxy). */
function writeProblem(res: ServerResponse, problem: HttpProblem): void {
  const body = problemBody(problem);
  res.writeHead(problem.status, {
    'content-type': problemContentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(problem.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}

/** Answers a refusal on a socket that asked for an upgrade, and hangs up. */
function refuseUpgrade(socket: Duplex, problem: HttpProblem): void {
  const body = problemBody(problem);
  const head = rawHead(problem.status, problem.toDocument().title, {
    'content-type': problemContentType,
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  socket.end(`${head}${body}`);
}

/**
 * `/api/v1/interactive/{runId}/...`, every method: the data plane's reverse proxy to
 * interactive jobs. HTTP is streamed both ways; WebSocket upgrades arrive on the
 * server's `upgrade` event (see `installInteractiveUpgrades`). Not behind the scoped
 * auth hook of the other routes: a browser authenticates with the run's session cookie.
 */
export async function interactiveRoutes(app: App, options: InteractiveRouteOptions) {
  const { gateway } = options;
  const proto = options.publicUrl.startsWith('https:') ? 'https' : 'http';
  // Bodies are the app's business: none is parsed here, each is streamed to the app as it comes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  /** The token exchange: sets the run's session cookie and sends the browser on without the token. */
  async function exchange(url: InteractiveUrl, token: string, res: ServerResponse): Promise<void> {
    const caller = await gateway.verifyToken(token);
    await gateway.run(url.runId, caller);
    const path = interactivePath(url.runId);
    const expiresAt = Math.floor(Date.now() / 1000) + options.sessionSeconds;
    const cookie = gateway.signer.sign({
      run: url.runId,
      ws: caller.workspaceId,
      sub: caller.userId,
      jti: caller.tokenId,
      exp: expiresAt,
    });
    const query = new URLSearchParams(url.query);
    query.delete(interactiveTokenParam);
    const rest = query.toString();
    res.writeHead(303, {
      location: `${interactivePathPrefix}/${url.runId}${url.rest || '/'}${rest === '' ? '' : `?${rest}`}`,
      'set-cookie': sessionSetCookie(cookie, path, options.sessionSeconds, proto === 'https'),
      'cache-control': 'no-store',
      // The URL that carried the token is not passed on to whatever the page loads next.
      'referrer-policy': 'no-referrer',
      'content-length': 0,
    });
    res.end();
  }

  app.all('/interactive/*', { schema: { hide: true } }, async (request, reply) => {
    const raw = request.raw;
    const url = parseInteractiveUrl(raw.url ?? '');
    if (url === undefined) throw new RunNotHereProblem();
    // One canonical URL per run, ending in a slash, so the app's relative links and the
    // session cookie's path both work.
    if (url.segment !== url.runId || url.rest === '') {
      const query = url.query === '' ? '' : `?${url.query}`;
      return reply.redirect(`${interactivePathPrefix}/${url.runId}${url.rest || '/'}${query}`, 308);
    }
    const token = new URLSearchParams(url.query).get(interactiveTokenParam);
    if (token !== null) {
      if (raw.method !== 'GET' && raw.method !== 'HEAD') {
        throw new BadRequestProblem(
          ErrorCode.validationFailed,
          `The ${interactiveTokenParam} parameter opens a run in a browser, with GET; send the token in the Authorization header otherwise.`,
        );
      }
      reply.hijack();
      try {
        await exchange(url, token, reply.raw);
      } catch (error) {
        if (!(error instanceof HttpProblem)) request.log.error({ err: error }, 'interactive token exchange failed');
        writeProblem(reply.raw, asProblem(error));
      }
      return;
    }
    let target: Awaited<ReturnType<InteractiveGateway['target']>>;
    let bearer: boolean;
    try {
      const caller = await gateway.caller(raw, url.runId);
      bearer = caller.bearer;
      target = await gateway.target(url.runId, caller);
    } catch (error) {
      if (error instanceof InteractiveNotRunningProblem && error.status === 503) reply.header('retry-after', '1');
      throw error;
    }
    reply.hijack();
    const headers = forwardHeaders(raw.headers, {
      dropAuthorization: bearer,
      prefix: target.prefix,
      proto,
      clientAddress: raw.socket.remoteAddress,
      upgrade: false,
    });
    proxyHttp(raw, reply.raw, target, upstreamPath(target, url.rest, url.query), headers, {
      unreachable: (res) => writeProblem(res, new InteractiveUnreachableProblem()),
    });
  });
}

/**
 * WebSocket upgrades to interactive runs, authorized as their HTTP requests are; any
 * other upgrade is refused. Upgraded sockets are tracked so a closing data plane ends them.
 */
export function installInteractiveUpgrades(app: App, options: InteractiveRouteOptions): { close(): void } {
  const proto = options.publicUrl.startsWith('https:') ? 'https' : 'http';
  const sockets = new Set<Duplex>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    void (async () => {
      const url = parseInteractiveUrl(req.url ?? '');
      if (url === undefined) {
        refuseUpgrade(
          socket,
          new HttpProblem(404, ErrorCode.routeNotFound, 'Only interactive runs take WebSocket connections.'),
        );
        return;
      }
      try {
        const caller = await options.gateway.caller(req, url.runId);
        const target = await options.gateway.target(url.runId, caller);
        const headers = forwardHeaders(req.headers, {
          dropAuthorization: caller.bearer,
          prefix: target.prefix,
          proto,
          clientAddress: req.socket.remoteAddress,
          upgrade: true,
        });
        proxyUpgrade(req, socket, head, target, upstreamPath(target, url.rest || '/', url.query), headers, {
          unreachable: () => refuseUpgrade(socket, new InteractiveUnreachableProblem()),
        });
      } catch (error) {
        const problem = asProblem(error);
        if (problem.status >= 500) options.log.warn({ err: String(error), runId: url.runId }, 'upgrade refused');
        refuseUpgrade(socket, problem);
      }
    })();
  };
  app.server.on('upgrade', onUpgrade);
  return {
    close() {
      app.server.off('upgrade', onUpgrade);
      for (const socket of sockets) socket.destroy();
    },
  };
}
