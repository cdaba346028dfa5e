import type { LogLine } from '@sovereign/contract';
import { isTerminal, type RunStatus } from '@sovereign/contract/run-states';
import type { ControlPlane } from '../api/control-plane.ts';
import type { DataPlane } from '../api/data-plane.ts';
import { problemOf } from '../api/http.ts';
import { ExitCode, UnreachableError } from '../errors.ts';
import type { Output } from '../output/output.ts';

export interface RunEnd {
  status: string;
  exitCode: number | null;
}

/** The exit code `sov` ends with after following a run to its end. */
export function exitCodeFor(status: string): number {
  switch (status) {
    case 'succeeded':
      return ExitCode.ok;
    case 'timed_out':
      return ExitCode.runTimedOut;
    case 'cancelled':
      return ExitCode.runCancelled;
    case 'lost':
      return ExitCode.runLost;
    default:
      return ExitCode.runFailed;
  }
}

/** Splits a server-sent event stream into events as they arrive. */
export async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the data plane may stay unreachable while following before giving up. */
const unreachableGiveUpMs = 30_000;

/**
 * Follows a run's logs on its data plane until the run ends, and answers how it
 * ended. A run not yet claimed by its data plane is not there yet (404): the follower
 * waits for it, watching the control plane in case the run ends before it starts
 * (cancelled while queued). A dropped stream is resumed after the last line seen.
 */
export async function followRun(
  cp: ControlPlane,
  dp: DataPlane,
  runId: string,
  output: Output,
  onLine: (line: LogLine) => void,
): Promise<RunEnd> {
  let after = 0;
  let waitingNoted = false;
  let unreachableSince: number | undefined;
  const started = Date.now();
  for (;;) {
    let response: Response;
    try {
      response = await dp.followLogs(runId, after);
      unreachableSince = undefined;
    } catch (error) {
      if (!(error instanceof UnreachableError)) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > unreachableGiveUpMs) throw error;
      await sleep(1000);
      continue;
    }
    if (response.status === 401) {
      const problem = await problemOf(response);
      if (problem.code !== 'token_expired') throw problem;
      // A run followed for longer than a scoped token lives: get another and go on.
      await dp.renew();
      continue;
    }
    if (response.status === 404 || response.status === 403 || response.status === 503) {
      const problem = await problemOf(response);
      const notYet = ['run_not_found', 'workspace_not_hosted', 'dataplane_not_ready'];
      if (!notYet.includes(problem.code ?? '')) throw problem;
      const run = await cp.run(runId);
      if (isTerminal(run.status as RunStatus)) return { status: run.status, exitCode: run.exitCode };
      if (!waitingNoted && Date.now() - started > 3000) {
        output.note(output.err.dim(`Waiting for the run to start (it is ${run.status})…`));
        waitingNoted = true;
      }
      await sleep(300);
      continue;
    }
    if (!response.ok) throw await problemOf(response);
    if (response.body === null) continue;
    try {
      for await (const event of serverSentEvents(response.body)) {
        if (event.event === 'line') {
          const line = JSON.parse(event.data) as LogLine;
          if (line.seq <= after) continue;
          after = line.seq;
          onLine(line);
        } else if (event.event === 'end') {
          return JSON.parse(event.data) as RunEnd;
        }
      }
    } catch (error) {
      output.trace(`log stream interrupted: ${(error as Error).message}`);
    }
    // The stream ended without an end event (a restart, a proxy): pick up where it stopped.
    await sleep(500);
  }
}
