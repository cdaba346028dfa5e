import type { FastifyBaseLogger } from 'fastify';

/** A logger that keeps each message said (at any level), for a test to read what a component said it did. */
export function recordingLogger(): FastifyBaseLogger & { messages: string[] } {
  const messages: string[] = [];
  const say = (first?: unknown, second?: unknown) => {
    const message = typeof first === 'string' ? first : typeof second === 'string' ? second : undefined;
    if (message !== undefined) messages.push(message);
  };
  const logger = {
    messages,
    level: 'info',
    fatal: say,
    error: say,
    warn: say,
    info: say,
    debug: say,
    trace: say,
    silent: say,
    child: () => logger,
  };
  return logger as unknown as FastifyBaseLogger & { messages: string[] };
}
