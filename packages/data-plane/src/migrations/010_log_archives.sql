-- A run's log lines past an age or a size leave the database for the artifact store
-- (the region's bucket, or the local filesystem): one object per archived range of
-- lines, named by the run's id and the range's numbers only. The live tail stays in
-- run_log_chunks. The lines are masked before they are stored (R7), so archived objects
-- hold masked text only.
CREATE TABLE run_log_archives (
  run_id uuid NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  artifact_key text NOT NULL,
  -- The object's size, and the lines' text it holds (uncompressed).
  size_bytes bigint NOT NULL,
  text_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, last_seq),
  CHECK (last_seq >= first_seq)
);

-- Lines 1 .. log_archived_seq are in run_log_archives; the text still in run_log_chunks
-- (counted as lines are appended), so a long run is archived once it passes a size; and
-- who is archiving the run's lines (a claim's id) until when, so two instances never
-- archive the same range.
ALTER TABLE runs ADD COLUMN log_archived_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN log_live_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN log_archiver uuid;
ALTER TABLE runs ADD COLUMN log_archive_until timestamptz;

-- The runs with lines left to archive, as the archivers look them up every few seconds:
-- the runs going on and those ended lately, never the whole history.
CREATE INDEX runs_logs_to_archive ON runs (finished_at) WHERE log_lines > log_archived_seq;
