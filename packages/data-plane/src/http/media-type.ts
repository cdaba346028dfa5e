import type { HttpProblem } from '@sovereign/server-kit/http';
import type { FastifyRequest } from 'fastify';

/** The request's media type, lower case, without its parameters (`application/json; charset=utf-8` -> `application/json`). */
export function mediaTypeOf(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * An `onRequest` hook for a route that takes a large body as a stream: any other media
 * type is refused with `problem()` before a byte of the body is read. Fastify's JSON and
 * form parsers hold a body whole, as one string, up to the route's body limit: a JSON
 * body declared at the limit of a bundle or an output (gigabytes) would take the whole
 * data plane down for every tenant on it. Route hooks run after the token's scope is
 * checked, so who is refused is never told more than that.
 */
export function onlyMediaTypes(types: readonly string[], problem: () => HttpProblem) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!types.includes(mediaTypeOf(request))) throw problem();
  };
}
