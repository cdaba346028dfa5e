-- At most this many runs of a job at once (queued, claimed or running), as its manifest
-- says; NULL is no limit. Interactive jobs get 1 unless the manifest says otherwise.
ALTER TABLE jobs ADD COLUMN max_running integer;
UPDATE jobs SET max_running = 1 WHERE kind = 'interactive';
