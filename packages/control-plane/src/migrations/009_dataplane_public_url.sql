-- A data plane's public URL is where the control plane sends clients with their scoped
-- tokens (issue 16). It is set by an administrator, or pinned by the first instance that
-- registers; an instance reporting another is refused. Data planes registered before
-- keep the URL their instances last reported, pinned from now on.
-- What the last refused instance reported, and when: shown to the data plane's
-- administrators in its health until one of them sets the public URL.
ALTER TABLE dataplanes ADD COLUMN public_url_mismatch text;
ALTER TABLE dataplanes ADD COLUMN public_url_mismatch_at timestamptz;
