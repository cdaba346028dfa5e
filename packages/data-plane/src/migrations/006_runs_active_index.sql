-- The runs still going, as the orphan sweep looks them up every few seconds: without it,
-- each sweep read every run this data plane ever kept.
CREATE INDEX runs_active ON runs (instance_id) WHERE status IN ('claimed', 'running');
