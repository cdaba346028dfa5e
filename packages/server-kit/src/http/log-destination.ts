import pino from 'pino';

/**
 * Where a service's log lines go: stdout, each written as it is made.
 *
 * pino's default writes them asynchronously and, to lose none, flushes what is pending
 * from an 'exit' listener; that flush retries a failed write forever. A service whose
 * stdout is a pipe to a supervisor that died (sov dev killed outright: every write fails
 * with EPIPE) and that logged just before it exited never finished exiting (its watchdog
 * thread died of the same EPIPE before its kill, since mended in lifecycle.ts). Written
 * synchronously there is nothing to flush at exit, and a broken pipe only silences the
 * logs: pino drops them on EPIPE. A full pipe whose reader is alive holds the service up
 * until it reads, as it would any program writing to its stdout.
 */
export function logDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}
