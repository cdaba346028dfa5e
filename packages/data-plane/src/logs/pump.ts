import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineAssembler, type LogLine } from './lines.ts';
import type { Masker } from './mask.ts';

/** A quiet job's lines reach followers within this. */
const flushEveryMs = 100;
/** A loud job's lines are stored in batches of about this much. */
const flushAtBytes = 1024 * 1024;
const flushAtLines = 10_000;
/**
 * Batches waiting for the store before the job's pipes stop being read: the job then
 * blocks in its writes until the store catches up, so a job that prints faster than its
 * logs can be stored is slowed down instead of piling its output up in our memory.
 */
const maxQueuedBatches = 2;
/**
 * A process the job left behind (daemonized out of its group) may hold the pipes open:
 * once the job has exited, its output gets this much more time, not counting the time
 * the pipes were held back for the store.
 */
const pipeGraceMs = 2_000;

export interface PumpOptions {
  stdout: Readable | null;
  stderr: Readable | null;
  /** Resolves when the job's process has exited. */
  exited: Promise<unknown>;
  /** Masks the output as it is read, before it is split into lines (and over-long ones are cut). */
  masker: Masker;
  /** Lines the run already has; numbering goes on after them. */
  stored: number;
  /** Stores masked lines numbered from `firstSeq`, in order (one call at a time). */
  append(firstSeq: number, lines: LogLine[]): Promise<void>;
  /** Log bytes the run may store; what comes after is read and dropped. */
  maxBytes?: number;
  /** Called once, when the run's output first goes past `maxBytes`. */
  onLimit?: () => void;
}

/**
 * Reads a job's stdout and stderr, masks secrets, splits lines, and stores them in
 * batches, holding the pipes back while the store is behind. Resolves, once both pipes
 * are drained (or the grace after the job's exit has run out), to the number of lines
 * the run has; rejects if a batch could not be stored.
 */
export async function pumpLogs(options: PumpOptions): Promise<number> {
  const streams = [options.stdout, options.stderr].filter((s): s is Readable => s !== null);
  let seq = options.stored;
  let pending: LogLine[] = [];
  let pendingBytes = 0;
  let queued = 0;
  let writing = Promise.resolve();
  let failure: unknown;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let storedBytes = 0;
  let overLimit = false;
  let pausedMs = 0;
  let pausedAt: number | undefined;
  const pausedTotal = () => pausedMs + (pausedAt === undefined ? 0 : Date.now() - pausedAt);

  const flush = (): Promise<void> => {
    if (pending.length === 0) return writing;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    const first = seq + 1;
    seq += batch.length;
    queued += 1;
    if (queued === maxQueuedBatches) {
      pausedAt = Date.now();
      for (const stream of streams) stream.pause();
    }
    writing = writing
      .then(() => (failure === undefined ? options.append(first, batch) : undefined))
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => {
        queued -= 1;
        if (queued === maxQueuedBatches - 1 && pausedAt !== undefined) {
          pausedMs += Date.now() - pausedAt;
          pausedAt = undefined;
          for (const stream of streams) stream.resume();
        }
      });
    return writing;
  };

  /** Keeps a line while the run is within its log limit; the first past it ends the log, and says why. */
  const keep = (line: LogLine): void => {
    if (overLimit) return;
    const bytes = Buffer.byteLength(line.text) + 1;
    if (storedBytes + bytes > maxBytes) {
      overLimit = true;
      options.onLimit?.();
      return;
    }
    storedBytes += bytes;
    pending.push(line);
    pendingBytes += line.text.length;
  };

  const timer = setInterval(() => void flush(), flushEveryMs);
  const pump = (stream: Readable | null, name: LogLine['stream']) =>
    new Promise<void>((resolve) => {
      if (stream === null) return resolve();
      const lines = new LineAssembler(name, options.masker);
      stream.on('data', (chunk: Buffer) => {
        for (const line of lines.push(chunk)) keep(line);
        if (pendingBytes >= flushAtBytes || pending.length >= flushAtLines) void flush();
      });
      const finish = () => {
        for (const line of lines.end()) keep(line);
        resolve();
      };
      stream.once('end', finish);
      stream.once('close', finish);
      stream.on('error', () => resolve());
    });
  const pumped = Promise.all([pump(options.stdout, 'stdout'), pump(options.stderr, 'stderr')]).then(() => true);

  await options.exited;
  const exitedAt = Date.now();
  const pausedAtExit = pausedTotal();
  for (;;) {
    const left = pipeGraceMs - (Date.now() - exitedAt - (pausedTotal() - pausedAtExit));
    if (left <= 0) break;
    if (await Promise.race([pumped, sleep(Math.min(left, 250), undefined, { ref: false }).then(() => false)])) break;
  }
  for (const stream of streams) stream.destroy();
  clearInterval(timer);
  await flush();
  if (failure !== undefined) throw failure;
  return seq;
}
