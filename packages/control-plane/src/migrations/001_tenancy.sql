-- Users, organizations, regions, data planes, workspaces, signing keys and audit.
-- R1: nothing here holds customer payload: names, ids, hashes, times and statuses only.

CREATE TABLE users (
  user_id uuid PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL DEFAULT '',
  password_hash text NOT NULL,
  is_instance_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Sign-in sessions and API keys: only a SHA-256 of the secret is kept.
CREATE TABLE sessions (
  session_id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);

CREATE TABLE api_keys (
  api_key_id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  -- The first characters of the key, so a person can tell keys apart.
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE organizations (
  organization_id uuid PRIMARY KEY,
  name text NOT NULL,
  -- The instance's default organization: its regions are usable by every organization.
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE UNIQUE INDEX organizations_one_default ON organizations (is_default) WHERE is_default;

CREATE TABLE memberships (
  organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Airbyte's dataplane_group. Deleted regions are tombstoned, never removed.
CREATE TABLE regions (
  region_id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations,
  name text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  tombstone boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX regions_org_name ON regions (organization_id, lower(name)) WHERE NOT tombstone;

CREATE TABLE dataplanes (
  dataplane_id uuid PRIMARY KEY,
  region_id uuid NOT NULL REFERENCES regions,
  name text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  tombstone boolean NOT NULL DEFAULT false,
  client_id uuid NOT NULL UNIQUE,
  -- NULL once the data plane is deleted: its credentials stop working at once.
  client_secret_hash text,
  -- The URL clients reach it at, as its instances report it.
  public_url text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dataplanes_region_name ON dataplanes (region_id, lower(name)) WHERE NOT tombstone;

CREATE TABLE dataplane_instances (
  instance_id uuid PRIMARY KEY,
  dataplane_id uuid NOT NULL REFERENCES dataplanes,
  version text NOT NULL,
  public_url text NOT NULL,
  capacity integer NOT NULL,
  held_runs integer NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at timestamptz
);
CREATE INDEX dataplane_instances_dataplane ON dataplane_instances (dataplane_id, last_heartbeat_at DESC);

CREATE TABLE workspaces (
  workspace_id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations,
  name text NOT NULL,
  -- R4: set once at creation; no statement in the code base updates it.
  region_id uuid NOT NULL REFERENCES regions,
  dataplane_id uuid NOT NULL REFERENCES dataplanes,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE UNIQUE INDEX workspaces_org_name ON workspaces (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX workspaces_dataplane ON workspaces (dataplane_id) WHERE deleted_at IS NULL;

-- A database trigger backs R4: even a hand-written UPDATE cannot move a workspace.
CREATE FUNCTION workspaces_region_is_permanent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.region_id <> OLD.region_id THEN RAISE EXCEPTION 'workspace region is permanent' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$;
CREATE TRIGGER workspaces_region_is_permanent BEFORE UPDATE ON workspaces
  FOR EACH ROW EXECUTE FUNCTION workspaces_region_is_permanent();

-- Ed25519 keys that sign scoped tokens. Exactly one is active; retiring keys still
-- verify (they stay in the JWKS); retired keys are gone from it.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
  public_jwk jsonb NOT NULL,
  private_jwk jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  retiring_at timestamptz,
  retired_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- Scoped tokens issued to clients: metadata only, so they can be listed and revoked.
CREATE TABLE issued_tokens (
  jti text PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces,
  dataplane_id uuid NOT NULL REFERENCES dataplanes,
  user_id uuid NOT NULL REFERENCES users,
  scopes text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX issued_tokens_revoked ON issued_tokens (dataplane_id, expires_at) WHERE revoked_at IS NOT NULL;

-- Who did what to which target, when. Never a request body.
CREATE TABLE audit_events (
  audit_event_id bigserial PRIMARY KEY,
  organization_id uuid,
  actor_type text NOT NULL CHECK (actor_type IN ('user', 'dataplane', 'system')),
  actor_id text,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text NOT NULL,
  request_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org ON audit_events (organization_id, audit_event_id DESC);
