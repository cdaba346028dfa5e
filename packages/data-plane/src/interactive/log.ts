import type { IncomingMessage } from 'node:http';
import { interactivePathPrefix } from '@sovereign/contract';
import type { FastifyRequest } from 'fastify';

/**
 * How a request appears in the data plane's log. As Fastify's own serializer, except
 * that an interactive app's URL is logged only as far as its run: the rest is the app's
 * own path and query, which may carry our token (the cookie exchange) or whatever the app
 * puts in its links (its own secrets, a job's secret in a callback URL). The data plane's
 * log holds ids, never customer data.
 */
export function requestLogSerializer(request: FastifyRequest | IncomingMessage) {
  const raw = 'raw' in request ? request.raw : request;
  return {
    method: raw.method,
    url: loggedUrl(raw.url ?? ''),
    host: raw.headers.host,
    remoteAddress: raw.socket?.remoteAddress,
    remotePort: raw.socket?.remotePort,
  };
}

function loggedUrl(url: string): string {
  const start = `${interactivePathPrefix}/`;
  if (!url.startsWith(start)) return url;
  const rest = url.slice(start.length);
  const runEnd = rest.search(/[/?]/);
  if (runEnd === -1 || rest.slice(runEnd) === '/') return url;
  return `${start}${rest.slice(0, runEnd)}/…`;
}
