-- Orders the claims handed to instances, so a heartbeat can tell a claim its instance
-- took in (and no longer lists) from one still on its way to it. A sequence, not a
-- clock: control plane replicas' clocks differ, the database's sequence is one.
CREATE SEQUENCE run_claim_seq;
ALTER TABLE runs ADD COLUMN claim_seq bigint;
