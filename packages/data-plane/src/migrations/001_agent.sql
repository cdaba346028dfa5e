-- What this data plane last learned from its control plane, so a restart while the
-- control plane is away still knows who it is, whom to trust and what it hosts.
CREATE TABLE agent_state (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Messages for the control plane, written in the same transaction as the change they
-- report and delivered with retries: an outage or a restart on either side loses
-- nothing. Payloads are protocol metadata only (R1).
CREATE TABLE outbox (
  outbox_id bigserial PRIMARY KEY,
  kind text NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  -- Messages of one group (one run's events) are delivered in the order they were written.
  group_key text NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  -- A protocol error code from the control plane; never text produced by a job.
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_group ON outbox (group_key, outbox_id) WHERE delivered_at IS NULL;
