-- Moves of a workspace to another region (issue 22). A workspace's region never changes
-- (R4): a move makes a new workspace in the target region, and the client copies the
-- bundle, variables and state from one data plane to the other itself (R2, R8). Here is
-- only who moved which workspace where, and when (R1).
--
-- A workspace with a row here as `from_workspace_id` is moved (or being moved): its
-- schedules stop, it takes no new deployment, trigger or write, and its history stays
-- readable. One move per workspace, for good; a second start of it answers the same row,
-- which is how an interrupted move is resumed.
CREATE TABLE workspace_moves (
  move_id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations,
  from_workspace_id uuid NOT NULL UNIQUE REFERENCES workspaces,
  to_workspace_id uuid NOT NULL UNIQUE REFERENCES workspaces,
  to_region_id uuid NOT NULL REFERENCES regions,
  -- in_progress: the new workspace holds the jobs paused; completed: it runs them.
  status text NOT NULL CHECK (status IN ('in_progress', 'completed')),
  started_by uuid,
  started_at timestamptz NOT NULL DEFAULT now(),
  completed_by uuid,
  completed_at timestamptz,
  CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
  CHECK (from_workspace_id <> to_workspace_id)
);
