import { access } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { App } from '@sovereign/protocol/http';
import type { FastifyReply } from 'fastify';

/** First path segments that belong to the API and the services' endpoints, never to the dashboard. */
const reservedSegments = new Set(['api', '.well-known', 'healthz', 'readyz', 'metrics']);

/** Vite names every built asset under assets/ after a hash of its contents: safe to keep for good. */
const immutable = 'public, max-age=31536000, immutable';
/** Everything else (index.html first) is revalidated, so a new build is picked up at once. */
const revalidate = 'no-cache';

/**
 * The page runs only our own scripts and styles; it talks to this origin and, for logs,
 * outputs, state and variables, to whichever data plane hosts a workspace (R2), whose
 * URL is known only at run time.
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export const notBuiltMessage = (dir: string) =>
  `The dashboard is not built: ${dir}/index.html is missing.\n` +
  'Run `npm install` in the repository (it builds packages/dashboard), or `npm run build -w @sovereign/dashboard`.\n' +
  'The API is served all the same, under /api/public/v1.\n';

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

/**
 * Serves the dashboard's build at `/`: files as they are, index.html for every other
 * path (the app routes in the browser), and a plain answer when there is no build. Routes
 * of the API, /.well-known, /healthz, /readyz and /metrics are declared elsewhere and win;
 * an unknown path under them is still the API's 404 problem, never the page.
 */
export async function dashboardRoutes(app: App, options: { dir: string }): Promise<void> {
  const root = resolve(options.dir);
  const index = join(root, 'index.html');
  await app.register(fastifyStatic, {
    root,
    serve: false,
    suppressWarning: true,
    dotfiles: 'deny',
    index: false,
    cacheControl: false,
  });
  const built = () =>
    access(index).then(
      () => true,
      () => false,
    );
  if (!(await built())) app.log.warn({ dir: root }, 'the dashboard is not built; / says how to build it');

  app.get('/*', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    const path = (request.params as { '*'?: string })['*'] ?? '';
    if (reservedSegments.has(path.split('/')[0] ?? '')) return reply.callNotFound();
    // Checked on each request, so a build made while the control plane runs is served.
    if (!(await built())) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(notBuiltMessage(root));
    }
    if (extname(path) !== '') {
      // A file: served if it exists, a 404 problem if not (a missing script must not get the page).
      reply.header('cache-control', path.startsWith('assets/') ? immutable : revalidate);
      return pageHeaders(reply).sendFile(path);
    }
    return pageHeaders(reply).header('cache-control', revalidate).sendFile('index.html');
  });
}
