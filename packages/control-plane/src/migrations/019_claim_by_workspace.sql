-- A claim reads the queue a workspace at a time (issue 23): the workspaces with runs
-- queued on a data plane, then each one's oldest runs, as many as the claim can take,
-- in the order it hands them out. It numbered every queued run of the data plane
-- before: 7 ms a claim with a thousand runs queued, on every claim.
CREATE INDEX runs_queue_workspace ON runs (dataplane_id, workspace_id, queued_at, run_id) WHERE status = 'queued';
-- And an interactive job's queued runs, read job by job for the apps a claim has room for.
CREATE INDEX runs_queue_job ON runs (job_id, queued_at, run_id) WHERE status = 'queued';
