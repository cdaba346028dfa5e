import type { LogEnd, LogLine } from '@sovereign/contract/public';
import type { DataPlaneClient } from './data-plane.ts';
import { isAbort, problemOf, UnreachableError } from './errors.ts';
import { serverSentEvents } from './sse.ts';

export interface FollowOptions {
  /** Lines after this sequence number (0: from the start). */
  after?: number;
  /** Stops following: followLogs then resolves to 'stopped'. */
  signal?: AbortSignal;
  onLine(line: LogLine): void;
  /** The stream is open: lines arrive as the run prints them. */
  onOpen?(): void;
  /**
   * The run is not on its data plane (not claimed yet, or it never will be): how it
   * ended, to stop with that; 'absent' to give up; undefined to keep waiting.
   */
  notThere?(): Promise<LogEnd | 'absent' | undefined>;
  /** How long the data plane may stay unreachable before the error is thrown. */
  unreachableGiveUpMs?: number;
  /**
   * While the data plane cannot be reached: how the run ended, to stop with that, or
   * undefined to keep waiting for the data plane (a queued run waits for it). When
   * given, it replaces unreachableGiveUpMs.
   */
  whileUnreachable?(): Promise<LogEnd | undefined>;
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

const notYet = new Set(['run_not_found', 'dataplane_not_ready']);

/**
 * Follows a run's log on its data plane (server-sent events) until the run ends, and
 * answers how it ended. A dropped stream is resumed after the last line seen; an
 * expired token is renewed; while the run is not there yet, notThere decides.
 */
export async function followLogs(
  dp: DataPlaneClient,
  runId: string,
  options: FollowOptions,
): Promise<LogEnd | 'absent' | 'stopped'> {
  let after = options.after ?? 0;
  let unreachableSince: number | undefined;
  let renewed = false;
  const { signal } = options;
  while (signal?.aborted !== true) {
    let response: Response;
    try {
      response = await dp.openLogStream(runId, after, signal);
      unreachableSince = undefined;
    } catch (error) {
      if (isAbort(error) || signal?.aborted) return 'stopped';
      if (!(error instanceof UnreachableError)) throw error;
      if (options.whileUnreachable !== undefined) {
        const verdict = await options.whileUnreachable();
        if (verdict !== undefined) return verdict;
      } else {
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince >= (options.unreachableGiveUpMs ?? 30_000)) throw error;
      }
      await pause(1000, signal);
      continue;
    }
    if (response.status === 401 && !renewed) {
      // A run followed for longer than a scoped token lives: get another and go on.
      await response.body?.cancel();
      renewed = true;
      dp.forgetTokens();
      continue;
    }
    if (!response.ok) {
      const problem = await problemOf(response);
      if (!notYet.has(problem.code) || options.notThere === undefined) throw problem;
      const verdict = await options.notThere();
      if (verdict !== undefined) return verdict;
      await pause(500, signal);
      continue;
    }
    renewed = false;
    if (response.body === null) continue;
    options.onOpen?.();
    try {
      for await (const event of serverSentEvents(response.body)) {
        if (event.event === 'line') {
          const line = JSON.parse(event.data) as LogLine;
          if (line.seq <= after) continue;
          after = line.seq;
          options.onLine(line);
        } else if (event.event === 'end') {
          return JSON.parse(event.data) as LogEnd;
        }
      }
    } catch (error) {
      if (isAbort(error) || signal?.aborted) return 'stopped';
      // The stream broke before the run ended: pick up after the last line seen.
    }
    await pause(500, signal);
  }
  return 'stopped';
}
