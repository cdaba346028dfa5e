-- Runs: one row per attempt. Statuses, times, exit codes and reason codes only (R5):
-- never a log line or an error message of a job.

CREATE TABLE runs (
  run_id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs,
  workspace_id uuid NOT NULL REFERENCES workspaces,
  dataplane_id uuid NOT NULL REFERENCES dataplanes,
  -- The deployment current when the run was queued: what it runs.
  deployment_id uuid NOT NULL REFERENCES deployments,
  attempt integer NOT NULL DEFAULT 1,
  -- The first attempt of a retried run; its own id for a first attempt.
  root_run_id uuid NOT NULL,
  trigger text NOT NULL CHECK (trigger IN ('manual', 'api', 'schedule', 'after', 'retry')),
  status text NOT NULL CHECK (status IN ('queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
  reason_code text,
  exit_code integer,
  timeout_seconds integer NOT NULL,
  -- The due time a scheduled run fires for: unique per job, so it fires once.
  scheduled_for timestamptz,
  created_by uuid,
  queued_at timestamptz NOT NULL DEFAULT now(),
  claimed_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  -- Lease: the instance that holds the run, until when. Events from any other are refused.
  lease_instance_id uuid,
  lease_expires_at timestamptz,
  cancel_requested_at timestamptz,
  last_seq integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX runs_fire_once ON runs (job_id, scheduled_for) WHERE scheduled_for IS NOT NULL AND attempt = 1;
CREATE INDEX runs_queue ON runs (dataplane_id, queued_at) WHERE status = 'queued';
CREATE INDEX runs_leases ON runs (lease_expires_at) WHERE status IN ('claimed', 'running');
CREATE INDEX runs_workspace ON runs (workspace_id, queued_at DESC, run_id DESC);
CREATE INDEX runs_job ON runs (job_id, queued_at DESC, run_id DESC);

-- Every status event a data plane reported, idempotent by (run_id, seq).
CREATE TABLE run_events (
  run_id uuid NOT NULL REFERENCES runs,
  seq integer NOT NULL,
  status text NOT NULL,
  exit_code integer,
  reason_code text,
  instance_id uuid NOT NULL,
  at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);

-- The scheduler's memory: the next due time of each scheduled job.
CREATE TABLE job_schedules (
  job_id uuid PRIMARY KEY REFERENCES jobs,
  -- The trigger this state was computed for: a changed trigger starts afresh.
  trigger jsonb NOT NULL,
  timezone text NOT NULL,
  next_due_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
