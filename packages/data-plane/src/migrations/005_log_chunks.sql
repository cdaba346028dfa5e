-- Log lines are stored as runs of consecutive lines that share a stream and a time
-- (what one read from a job's pipe gives): one row per line made a 100 MB log a
-- million rows and index entries to write, and as many to read back.
CREATE TABLE run_log_chunks (
  run_id uuid NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  stream text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  at timestamptz NOT NULL,
  -- The lines joined by newlines (a line never holds one; a chunk of one line is kept
  -- as is). Secrets are masked before a line is stored (R7).
  body text NOT NULL,
  PRIMARY KEY (run_id, last_seq),
  CHECK (last_seq >= first_seq)
);

INSERT INTO run_log_chunks (run_id, first_seq, last_seq, stream, at, body)
  SELECT run_id, seq, seq, stream, at, line FROM run_logs;

DROP TABLE run_logs;
