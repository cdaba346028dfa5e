-- Outputs of another workspace's runs, copied here when that workspace moved to this
-- region (issue 22, `sov workspace move --with-outputs`): the client read them from the
-- old region's data plane and wrote them here, under the new workspace, named by the old
-- run's id and their path. Customer data, kept in this region only (R1, R8).
CREATE TABLE moved_outputs (
  workspace_id uuid NOT NULL,
  run_id uuid NOT NULL,
  path text NOT NULL,
  size_bytes bigint NOT NULL,
  digest text NOT NULL,
  artifact_key text NOT NULL,
  moved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, run_id, path)
);
