import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, type ProblemDocument, problemType } from '../errors.ts';
import { HttpProblem } from './problem.ts';

export const problemContentType = 'application/problem+json; charset=utf-8';

function send(reply: FastifyReply, problem: ProblemDocument) {
  return reply.status(problem.status).type(problemContentType).send(problem);
}

function doc(status: number, code: ErrorCode, title: string, detail: string): ProblemDocument {
  return { type: problemType(code), title, status, detail, code };
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns validator findings into `{path, message}` pairs a person can act on. */
function validationErrors(error: FastifyError): Array<{ path: string; message: string }> {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  const found = ((error.validation ?? []) as ValidationIssue[]).map((issue) => {
    const base = `${context}${(issue.instancePath ?? '').replaceAll('/', '.')}`;
    const extra = issue.params?.additionalProperties ?? issue.params?.requiredProperties;
    const path = Array.isArray(extra) && extra.length === 1 ? `${base}.${String(extra[0])}` : base;
    // TypeBox reports a member the schema does not allow as "schema is false".
    const message = issue.message === 'schema is false' ? 'is not a known field' : (issue.message ?? 'is invalid');
    return { path, message };
  });
  // The summary "must not have additional properties" adds nothing once each field is named.
  const named = found.some((e) => e.message === 'is not a known field');
  const unique = new Map<string, { path: string; message: string }>();
  for (const e of found) {
    if (named && e.message === 'must not have additional properties') continue;
    unique.set(`${e.path}\0${e.message}`, e);
  }
  return [...unique.values()];
}

/** Maps Fastify's own errors to stable codes, and hides everything else behind a 500. */
function fastifyErrorProblem(error: FastifyError): ProblemDocument | undefined {
  if (error.validation) {
    const errors = validationErrors(error);
    const detail =
      errors.length > 0
        ? `The request is invalid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}.`
        : 'The request is invalid.';
    return { ...doc(400, ErrorCode.validationFailed, 'Bad Request', detail), errors };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return doc(400, ErrorCode.invalidJson, 'Bad Request', 'The body is not valid JSON.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return doc(413, ErrorCode.bodyTooLarge, 'Content Too Large', 'The body is larger than this endpoint accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return doc(
        415,
        ErrorCode.unsupportedMediaType,
        'Unsupported Media Type',
        'This endpoint does not accept that Content-Type.',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return doc(400, ErrorCode.validationFailed, 'Bad Request', 'Content-Length does not match the body.');
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // A 4xx from the framework or a plugin (bad URL encoding, bad header): a client error.
    return doc(error.statusCode, ErrorCode.validationFailed, 'Bad Request', error.message);
  }
  return undefined;
}

/** Every error becomes a problem document; a 500 never carries a stack or a message. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof HttpProblem) {
      if (error.status === 429) {
        reply.header('retry-after', String(error.extensions.retryAfterSeconds ?? 1));
      }
      return send(reply, error.toDocument());
    }
    const known = fastifyErrorProblem(error);
    if (known !== undefined) return send(reply, known);
    request.log.error({ err: error }, 'unhandled error');
    return send(
      reply,
      doc(500, ErrorCode.internal, 'Internal Server Error', `Something went wrong; quote request id ${request.id}.`),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      doc(404, ErrorCode.routeNotFound, 'Not Found', `No route ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );
}
