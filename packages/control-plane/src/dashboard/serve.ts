import { access, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { App } from '@sovereign/server-kit/http';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
  'Run `npm install` in the repository (it builds packages/dashboard), or `npm run build`.\n' +
  'The API is served all the same, under /api/public/v1.\n';

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .status(200)
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

/** The path's segments, decoded; undefined when it is not valid URL encoding. */
function segmentsOf(url: string): string[] | undefined {
  try {
    return new URL(url, 'http://localhost').pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/**
 * Serves the dashboard's build at `/`: its files as they are, index.html for every other
 * path (the app routes in the browser), and a plain answer when there is no build. It
 * answers only what no route matched (the 404 fallback of the HTTP server), so it cannot
 * shadow the API, /.well-known, /healthz, /readyz or /metrics: a path under them that no
 * route knows is still the API's 404 problem, never the page.
 */
export class DashboardFiles {
  readonly root: string;
  readonly #index: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.#index = join(this.root, 'index.html');
  }

  /** Lets replies send files from the build (and only from it). */
  async register(app: App): Promise<void> {
    await app.register(fastifyStatic, {
      root: this.root,
      serve: false,
      suppressWarning: true,
      dotfiles: 'deny',
      index: false,
      cacheControl: false,
    });
    if (!(await this.#built())) app.log.warn({ dir: this.root }, 'the dashboard is not built; / says how to build it');
  }

  // Checked on each request, so a build made while the control plane runs is served.
  #built(): Promise<boolean> {
    return access(this.#index).then(
      () => true,
      () => false,
    );
  }

  async #isFile(path: string): Promise<boolean> {
    return stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** The fallback for requests no route matched: true when it answered them. */
  readonly answer = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const segments = segmentsOf(request.url);
    if (segments === undefined || reservedSegments.has(segments[0] ?? '')) return false;
    if (!(await this.#built())) {
      reply.status(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store');
      await reply.send(notBuiltMessage(this.root));
      return true;
    }
    const last = segments.at(-1) ?? '';
    if (extname(last) === '') {
      await pageHeaders(reply).header('cache-control', revalidate).sendFile('index.html');
      return true;
    }
    // A file: served when the build has it; otherwise a 404 problem (a missing script must not get the page).
    if (segments.some((s) => s.startsWith('.') || s.includes('/') || s.includes('\\') || s.includes('\0')))
      return false;
    const file = resolve(this.root, ...segments);
    if (!file.startsWith(this.root + sep) || !(await this.#isFile(file))) return false;
    const cache = segments[0] === 'assets' && segments.length === 2 ? immutable : revalidate;
    await pageHeaders(reply).header('cache-control', cache).sendFile(segments.join('/'));
    return true;
  };
}
