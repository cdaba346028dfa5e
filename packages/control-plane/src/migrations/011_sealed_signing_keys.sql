-- The private half of each signing key, sealed (AES-256-GCM) under the control plane's
-- master key, with the id of that key, so several master keys can be told apart while
-- one replaces another. Whoever reads the database reads no private key.
ALTER TABLE signing_keys ADD COLUMN sealed_private_key bytea;
ALTER TABLE signing_keys ADD COLUMN master_key_id text;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_sealed_with_its_key
  CHECK ((sealed_private_key IS NULL) = (master_key_id IS NULL));
-- private_jwk (plaintext) stays only until the first start with a master key seals it
-- and empties it, in one transaction; nothing writes it any more.
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_private_key_once
  CHECK (private_jwk IS NULL OR sealed_private_key IS NULL);
