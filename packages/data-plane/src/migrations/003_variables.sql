-- Workspace variables. Plain values are stored as they are; secret values only as
-- AES-256-GCM ciphertext under a per-workspace data key, which is itself stored only
-- wrapped by the data plane's master key (R7). The control plane never sees either.

CREATE TABLE data_keys (
  workspace_id uuid NOT NULL,
  version integer NOT NULL,
  -- iv || tag || ciphertext of the 32-byte key, sealed under the master key.
  wrapped bytea NOT NULL,
  master_key_id text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, version)
);
CREATE UNIQUE INDEX data_keys_one_active ON data_keys (workspace_id) WHERE active;

CREATE TABLE variables (
  workspace_id uuid NOT NULL,
  name text NOT NULL,
  secret boolean NOT NULL,
  plain_value text,
  -- iv || tag || ciphertext, bound to (workspace, name) as additional data.
  sealed_value bytea,
  key_version integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, name),
  CHECK ((secret AND sealed_value IS NOT NULL AND plain_value IS NULL)
      OR (NOT secret AND plain_value IS NOT NULL AND sealed_value IS NULL))
);

-- A known value sealed under the master key: proves at start that the configured key
-- is the one the secrets were sealed with, instead of serving garbage.
CREATE TABLE master_key_check (
  id integer PRIMARY KEY CHECK (id = 1),
  master_key_id text NOT NULL,
  sealed bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
