-- The last instance that held each run, kept after the run ends, so an event it sent
-- before the end but delivered after it (an outage in between) is still recorded.
ALTER TABLE runs ADD COLUMN last_instance_id uuid;
