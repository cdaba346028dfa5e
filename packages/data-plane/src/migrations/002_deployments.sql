-- Deployments: immutable versions of a workspace's project. The bundle itself is an
-- artifact; the manifest (with the job commands) is kept here for the executor.
CREATE TABLE deployments (
  deployment_id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL,
  digest text NOT NULL,
  size_bytes bigint NOT NULL,
  artifact_key text NOT NULL,
  manifest text NOT NULL,
  jobs jsonb NOT NULL,
  created_by uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- The current deployment of a workspace is its newest: one index probe.
CREATE INDEX deployments_workspace ON deployments (workspace_id, created_at DESC, deployment_id DESC);
