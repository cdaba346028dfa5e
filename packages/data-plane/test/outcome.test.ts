import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RunEnding, runOutcome } from '../src/executor/outcome.ts';

const batch: RunEnding = { kind: 'batch', stopping: undefined, ready: true, exitCode: 0, limitsHit: [] };
const app: RunEnding = { ...batch, kind: 'interactive' };

function outcome(ending: Partial<RunEnding>, base = batch) {
  const result = runOutcome({ ...base, ...ending });
  return result.report ? `${result.status}/${result.reasonCode}${result.saveState ? '+state' : ''}` : 'not reported';
}

describe('a run’s outcome, from how its process ended', () => {
  it('succeeds on exit 0, and only then saves its state', () => {
    assert.equal(outcome({}), 'succeeded/exit_zero+state');
    assert.equal(outcome({}, app), 'succeeded/exit_zero+state');
  });

  it('fails on a non-zero exit, or a signal (an exit code over 128, or none)', () => {
    assert.equal(outcome({ exitCode: 1 }), 'failed/exit_nonzero');
    assert.equal(outcome({ exitCode: 137 }), 'failed/killed_by_signal');
    assert.equal(outcome({ exitCode: null }), 'failed/killed_by_signal');
  });

  it('names the limit a failed run hit: memory first, then processes, then /tmp; a refused fork fails even an exit 0', () => {
    assert.equal(outcome({ exitCode: 137, limitsHit: ['memory'] }), 'failed/out_of_memory');
    assert.equal(outcome({ exitCode: 1, limitsHit: ['tmp', 'pids'] }), 'failed/pids_limit');
    assert.equal(outcome({ exitCode: 1, limitsHit: ['tmp', 'pids', 'memory'] }), 'failed/out_of_memory');
    assert.equal(outcome({ exitCode: 1, limitsHit: ['tmp'] }), 'failed/tmp_limit');
    // A run that got over it (a child was killed, the job went on) succeeded.
    assert.equal(outcome({ exitCode: 0, limitsHit: ['memory'] }), 'succeeded/exit_zero+state');
    assert.equal(outcome({ exitCode: 0, limitsHit: ['tmp'] }), 'succeeded/exit_zero+state');
    // A refused fork is not got over: a fork bomb's command returns 0 at once.
    assert.equal(outcome({ exitCode: 0, limitsHit: ['pids'] }), 'failed/pids_limit');
    assert.equal(outcome({ exitCode: 0, limitsHit: ['memory', 'pids'] }), 'failed/pids_limit');
  });

  it('gives the reason the data plane stopped it, whatever the exit code', () => {
    assert.equal(outcome({ stopping: 'timed_out', exitCode: 143 }), 'timed_out/timeout');
    assert.equal(outcome({ stopping: 'cancelled', exitCode: 0 }), 'cancelled/cancelled');
    assert.equal(outcome({ stopping: 'shutdown', exitCode: 143 }), 'cancelled/dataplane_shutdown');
    assert.equal(outcome({ stopping: 'log_limit', exitCode: 143 }), 'failed/log_limit');
    assert.equal(outcome({ stopping: 'output_limit', exitCode: 0 }), 'failed/output_limit');
    assert.equal(outcome({ stopping: 'pids_limit', exitCode: 137, limitsHit: ['pids'] }), 'failed/pids_limit');
    assert.equal(outcome({ stopping: 'tmp_limit', exitCode: 1, limitsHit: ['memory'] }), 'failed/tmp_limit');
    assert.equal(outcome({ stopping: 'timed_out', exitCode: 137, limitsHit: ['memory'] }), 'timed_out/timeout');
  });

  it('reports nothing for a fenced run: its lease is held elsewhere', () => {
    assert.equal(outcome({ stopping: 'fenced', exitCode: 0 }), 'not reported');
  });

  it('an app: stopped idle is a success that saves state; one that never answered failed', () => {
    assert.equal(outcome({ stopping: 'idle', exitCode: 143 }, app), 'succeeded/idle_timeout+state');
    assert.equal(outcome({ stopping: 'start_timeout', ready: false, exitCode: 143 }, app), 'failed/start_timeout');
    assert.equal(outcome({ ready: false, exitCode: 0 }, app), 'failed/exited_before_ready');
    assert.equal(outcome({ ready: false, exitCode: 1 }, app), 'failed/exited_before_ready');
    assert.equal(outcome({ ready: false, exitCode: 137, limitsHit: ['memory'] }, app), 'failed/out_of_memory');
    assert.equal(outcome({ stopping: 'cancelled', ready: false, exitCode: 143 }, app), 'cancelled/cancelled');
  });
});
