-- A run's parameters (issue 20): customer data, kept here in the region (R1). A client
-- stores them, checked against the job's declaration, and triggers the run at the
-- control plane with their id only; the executor reads them back by that id, for the
-- run's workspace and job.
CREATE TABLE run_parameters (
  parameters_id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL,
  job_name text NOT NULL,
  -- The values as the job gets them: typed, defaults filled in.
  parameter_values jsonb NOT NULL,
  -- The scoped token's subject that stored them.
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_parameters_workspace ON run_parameters (workspace_id, created_at);
