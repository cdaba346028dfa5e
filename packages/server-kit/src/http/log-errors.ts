/** An error as a log line holds it (a type, as Fastify's serializers are typed with an index signature). */
export type LoggedError = {
  type: string;
  message: string;
  stack: string;
  code?: string | number;
  cause?: LoggedError;
};

/** Causes followed at most: a cycle, or a chain of wrappers, stops here. */
const maxCauses = 4;

/**
 * How every service logs an error (`log.error({ err }, ...)`): its class, message, code
 * and stack, and its cause the same way, so a failure can be traced to its line. Nothing
 * else: pino's own serializer copies every property an error has, and some carry data a
 * log must not hold (a PostgreSQL error's `detail` quotes the row it refused, a jose
 * error the claims of the token it refused). The message and stack are what was logged
 * before as `String(error)`, plus the frames: our messages name no secret, and the
 * runtime's (a refused connection, a missing file) none either.
 */
export function errorLogSerializer(error: unknown): LoggedError {
  return serialize(error, 0);
}

function serialize(error: unknown, depth: number): LoggedError {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error), stack: String(error) };
  const logged: LoggedError = { type: error.name, message: error.message, stack: error.stack ?? String(error) };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') logged.code = code;
  if (error.cause !== undefined && depth < maxCauses) logged.cause = serialize(error.cause, depth + 1);
  return logged;
}
