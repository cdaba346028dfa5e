-- Fair claims between workspaces (issue 16, noisy neighbours): a workspace may have at
-- most this many batch runs claimed or running on its data plane at once. Null: the
-- control plane's default (SOV_WORKSPACE_RUN_LIMIT). Set by an admin of the data plane's
-- organization, since it protects that data plane's other tenants.
ALTER TABLE workspaces ADD COLUMN max_concurrent_runs integer CHECK (max_concurrent_runs > 0);

-- A claim counts each waiting workspace's active runs.
CREATE INDEX runs_active_workspace ON runs (workspace_id) WHERE status IN ('claimed', 'running');
