import type { IncomingMessage } from 'node:http';
import { interactivePathPrefix } from '@sovereign/protocol';
import type { FastifyRequest } from 'fastify';

/**
 * How a request appears in the data plane's log. As Fastify's own serializer, except
 * that the query string of an interactive app's URL is left out: it may carry our
 * token (the cookie exchange) or the app's own secrets.
 */
export function requestLogSerializer(request: FastifyRequest | IncomingMessage) {
  const raw = 'raw' in request ? request.raw : request;
  const url = raw.url ?? '';
  const mark = url.indexOf('?');
  return {
    method: raw.method,
    url: url.startsWith(`${interactivePathPrefix}/`) && mark !== -1 ? `${url.slice(0, mark)}?…` : url,
    host: raw.headers.host,
    remoteAddress: raw.socket?.remoteAddress,
    remotePort: raw.socket?.remotePort,
  };
}
