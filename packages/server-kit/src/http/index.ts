export { installErrorHandling, type NotFoundFallback, problemContentType } from './error-handler.ts';
export { errorLogSerializer, type LoggedError } from './log-errors.ts';
export { installOps, type ReadinessCheck } from './ops.ts';
export {
  BadRequestProblem,
  ConflictProblem,
  ForbiddenProblem,
  HttpProblem,
  NotFoundProblem,
  TooManyRequestsProblem,
  UnauthorizedProblem,
} from './problem.ts';
export {
  type App,
  createHttpServer,
  type HttpServerOptions,
  redactedLogPaths,
  refuseUnstorableText,
} from './server.ts';
