-- What each data plane instance runs jobs in (R9): its jail and limits, as it reported
-- them with its last heartbeat. Null for instances older than jails.
ALTER TABLE dataplane_instances ADD COLUMN sandbox jsonb;
