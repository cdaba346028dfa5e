-- Launch tickets of interactive apps: a browser redeems one, once and within a minute,
-- on the app's own origin, and gets that app's session cookie. Only the ticket's hash
-- is kept, and the state it is bound to (the hash of the browser's launch cookie).
-- Every instance of the data plane shares them: one may issue, another redeem.

CREATE TABLE interactive_launch_tickets (
  ticket_hash text PRIMARY KEY,
  run_id uuid NOT NULL,
  workspace_id uuid NOT NULL,
  -- Whom it opens the app for: the scoped token's subject, and the token (for revocation).
  user_id text NOT NULL,
  token_id text NOT NULL,
  state text NOT NULL,
  -- Where in the app the browser lands.
  path text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  redeemed_at timestamptz
);
CREATE INDEX interactive_launch_tickets_expiry ON interactive_launch_tickets (expires_at);
