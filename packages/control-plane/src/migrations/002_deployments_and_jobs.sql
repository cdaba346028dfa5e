-- Deployment metadata and the jobs it declares, as data planes report them.
-- R1: digests, sizes, names, triggers and limits only; the bundle, its manifest and
-- the job commands stay in the data plane.

CREATE TABLE deployments (
  deployment_id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces,
  dataplane_id uuid NOT NULL REFERENCES dataplanes,
  digest text NOT NULL,
  size_bytes bigint NOT NULL,
  job_names text[] NOT NULL,
  created_by uuid,
  created_at timestamptz NOT NULL,
  reported_at timestamptz NOT NULL DEFAULT now(),
  -- The outcome of applying the report, answered again when it is delivered twice.
  changes jsonb NOT NULL
);
CREATE INDEX deployments_workspace ON deployments (workspace_id, created_at DESC);

-- A job keeps its id and its history across deployments; one that disappears from the
-- manifest is archived, never deleted, and comes back under the same id if it returns.
CREATE TABLE jobs (
  job_id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('batch', 'interactive')),
  trigger jsonb NOT NULL,
  timezone text NOT NULL,
  timeout_seconds integer NOT NULL,
  retries integer NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  deployment_id uuid NOT NULL REFERENCES deployments,
  archived_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, name)
);
