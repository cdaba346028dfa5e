import type {
  DeploymentReportResponse,
  JobTrigger,
  Role,
  RunStatus,
  RunTrigger,
  SandboxFacts,
} from '@sovereign/contract';
import type { JWK } from 'jose';

/**
 * The control plane's tables, one interface each, with their columns as the migrations
 * (src/migrations) leave them and as the drivers hand them back: uuid and text as
 * strings, timestamptz as Dates, int8 as numbers (both drivers parse it so), jsonb as
 * its value, bytea as bytes. Every row type of a query is derived from these (a Pick,
 * joined tables as intersections, computed columns spelled out), so a type says only
 * what its query returns. A migration that changes a table changes its interface here.
 */

export interface UsersTable {
  user_id: string;
  email: string;
  name: string;
  password_hash: string;
  is_instance_admin: boolean;
  created_at: Date;
  updated_at: Date;
  /** Set while an instance administrator has disabled the user (010). */
  disabled_at: Date | null;
}

export interface SessionsTable {
  session_id: string;
  user_id: string;
  token_hash: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

export interface ApiKeysTable {
  api_key_id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  created_at: Date;
  /** Every key expires since 010. */
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  role: Role;
  workspace_id: string | null;
}

export interface OrganizationsTable {
  organization_id: string;
  name: string;
  is_default: boolean;
  /** Its data region, for good; null: each workspace picks its own. */
  region_id: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface MembershipsTable {
  organization_id: string;
  user_id: string;
  role: Role;
  created_at: Date;
  updated_at: Date;
}

export interface RegionsTable {
  region_id: string;
  organization_id: string;
  name: string;
  enabled: boolean;
  tombstone: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface DataplanesTable {
  dataplane_id: string;
  region_id: string;
  name: string;
  enabled: boolean;
  tombstone: boolean;
  client_id: string;
  /** NULL once the data plane is deleted: its credentials stop working at once. */
  client_secret_hash: string | null;
  /** Where clients are sent; null until an administrator sets it or the first instance registers. */
  public_url: string | null;
  created_at: Date;
  updated_at: Date;
  /** What the last instance refused for reporting another URL said, and when (009). */
  public_url_mismatch: string | null;
  public_url_mismatch_at: Date | null;
}

export interface DataplaneInstancesTable {
  instance_id: string;
  dataplane_id: string;
  version: string;
  public_url: string;
  capacity: number;
  held_runs: number;
  started_at: Date;
  last_heartbeat_at: Date | null;
  /** What it runs jobs in, as its last heartbeat said (008); null for instances older than jails. */
  sandbox: SandboxFacts | null;
}

export interface WorkspacesTable {
  workspace_id: string;
  organization_id: string;
  name: string;
  region_id: string;
  dataplane_id: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  /** Null: the control plane's default (012). */
  max_concurrent_runs: number | null;
}

/** A workspace's move to another region (018): metadata only, the data is copied by the client. */
export interface WorkspaceMovesTable {
  move_id: string;
  organization_id: string;
  from_workspace_id: string;
  to_workspace_id: string;
  to_region_id: string;
  status: 'in_progress' | 'completed';
  started_by: string | null;
  started_at: Date;
  completed_by: string | null;
  completed_at: Date | null;
}

export interface SigningKeysTable {
  kid: string;
  state: 'active' | 'retiring' | 'retired';
  public_jwk: JWK;
  /** Plaintext, left by versions before 011 until the next start seals it. */
  private_jwk: JWK | null;
  created_at: Date;
  retiring_at: Date | null;
  retired_at: Date | null;
  sealed_private_key: Uint8Array | null;
  master_key_id: string | null;
}

export interface IssuedTokensTable {
  jti: string;
  workspace_id: string;
  dataplane_id: string;
  user_id: string;
  /** Space-separated, as in the token's `scope` claim. */
  scopes: string;
  issued_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  /** The credential it was issued under (013); null for tokens issued before. */
  session_id: string | null;
  api_key_id: string | null;
  revocation_seq: number | null;
}

export interface AuditEventsTable {
  audit_event_id: number;
  organization_id: string | null;
  actor_type: 'user' | 'dataplane' | 'system';
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  created_at: Date;
}

export interface DeploymentsTable {
  deployment_id: string;
  workspace_id: string;
  dataplane_id: string;
  digest: string;
  size_bytes: number;
  job_names: string[];
  created_by: string | null;
  created_at: Date;
  reported_at: Date;
  /** The outcome of applying the report, answered again when it is delivered twice. */
  changes: DeploymentReportResponse['jobs'];
}

export type JobKind = 'batch' | 'interactive';

export interface JobsTable {
  job_id: string;
  workspace_id: string;
  name: string;
  kind: JobKind;
  trigger: JobTrigger;
  timezone: string;
  timeout_seconds: number;
  retries: number;
  paused: boolean;
  deployment_id: string;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Null: no limit (005). */
  max_running: number | null;
  /** Before the first retry; each later one waits retry_backoff times longer (015). */
  retry_delay_seconds: number;
  retry_backoff: number;
}

export interface RunsTable {
  run_id: string;
  job_id: string;
  workspace_id: string;
  dataplane_id: string;
  deployment_id: string;
  attempt: number;
  root_run_id: string;
  trigger: RunTrigger;
  status: RunStatus;
  reason_code: string | null;
  exit_code: number | null;
  timeout_seconds: number;
  scheduled_for: Date | null;
  created_by: string | null;
  queued_at: Date;
  claimed_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  lease_instance_id: string | null;
  lease_expires_at: Date | null;
  /** The id of its parameters on its data plane (016); null when it was given none. */
  parameters_id: string | null;
  cancel_requested_at: Date | null;
  last_seq: number;
  /** The instance that held the run last, kept after it ends (004). */
  last_instance_id: string | null;
  /** The claim that handed it out (006). */
  claim_seq: number | null;
  /** The interval a scheduled or backfilled run covers, from its schedule's previous due time to its own (017). */
  interval_start: Date | null;
  interval_end: Date | null;
  /** The backfill that queued it (017). */
  backfill_id: string | null;
}

export interface BackfillsTable {
  backfill_id: string;
  job_id: string;
  workspace_id: string;
  organization_id: string;
  range_from: Date;
  range_to: Date;
  max_running: number;
  force: boolean;
  intervals: number;
  skipped: number;
  status: 'running' | 'done' | 'cancelled';
  created_by: string | null;
  created_at: Date;
  finished_at: Date | null;
}

export interface BackfillIntervalsTable {
  backfill_id: string;
  position: number;
  interval_start: Date;
  interval_end: Date;
  run_id: string | null;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  status: RunStatus;
  exit_code: number | null;
  reason_code: string | null;
  instance_id: string;
  at: Date;
  received_at: Date;
}

export interface JobSchedulesTable {
  job_id: string;
  /** The trigger this state was computed for: a changed trigger starts afresh. */
  trigger: JobTrigger;
  timezone: string;
  next_due_at: Date | null;
  updated_at: Date;
}
