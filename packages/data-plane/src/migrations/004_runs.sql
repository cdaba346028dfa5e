-- Runs as this data plane executes them, their logs, outputs and the jobs' state.
-- All of it customer data: it stays here, in the region (R1, R5, R6).

CREATE TABLE runs (
  run_id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL,
  job_name text NOT NULL,
  deployment_id uuid NOT NULL,
  attempt integer NOT NULL,
  kind text NOT NULL,
  instance_id uuid NOT NULL,
  status text NOT NULL,
  exit_code integer,
  reason_code text,
  -- Process group of the job, so a restarted instance can stop what its predecessor left.
  pgid integer,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- Sequence numbers of the status events sent to the control plane.
  last_seq integer NOT NULL DEFAULT 0,
  -- Log lines stored so far, so followers know where the end is.
  log_lines bigint NOT NULL DEFAULT 0
);
CREATE INDEX runs_workspace ON runs (workspace_id, claimed_at DESC);

CREATE TABLE run_logs (
  run_id uuid NOT NULL,
  seq bigint NOT NULL,
  stream text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  at timestamptz NOT NULL,
  -- Secrets are masked before a line is stored (R7).
  line text NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_outputs (
  run_id uuid NOT NULL,
  path text NOT NULL,
  size_bytes bigint NOT NULL,
  digest text NOT NULL,
  artifact_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, path)
);

-- A job's incremental state (cursors, primary keys): saved after a successful run,
-- given to the next one (R6: never sent to the control plane).
CREATE TABLE job_state (
  workspace_id uuid NOT NULL,
  job_name text NOT NULL,
  state jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by_run uuid,
  PRIMARY KEY (workspace_id, job_name)
);

-- Instances of this data plane that are alive, so one can tell a run whose process
-- died with its instance (kill -9, a lost machine) from one that is still running.
CREATE TABLE instances (
  instance_id uuid PRIMARY KEY,
  last_seen timestamptz NOT NULL DEFAULT now()
);
