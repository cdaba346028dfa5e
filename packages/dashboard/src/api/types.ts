import type { DataplaneHealthStatus } from '@sovereign/contract/health';
import type { RunStatus } from '@sovereign/contract/run-states';
import type { Role } from '@sovereign/contract/scopes';

/** The shapes the control plane's public API answers (its OpenAPI document is the reference). */

export interface Session {
  accessToken: string;
  expiresAt: string;
}

export interface Me {
  userId: string;
  email: string;
  name: string;
  isInstanceAdmin: boolean;
  organizations: Array<{ organizationId: string; name: string; role: Role }>;
}

export interface Organization {
  organizationId: string;
  name: string;
  isDefault: boolean;
  role: Role;
}

export interface Region {
  regionId: string;
  name: string;
  organizationId: string;
  enabled: boolean;
}

export interface Dataplane {
  dataplaneId: string;
  name: string;
  regionId: string;
  enabled: boolean;
}

/** Its id, URL and held runs are shown to the data plane's organization's administrators only. */
export interface DataplaneInstance {
  instanceId?: string;
  version: string;
  publicUrl?: string;
  capacity: number;
  heldRuns?: number;
  startedAt: string;
  lastHeartbeatAt: string | null;
  status: DataplaneHealthStatus;
}

export interface DataplaneHealth {
  dataplaneId: string;
  status: DataplaneHealthStatus;
  lastHeartbeatAt: string | null;
  version: string | null;
  publicUrl: string | null;
  /** The last refused report of another public URL (administrators only). */
  publicUrlMismatch?: { reported: string; at: string } | null;
  instances: DataplaneInstance[];
}

export interface Workspace {
  workspaceId: string;
  name: string;
  organizationId: string;
  regionId: string;
  dataplaneId: string;
  dataResidency: string;
}

export type JobTrigger =
  | { type: 'manual' }
  | { type: 'cron'; cron: string }
  | { type: 'every'; everySeconds: number }
  | { type: 'once'; at: string }
  | { type: 'after'; job: string; on: 'success' | 'failure' | 'completion' };

export type RunTrigger = 'manual' | 'api' | 'schedule' | 'after' | 'retry';

export interface Job {
  jobId: string;
  workspaceId: string;
  name: string;
  kind: 'batch' | 'interactive';
  trigger: JobTrigger;
  timezone: string;
  timeoutSeconds: number;
  retries: number;
  paused: boolean;
  archived: boolean;
  lastRun: {
    runId: string;
    status: RunStatus;
    trigger: RunTrigger;
    queuedAt: string;
    finishedAt: string | null;
  } | null;
}

export interface Run {
  runId: string;
  jobId: string;
  jobName: string;
  workspaceId: string;
  dataplaneId: string;
  attempt: number;
  rootRunId: string;
  trigger: RunTrigger;
  status: RunStatus;
  reasonCode: string | null;
  exitCode: number | null;
  scheduledFor: string | null;
  queuedAt: string;
  claimedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequested: boolean;
  /** Where an interactive run's app is reached on its data plane; null for batch runs. */
  url: string | null;
}

export interface ApiKey {
  apiKeyId: string;
  name: string;
  prefix: string;
  /** The most the key may do; it never acts above your own role either. */
  role: Role;
  /** The one workspace it acts in, or null. */
  workspaceId: string | null;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
}

/** The shapes the data plane's API answers. */

export interface LogLine {
  seq: number;
  stream: 'stdout' | 'stderr';
  at: string;
  line: string;
}

export interface Variable {
  name: string;
  secret: boolean;
  value?: string;
  updatedAt: string;
}

export interface Output {
  path: string;
  sizeBytes: number;
  digest: string;
  createdAt: string;
}

export interface JobState {
  job: string;
  state: unknown;
  updatedAt: string;
  updatedByRun: string | null;
}
