import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, runDurationText } from '../src/index.ts';

describe('a run’s duration, written once for every client', () => {
  it('writes milliseconds under a second, tenths under a minute, then minutes and hours', () => {
    assert.equal(formatDuration(0), '0 ms');
    assert.equal(formatDuration(224), '224 ms');
    assert.equal(formatDuration(999.6), '1.0 s');
    assert.equal(formatDuration(4200), '4.2 s');
    assert.equal(formatDuration(59_949), '59.9 s');
    assert.equal(formatDuration(59_950), '1 min');
    assert.equal(formatDuration(192_000), '3 min 12 s');
    assert.equal(formatDuration(3_600_000), '1 h');
    assert.equal(formatDuration(7_500_000), '2 h 5 min');
    assert.equal(formatDuration(-1), '—');
  });

  it('shows the data plane’s measure once a run ended, the time since its start while it runs, and nothing before', () => {
    const now = Date.parse('2026-12-06T10:00:10Z');
    const ended = { startedAt: '2026-12-06T10:00:00Z', finishedAt: '2026-12-06T10:00:01Z', durationMs: 224 };
    assert.equal(runDurationText(ended, now), '224 ms', 'the measure, not the timestamps’ difference');
    const running = { startedAt: '2026-12-06T10:00:00Z', finishedAt: null, durationMs: null };
    assert.equal(runDurationText(running, now), '10.0 s');
    assert.equal(runDurationText({ startedAt: null, finishedAt: null, durationMs: null }, now), undefined);
    const cancelledQueued = { startedAt: null, finishedAt: '2026-12-06T10:00:01Z', durationMs: null };
    assert.equal(runDurationText(cancelledQueued, now), undefined);
  });
});
