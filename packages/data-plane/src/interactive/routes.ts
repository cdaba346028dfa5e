import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Closed, ErrorCode, interactivePathPrefix, Timestamp, Uuid } from '@sovereign/contract';
import { type App, HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import { type AppOriginOptions, refuseUpgrade, serveAppRequest, serveAppUpgrade } from './app-origin.ts';
import { parseInteractiveUrl } from './gateway.ts';
import { type AppLaunches, appPathMaxLength, appPathPattern } from './launch.ts';
import type { AppOrigins } from './origins.ts';

/**
 * `POST /runs/{runId}/app/launch`: a launch ticket for the run's app, for the token's
 * user, bound to the state the app's origin gave the browser. Behind the scoped auth
 * of the API (scope `interactive`).
 */
export async function appLaunchRoutes(app: App, options: { launches: AppLaunches }) {
  app.post(
    '/runs/:runId/app/launch',
    {
      config: { scope: 'interactive' },
      schema: {
        tags: ['Interactive'],
        summary: 'A single-use launch ticket for an interactive run’s app, on the app’s own origin',
        description:
          'The dashboard asks for it when a browser arrives from the app’s origin with a `state`; the browser that holds the launch cookie behind that state opens `url` once, within a minute, and gets the app’s session cookie for the token’s user.',
        params: Closed({ runId: Uuid }),
        body: Closed({
          state: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'As the app’s origin gave it.' }),
          path: Type.Optional(
            Type.String({ maxLength: appPathMaxLength, pattern: appPathPattern, description: 'Where to land.' }),
          ),
        }),
        response: {
          200: Type.Object({ url: Type.String(), appUrl: Type.String(), expiresAt: Timestamp }),
        },
      },
    },
    async (request) => options.launches.issue(scopedOf(request), request.params.runId, request.body),
  );
}

/**
 * `GET /interactive/{runId}/...` on the data plane's own origin, the URL the control
 * plane hands out for a run: sent on to the same path of the app's origin. Nothing of
 * an app is served on this origin. A token an older client put in the URL is dropped.
 */
export async function interactiveRedirects(app: App, options: { origins: AppOrigins }) {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/interactive/*',
    schema: { hide: true },
    handler: async (request, reply) => {
      const url = parseInteractiveUrl(request.raw.url ?? '');
      if (url === undefined) throw new NotFoundProblem(ErrorCode.runNotFound, 'No such run on this data plane.');
      const query = new URLSearchParams(url.query);
      query.delete('sov_token');
      const rest = query.size === 0 ? '' : `?${query}`;
      reply.header('cache-control', 'no-store');
      return reply.redirect(options.origins.urlOf(url.runId, `${url.rest || '/'}${rest}`), 308);
    },
  });
}

/**
 * Serves every run's origin from the data plane's own server: a request whose Host is a
 * run's origin goes to that run's app (see app-origin.ts) before Fastify routes
 * anything, so no path of the API, health checks or metrics is reached from there. Any
 * other request is the API's. WebSocket upgrades are taken on app origins only.
 */
export function installAppOrigins(app: App, options: AppOriginOptions): { close(): void } {
  const server = app.server;
  const api = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const runId = options.origins.runOf(req.headers.host);
    if (runId !== undefined) {
      serveAppRequest(req, res, runId, options);
      return;
    }
    for (const listener of api) listener.call(server, req, res);
  });

  const sockets = new Set<Duplex>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const runId = options.origins.runOf(req.headers.host);
    if (runId === undefined) {
      refuseUpgrade(
        socket,
        new HttpProblem(
          404,
          ErrorCode.routeNotFound,
          `Only interactive apps take WebSocket connections, each on its own origin (not under ${interactivePathPrefix}).`,
        ),
      );
      return;
    }
    serveAppUpgrade(req, socket, head, runId, options);
  };
  server.on('upgrade', onUpgrade);
  return {
    close() {
      server.off('upgrade', onUpgrade);
      for (const socket of sockets) socket.destroy();
    },
  };
}
