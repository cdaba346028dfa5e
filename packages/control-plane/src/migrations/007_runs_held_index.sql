-- The runs an instance holds, as every claim and heartbeat looks them up (undelivered
-- claims, cancels to pass on): without it, each was a scan of every run ever made.
CREATE INDEX runs_held ON runs (lease_instance_id) WHERE status IN ('claimed', 'running');
