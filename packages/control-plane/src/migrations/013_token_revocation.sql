-- Ending a credential ends what it minted (issue 16, point 5): each scoped token records
-- the sign-in session or API key it was issued under.
ALTER TABLE issued_tokens ADD COLUMN session_id uuid;
ALTER TABLE issued_tokens ADD COLUMN api_key_id uuid;

-- Revocations numbered in the order they happened: a data plane follows its own from the
-- last number it saw, held open until there is a new one.
CREATE SEQUENCE token_revocation_seq;
ALTER TABLE issued_tokens ADD COLUMN revocation_seq bigint;
CREATE INDEX issued_tokens_revocations ON issued_tokens (dataplane_id, revocation_seq)
  WHERE revocation_seq IS NOT NULL;

-- Finding a user's, a credential's or a workspace's live tokens.
CREATE INDEX issued_tokens_user ON issued_tokens (user_id, expires_at);
CREATE INDEX issued_tokens_workspace ON issued_tokens (workspace_id, expires_at);
CREATE INDEX issued_tokens_session ON issued_tokens (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX issued_tokens_api_key ON issued_tokens (api_key_id) WHERE api_key_id IS NOT NULL;
