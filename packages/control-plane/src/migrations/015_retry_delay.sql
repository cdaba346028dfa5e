-- Retries wait (issue 19): three attempts within 200 ms retried nothing a moment would
-- have fixed. The next attempt is queued with `scheduled_for` at the end of its delay,
-- retry_delay_seconds * retry_backoff^(attempt - 1) with jitter, and is not claimed
-- before. The defaults are the manifest's (`retry_delay: 10s`, `retry_backoff: 2`), so a
-- job reported by an older data plane gets them too.
ALTER TABLE jobs ADD COLUMN retry_delay_seconds integer NOT NULL DEFAULT 10
  CHECK (retry_delay_seconds BETWEEN 0 AND 3600);
ALTER TABLE jobs ADD COLUMN retry_backoff double precision NOT NULL DEFAULT 2
  CHECK (retry_backoff BETWEEN 1 AND 10);

-- The scheduler wakes the data planes whose delayed attempts came due since its last tick.
CREATE INDEX runs_retry_due ON runs (scheduled_for) WHERE status = 'queued' AND attempt > 1;
