-- Intervals and backfills (issue 20). A scheduled run covers the interval from its
-- schedule's previous due time to its own; a backfill queues one run per interval of a
-- job's schedule over a range, a few at a time. Timestamps only: metadata (R5).
CREATE TABLE backfills (
  backfill_id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs,
  workspace_id uuid NOT NULL REFERENCES workspaces,
  organization_id uuid NOT NULL REFERENCES organizations,
  range_from timestamptz NOT NULL,
  range_to timestamptz NOT NULL CHECK (range_to > range_from),
  max_running integer NOT NULL DEFAULT 2 CHECK (max_running BETWEEN 1 AND 10),
  force boolean NOT NULL DEFAULT false,
  -- How many intervals the range holds, and how many were skipped (already succeeded).
  intervals integer NOT NULL,
  skipped integer NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX backfills_job ON backfills (job_id, created_at DESC, backfill_id DESC);
CREATE INDEX backfills_running ON backfills (backfill_id) WHERE status = 'running';

-- The intervals a backfill runs, in order; run_id is set when its run is queued.
CREATE TABLE backfill_intervals (
  backfill_id uuid NOT NULL REFERENCES backfills,
  position integer NOT NULL,
  interval_start timestamptz NOT NULL,
  interval_end timestamptz NOT NULL,
  run_id uuid,
  PRIMARY KEY (backfill_id, position)
);

ALTER TABLE runs ADD COLUMN interval_start timestamptz;
ALTER TABLE runs ADD COLUMN interval_end timestamptz;
ALTER TABLE runs ADD COLUMN backfill_id uuid REFERENCES backfills;
-- A backfill's runs going (its limit), and the succeeded runs of a job's intervals (its skips).
CREATE INDEX runs_backfill ON runs (backfill_id, status) WHERE backfill_id IS NOT NULL;
CREATE INDEX runs_interval ON runs (job_id, interval_end) WHERE interval_end IS NOT NULL;

-- A run a backfill queued says so.
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
  CHECK (trigger IN ('manual', 'api', 'schedule', 'after', 'retry', 'backfill'));
