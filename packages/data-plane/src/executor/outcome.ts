import type { ReasonCode } from '@sovereign/contract';
import type { LimitHit } from '../launch/launcher.ts';

/** Why the data plane stopped a run, when it did. */
export type StopReason =
  | 'timed_out'
  | 'cancelled'
  | 'fenced'
  | 'shutdown'
  | 'idle'
  | 'start_timeout'
  | 'log_limit'
  | 'output_limit'
  | 'pids_limit'
  | 'tmp_limit';

/** How a run's process tree ended, and what was known about it then. */
export interface RunEnding {
  kind: 'batch' | 'interactive';
  /** Set when the data plane stopped the run, to why. */
  stopping: StopReason | undefined;
  /** An interactive job's app answered before the run ended (always true for batch runs). */
  ready: boolean;
  exitCode: number | null;
  limitsHit: readonly LimitHit[];
}

export type Outcome =
  | { report: false }
  | {
      report: true;
      status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
      reasonCode: ReasonCode;
      /** The state file becomes the job's state (a success). */
      saveState: boolean;
    };

const stoppedByLimit: Partial<Record<StopReason, ReasonCode>> = {
  log_limit: 'log_limit',
  output_limit: 'output_limit',
  pids_limit: 'pids_limit',
  tmp_limit: 'tmp_limit',
};

/** The first that applies names a failure: running out of memory is the likeliest cause of the others. */
const limitOrder: readonly LimitHit[] = ['memory', 'pids', 'tmp'];
const limitReasons: Record<LimitHit, ReasonCode> = {
  memory: 'out_of_memory',
  pids: 'pids_limit',
  tmp: 'tmp_limit',
};

/**
 * A run's final status and reason code, from how it ended: what the data plane did to
 * it comes first (it knows why it stopped a run), then the run's own exit. A failure
 * after the kernel refused it memory, processes or /tmp space names that limit, since
 * the exit code alone would hide it; a refused fork fails it even after an exit 0. A
 * fenced run is not reported: its lease is held elsewhere.
 */
export function runOutcome(ending: RunEnding): Outcome {
  const { stopping, exitCode } = ending;
  const end = (status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled', reasonCode: ReasonCode): Outcome => ({
    report: true,
    status,
    reasonCode,
    saveState: status === 'succeeded',
  });
  if (stopping === 'fenced') return { report: false };
  if (stopping !== undefined) {
    const limit = stoppedByLimit[stopping];
    if (limit !== undefined) return end('failed', limit);
    switch (stopping) {
      case 'start_timeout':
        return end('failed', 'start_timeout');
      // Nobody used it for its idle limit: a normal end for an app, not a failure.
      case 'idle':
        return end('succeeded', 'idle_timeout');
      case 'timed_out':
        return end('timed_out', 'timeout');
      case 'cancelled':
        return end('cancelled', 'cancelled');
      // A planned stop of the data plane (SIGTERM, close) is not the job's failure: the
      // run is cancelled with this reason, and the control plane retries a batch run
      // that has attempts left; an app simply ended.
      case 'shutdown':
        return end('cancelled', 'dataplane_shutdown');
    }
  }
  if (exitCode === 0 && ending.ready) {
    // A refused fork fails the run even when its command said 0: what that process was
    // to do was not done, and a fork bomb's command returns at once, leaving its processes
    // at the limit. The data plane stops a run once it sees a refused fork (StopReason
    // pids_limit); this gives the same end to one whose command returned before it looked.
    return ending.limitsHit.includes('pids') ? end('failed', 'pids_limit') : end('succeeded', 'exit_zero');
  }
  const hit = limitOrder.find((limit) => ending.limitsHit.includes(limit));
  if (hit !== undefined) return end('failed', limitReasons[hit]);
  if (!ending.ready) return end('failed', 'exited_before_ready');
  const signalled = exitCode === null || exitCode > 128;
  return end('failed', signalled ? 'killed_by_signal' : 'exit_nonzero');
}
