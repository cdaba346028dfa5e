-- Issue 16, point 6: an API key no longer carries all of its user's power forever.
-- Every key has a role that caps what it may do (it never acts above its user's current
-- role either), may be bound to one workspace, and expires. A user can be disabled.

-- Keys made before this kept their user's full power: they become owner keys, the most
-- a key can be, still capped by the user's role in each organization.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'owner'
  CHECK (role IN ('owner', 'admin', 'member', 'viewer'));
ALTER TABLE api_keys ALTER COLUMN role DROP DEFAULT;

-- A workspace key acts in that workspace only, as a viewer or a member.
ALTER TABLE api_keys ADD COLUMN workspace_id uuid REFERENCES workspaces;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_workspace_role
  CHECK (workspace_id IS NULL OR role IN ('member', 'viewer'));

-- From now on every key expires. One that never did gets 90 days from now (time to make
-- a new one); one that would have lasted more than a year from now gets a year.
UPDATE api_keys SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
UPDATE api_keys SET expires_at = now() + interval '365 days' WHERE expires_at > now() + interval '365 days';
ALTER TABLE api_keys ALTER COLUMN expires_at SET NOT NULL;

-- Set by an instance administrator: the user cannot sign in, and their sessions and API
-- keys are refused on their next request. Null while the user may act.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
