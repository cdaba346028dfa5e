import { randomUUID } from 'node:crypto';
import { registerAjvFormats, type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { ErrorCode, jsonNestsDeeperThan, maxJsonDepth, unstorablePath } from '@sovereign/contract';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { withCanonicalUuids } from './canonical-uuids.ts';
import {
  clientErrorHandler,
  frameworkErrorHandler,
  installErrorHandling,
  type NotFoundFallback,
} from './error-handler.ts';
import { logDestination } from './log-destination.ts';
import { errorLogSerializer } from './log-errors.ts';
import { installOps, type ReadinessCheck, type ReadinessFacts } from './ops.ts';
import { BadRequestProblem } from './problem.ts';

registerAjvFormats();

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface HttpServerOptions {
  /** Service name, in logs and metrics. */
  service: string;
  /** A pino logger config, `false` for none, or an existing logger. */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyBaseLogger;
  /** Largest JSON body accepted, in bytes. */
  bodyLimit?: number;
  /** Behind a proxy: trust X-Forwarded-* from it. */
  trustProxy?: boolean;
  ready: ReadinessCheck;
  /** What /readyz says besides its status: how the service runs. */
  readyFacts?: ReadinessFacts;
  /** What answers a request no route matched before it gets the 404 problem (the dashboard's files). */
  notFound?: NotFoundFallback;
}

const requestIdPattern = /^[\w.:-]{1,128}$/;

/** Log fields that may hold a credential; pino replaces them before anything is written. */
export const redactedLogPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

/**
 * A Fastify server with what every Sovereign service shares: request ids, structured
 * logs that never hold credentials, closed TypeBox validation, problem documents for
 * every error, and /healthz, /readyz and /metrics.
 */
export function createHttpServer(options: HttpServerOptions): App {
  const base = {
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Keep a caller's request id when it is sane, so a trace spans services.
    genReqId: (req: import('node:http').IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    return503OnClosing: true,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Bad URL encoding and overlong path parameters get problem documents too.
    frameworkErrors: frameworkErrorHandler,
    // And so do requests Node's HTTP parser refuses (headers over its size limit).
    clientErrorHandler,
  };
  const app = (
    options.loggerInstance !== undefined
      ? Fastify({ ...base, loggerInstance: options.loggerInstance })
      : Fastify({ ...base, logger: loggerOptions(options) })
  ).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(withCanonicalUuids(TypeBoxValidatorCompiler));
  // JSON only (and what a route adds): a text/plain body is answered 415, not parsed as a string.
  app.removeContentTypeParser('text/plain');
  refuseDeepJson(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  installErrorHandling(app, options.notFound);
  installOps(app, options.service, options.ready, options.readyFacts);
  return app as unknown as App;
}

/** The logger's settings: errors are always written by `errorLogSerializer`, whatever else a service sets. */
function loggerOptions(options: HttpServerOptions): FastifyServerOptions['logger'] {
  const logger =
    options.logger === undefined || options.logger === true
      ? { level: 'info', base: { service: options.service }, redact: redactedLogPaths }
      : options.logger;
  if (logger === false) return false;
  return {
    ...logger,
    // A service's own stream wins; ours is made only when none was given.
    stream: logger.stream ?? logDestination(),
    serializers: { ...logger.serializers, err: errorLogSerializer },
  };
}

/**
 * Fastify's JSON parser, behind a depth check on the raw text: a body nested deeper
 * than `maxJsonDepth` is a 400 before anything parses or walks it (it overflowed the
 * stack, and crashed PGlite as jsonb). The default parser still parses, so its
 * protection against `__proto__` and `constructor` members stays.
 */
function refuseDeepJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    if (jsonNestsDeeperThan(body, maxJsonDepth)) {
      done(
        new BadRequestProblem(
          ErrorCode.jsonTooDeep,
          `The body nests arrays and objects deeper than ${maxJsonDepth} levels, more than this API takes.`,
        ),
        undefined,
      );
      return;
    }
    parse(request, body, done);
  });
}

/**
 * Refuses, before validation, any text in the path, the query or a JSON body that
 * PostgreSQL cannot store in text or jsonb: the NUL character, and unpaired UTF-16
 * surrogates (JSON may spell them as `\ud800`). A request that carries one must be a
 * 400 with the field named, never a database error.
 */
export function refuseUnstorableText(app: App): void {
  app.addHook('preValidation', async (request) => {
    const found =
      unstorablePath(request.params, 'params') ??
      unstorablePath(request.query, 'querystring') ??
      unstorablePath(request.body, 'body');
    if (found === undefined) return;
    throw new BadRequestProblem(ErrorCode.validationFailed, `The request is invalid: ${found.path} ${found.message}.`, {
      errors: [found],
    });
  });
}
