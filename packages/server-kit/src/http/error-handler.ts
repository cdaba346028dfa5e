import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import {
  ErrorCode,
  emailPattern,
  namePattern,
  type ProblemDocument,
  problemType,
  uuidPattern,
} from '@sovereign/contract';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.ts';

export const problemContentType = 'application/problem+json; charset=utf-8';

function send(reply: FastifyReply, problem: ProblemDocument) {
  return reply.status(problem.status).type(problemContentType).send(problem);
}

function doc(status: number, code: ErrorCode, title: string, detail: string): ProblemDocument {
  return { type: problemType(code), title, status, detail, code };
}

interface ValidationIssue {
  keyword?: string;
  schemaPath?: string;
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

type FieldError = { path: string; message: string };

const listed = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

/** The patterns the API's schemas use, in words; any other is quoted as it is. */
const patternWords: Record<string, string> = {
  [namePattern]: 'must not be blank nor hold control characters',
  [emailPattern]: 'must be an email address',
  // The pattern only narrows the format (no `urn:uuid:`): one fault, said once, as the format says it.
  [uuidPattern]: 'must match format "uuid"',
};

/** What one validator finding says about one field, or about each of several fields. */
function describeIssue(issue: ValidationIssue, base: string): FieldError[] {
  const params = issue.params ?? {};
  switch (issue.keyword) {
    case 'required':
      // One entry per missing member, on its own path.
      if (Array.isArray(params.requiredProperties)) {
        return params.requiredProperties.map((name) => ({ path: `${base}.${String(name)}`, message: 'is required' }));
      }
      if (typeof params.missingProperty === 'string') {
        return [{ path: `${base}.${params.missingProperty}`, message: 'is required' }];
      }
      break;
    case 'additionalProperties':
      if (Array.isArray(params.additionalProperties)) {
        return params.additionalProperties.map((name) => ({
          path: `${base}.${String(name)}`,
          message: 'is not a known field',
        }));
      }
      if (typeof params.additionalProperty === 'string') {
        return [{ path: `${base}.${params.additionalProperty}`, message: 'is not a known field' }];
      }
      break;
    case 'boolean':
      // TypeBox reports a member that `additionalProperties: false` refuses as "schema is false".
      if (issue.message === 'schema is false') {
        return [
          {
            path: base,
            message: issue.schemaPath?.endsWith('/additionalProperties') ? 'is not a known field' : 'is not allowed',
          },
        ];
      }
      break;
    case 'enum':
      if (Array.isArray(params.allowedValues)) {
        return [{ path: base, message: `must be one of ${listed(params.allowedValues)}` }];
      }
      break;
    case 'const':
      return [{ path: base, message: `must be ${JSON.stringify(params.allowedValue)}` }];
    case 'pattern': {
      const words = typeof params.pattern === 'string' ? patternWords[params.pattern] : undefined;
      if (words !== undefined) return [{ path: base, message: words }];
      break;
    }
  }
  return [{ path: base, message: issue.message ?? 'is invalid' }];
}

/**
 * A union (`anyOf`) is reported once per branch and once more for the union: when every
 * branch is a plain type or constant, they fold into one entry ("must be string or null").
 */
function foldUnions(issues: ValidationIssue[]): ValidationIssue[] {
  const folded = new Map<ValidationIssue, ValidationIssue | null>();
  for (const union of issues) {
    if (union.keyword !== 'anyOf' || union.schemaPath === undefined) continue;
    const branches = issues.filter(
      (i) => i.instancePath === union.instancePath && i.schemaPath?.startsWith(`${union.schemaPath}/anyOf/`),
    );
    if (branches.length === 0 || !branches.every((b) => b.keyword === 'type' || b.keyword === 'const')) continue;
    const options = branches.map((b) =>
      b.keyword === 'type' ? String(b.params?.type) : JSON.stringify(b.params?.allowedValue),
    );
    for (const b of branches) folded.set(b, null);
    folded.set(union, { ...union, keyword: 'union', message: `must be ${options.join(' or ')}` });
  }
  return issues.flatMap((i) => {
    const replacement = folded.get(i);
    if (replacement === undefined) return [i];
    return replacement === null ? [] : [replacement];
  });
}

/** Turns validator findings into `{path, message}` pairs a person can act on: one per field and fault. */
function validationErrors(error: FastifyError): FieldError[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  const all = foldUnions((error.validation ?? []) as ValidationIssue[]);
  // An empty string also fails the field's pattern: "too short" says it all.
  const short = new Set(all.filter((i) => i.keyword === 'minLength').map((i) => i.instancePath));
  const issues = all.filter((i) => !(i.keyword === 'pattern' && short.has(i.instancePath)));
  const unique = new Map<string, FieldError>();
  for (const issue of issues) {
    const base = `${context}${(issue.instancePath ?? '').replaceAll('/', '.')}`;
    for (const e of describeIssue(issue, base)) unique.set(`${e.path}\0${e.message}`, e);
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

/**
 * Errors the router raises before any route or hook runs (Fastify's `frameworkErrors`):
 * a path that is not valid URL encoding, or a path parameter over the router's length
 * limit. Both are a bad path parameter: a 400 problem document like every other.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const detail =
      error.code === 'FST_ERR_BAD_URL'
        ? 'The path is not valid URL encoding.'
        : 'A path parameter is longer than any id this API gives out.';
    return send(reply, doc(400, ErrorCode.validationFailed, 'Bad Request', detail));
  }
  request.log.error({ err: error }, 'router error');
  return send(
    reply,
    doc(500, ErrorCode.internal, 'Internal Server Error', `Something went wrong; quote request id ${request.id}.`),
  );
}

/**
 * Answers a request that no route matched (a single-page app's files, say), or declines
 * with false, and the request gets the 404 problem. It runs after the router, so it never
 * changes what the router decides about a path it knows (a 400 for an over-long id stays).
 */
export type NotFoundFallback = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

/**
 * Requests Node's HTTP parser refuses before any route sees them (headers or a URL past
 * its size limit, bytes that are not HTTP, a request that never finishes arriving): a
 * problem document too, written on the socket as Fastify's own handler does, and the
 * connection closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, ErrorCode.headersTooLarge, 'The request line and headers are larger than this server reads.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, ErrorCode.malformedRequest, 'The request did not arrive in time.']
        : [400, ErrorCode.malformedRequest, 'The request is not HTTP this server can read.'];
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify(doc(status, code, title, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${problemContentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Every error becomes a problem document; a 500 never carries a stack or a message. */
export function installErrorHandling(app: FastifyInstance, fallback?: NotFoundFallback): void {
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
  app.setNotFoundHandler(async (request, reply) => {
    if (fallback !== undefined && (await fallback(request, reply))) return reply;
    return send(
      reply,
      doc(404, ErrorCode.routeNotFound, 'Not Found', `No route ${request.method} ${request.url.split('?')[0]}.`),
    );
  });
}
