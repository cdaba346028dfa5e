import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What a browser page may send and read across origins on the data plane's API. */
const allowMethods = 'GET, HEAD, POST, PUT, DELETE';
const allowHeaders = 'authorization, content-type, x-request-id';
const exposeHeaders = 'x-request-id, content-disposition, content-length, digest';
/** Browsers cap this themselves (Chromium at 2 h); 10 minutes keeps a change of policy quick. */
const preflightMaxAgeSeconds = 600;

const loopbackHosts = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * The origins allowed by default: the control plane's, which serves the dashboard. A
 * loopback control plane is reachable by every loopback name, so each is allowed.
 */
export function defaultDashboardOrigins(controlPlaneUrl: string): string[] {
  const url = new URL(controlPlaneUrl);
  if (!loopbackHosts.includes(url.hostname)) return [url.origin];
  return loopbackHosts.map((host) => {
    const alias = new URL(url.origin);
    alias.hostname = host;
    return alias.origin;
  });
}

/** An origin as browsers send it (`scheme://host[:port]`), or undefined when `value` is not one. */
export function normalizeOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

function allowedOrigin(request: FastifyRequest, allowed: ReadonlySet<string>): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && allowed.has(origin) ? origin : undefined;
}

function under(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`);
}

/**
 * Lets the dashboard, a page on the control plane's origin, call this data plane's API
 * from the browser (R2: logs, outputs and state go to the browser straight from here).
 * Only the listed origins get CORS headers; no cookies are involved (the scoped token is
 * a Bearer header), so credentials are never allowed. The headers are set before any
 * route runs, so refusals (401, 403) are readable by the page, and a server-sent event
 * stream carries them too.
 */
export function installCors(app: FastifyInstance, options: { prefix: string; origins: readonly string[] }): void {
  const allowed = new Set(options.origins);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!under(request.url, options.prefix)) return;
    // The answer depends on the Origin, whether or not it is allowed: caches must key on it.
    reply.header('vary', 'Origin');
    const origin = allowedOrigin(request, allowed);
    if (origin === undefined) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', exposeHeaders);
  });
  // Preflights need no token: they carry none, and answer only what is allowed.
  app.options(`${options.prefix}/*`, { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    if (allowedOrigin(request, allowed) !== undefined) {
      reply.header('access-control-allow-methods', allowMethods);
      reply.header('access-control-allow-headers', allowHeaders);
      reply.header('access-control-max-age', String(preflightMaxAgeSeconds));
    }
    return reply.status(204).send();
  });
}

/** CORS headers already set on the reply (by the CORS hook), carried into a hijacked stream. */
export function corsHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('access-control-') && value !== undefined) out[name] = String(value);
  }
  return out;
}
