import { type Static, type TSchema, Type } from 'typebox';
import { Backfill, BackfillList, BackfillRequest } from './backfills.ts';
import { ScopedTokenRequest, ScopedTokenResponse } from './dataplane-tokens.ts';
import {
  DataplaneCreateRequest,
  DataplaneCreateResponseBody,
  DataplaneHealth,
  DataplaneListQuery,
  DataplanePatchRequest,
  DataplaneResponse,
  DataplanesResponse,
} from './dataplanes.ts';
import {
  DeploymentList,
  DeploymentManifest,
  DeploymentMetadataList,
  DeployQuery,
  DeployResult,
} from './deployments.ts';
import { Job, JobList, JobListQuery, JobPatchRequest, JobPatchResponse } from './jobs.ts';
import { LogPage, LogQuery } from './logs.ts';
import {
  ApiKeyList,
  ChangePasswordRequest,
  ChangePasswordResponse,
  CreatedApiKey,
  LoginRequest,
  Me,
  NewApiKey,
  Session,
} from './me.ts';
import { WorkspaceMove } from './moves.ts';
import { Organization, OrganizationCreateRequest, OrganizationList } from './organizations.ts';
import { MovedOutputList, MovedOutputQuery, OutputFileList } from './outputs.ts';
import { StoredParameters, StoreParametersRequest } from './parameters.ts';
import {
  RegionCreateRequest,
  RegionListQuery,
  RegionPatchRequest,
  RegionResponse,
  RegionsResponse,
} from './regions.ts';
import { Run, RunList, RunListQuery, TriggerRunRequest } from './runs.ts';
import { JobState, JobStateRequest } from './state.ts';
import { Variable, VariableList, VariableSetRequest } from './variables.ts';
import {
  WorkspaceCreateRequest,
  WorkspaceList,
  WorkspaceListQuery,
  WorkspaceMoveRequest,
  WorkspaceResponse,
} from './workspaces.ts';

/** An answer without a body (204). */
export const NoContent = Type.Null();

/**
 * One route of a public API: its method, its path as the OpenAPI document writes it
 * (`{name}` for a path parameter), and the schemas of what it takes and answers.
 */
export interface PublicRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: TSchema;
  body?: TSchema;
  /** The answer of a success: 200 with this body, or 204 for NoContent. */
  response: TSchema;
}

/**
 * The control plane's public routes a client calls (under /api/public/v1), as the
 * client in @sovereign/client calls them. A test checks each against the served OpenAPI
 * document, so a route and its entry here cannot drift apart.
 */
export const ControlPlaneRoutes = {
  login: { method: 'POST', path: '/auth/login', body: LoginRequest, response: Session },
  logout: { method: 'POST', path: '/auth/logout', response: NoContent },
  me: { method: 'GET', path: '/me', response: Me },
  changePassword: {
    method: 'POST',
    path: '/me/password',
    body: ChangePasswordRequest,
    response: ChangePasswordResponse,
  },
  organizations: { method: 'GET', path: '/organizations', response: OrganizationList },
  createOrganization: {
    method: 'POST',
    path: '/organizations',
    body: OrganizationCreateRequest,
    response: Organization,
  },
  regions: { method: 'GET', path: '/regions', query: RegionListQuery, response: RegionsResponse },
  createRegion: { method: 'POST', path: '/regions', body: RegionCreateRequest, response: RegionResponse },
  updateRegion: { method: 'PATCH', path: '/regions/{regionId}', body: RegionPatchRequest, response: RegionResponse },
  deleteRegion: { method: 'DELETE', path: '/regions/{regionId}', response: RegionResponse },
  dataplanes: { method: 'GET', path: '/dataplanes', query: DataplaneListQuery, response: DataplanesResponse },
  dataplane: { method: 'GET', path: '/dataplanes/{dataplaneId}', response: DataplaneResponse },
  dataplaneHealth: { method: 'GET', path: '/dataplanes/{dataplaneId}/health', response: DataplaneHealth },
  createDataplane: {
    method: 'POST',
    path: '/dataplanes',
    body: DataplaneCreateRequest,
    response: DataplaneCreateResponseBody,
  },
  updateDataplane: {
    method: 'PATCH',
    path: '/dataplanes/{dataplaneId}',
    body: DataplanePatchRequest,
    response: DataplaneResponse,
  },
  deleteDataplane: { method: 'DELETE', path: '/dataplanes/{dataplaneId}', response: DataplaneResponse },
  workspaces: { method: 'GET', path: '/workspaces', query: WorkspaceListQuery, response: WorkspaceList },
  workspace: { method: 'GET', path: '/workspaces/{workspaceId}', response: WorkspaceResponse },
  createWorkspace: { method: 'POST', path: '/workspaces', body: WorkspaceCreateRequest, response: WorkspaceResponse },
  startMove: {
    method: 'POST',
    path: '/workspaces/{workspaceId}/move',
    body: WorkspaceMoveRequest,
    response: WorkspaceMove,
  },
  completeMove: { method: 'POST', path: '/workspaces/{workspaceId}/move/complete', response: WorkspaceMove },
  dataplaneToken: {
    method: 'POST',
    path: '/workspaces/{workspaceId}/dataplane-token',
    body: ScopedTokenRequest,
    response: ScopedTokenResponse,
  },
  jobs: { method: 'GET', path: '/workspaces/{workspaceId}/jobs', query: JobListQuery, response: JobList },
  deployments: { method: 'GET', path: '/workspaces/{workspaceId}/deployments', response: DeploymentMetadataList },
  job: { method: 'GET', path: '/jobs/{jobId}', response: Job },
  setPaused: { method: 'PATCH', path: '/jobs/{jobId}', body: JobPatchRequest, response: JobPatchResponse },
  trigger: { method: 'POST', path: '/jobs/{jobId}/runs', body: TriggerRunRequest, response: Run },
  runs: { method: 'GET', path: '/runs', query: RunListQuery, response: RunList },
  run: { method: 'GET', path: '/runs/{runId}', response: Run },
  cancel: { method: 'POST', path: '/runs/{runId}/cancel', response: Run },
  createBackfill: { method: 'POST', path: '/jobs/{jobId}/backfills', body: BackfillRequest, response: Backfill },
  backfills: { method: 'GET', path: '/jobs/{jobId}/backfills', response: BackfillList },
  backfill: { method: 'GET', path: '/backfills/{backfillId}', response: Backfill },
  cancelBackfill: { method: 'POST', path: '/backfills/{backfillId}/cancel', response: Backfill },
  apiKeys: { method: 'GET', path: '/api-keys', response: ApiKeyList },
  createApiKey: { method: 'POST', path: '/api-keys', body: NewApiKey, response: CreatedApiKey },
  revokeApiKey: { method: 'DELETE', path: '/api-keys/{apiKeyId}', response: NoContent },
} as const satisfies Record<string, PublicRoute>;

/**
 * A data plane's public routes a client calls (under /api/v1) with a scoped token.
 * The upload (`deploy`) takes a gzipped tar, not JSON.
 */
export const DataPlaneRoutes = {
  deploy: {
    method: 'POST',
    path: '/workspaces/{workspaceId}/deployments',
    query: DeployQuery,
    response: DeployResult,
  },
  deployments: { method: 'GET', path: '/workspaces/{workspaceId}/deployments', response: DeploymentList },
  manifest: {
    method: 'GET',
    path: '/workspaces/{workspaceId}/deployments/{deploymentId}/manifest',
    response: DeploymentManifest,
  },

  variables: { method: 'GET', path: '/workspaces/{workspaceId}/variables', response: VariableList },
  setVariable: {
    method: 'PUT',
    path: '/workspaces/{workspaceId}/variables/{name}',
    body: VariableSetRequest,
    response: Variable,
  },
  deleteVariable: { method: 'DELETE', path: '/workspaces/{workspaceId}/variables/{name}', response: NoContent },
  logs: { method: 'GET', path: '/runs/{runId}/logs', query: LogQuery, response: LogPage },
  outputs: { method: 'GET', path: '/runs/{runId}/outputs', response: OutputFileList },
  movedOutputs: {
    method: 'GET',
    path: '/workspaces/{workspaceId}/moved-outputs',
    query: MovedOutputQuery,
    response: MovedOutputList,
  },
  state: { method: 'GET', path: '/workspaces/{workspaceId}/jobs/{job}/state', response: JobState },
  setState: {
    method: 'PUT',
    path: '/workspaces/{workspaceId}/jobs/{job}/state',
    body: JobStateRequest,
    response: JobState,
  },
  storeParameters: {
    method: 'POST',
    path: '/workspaces/{workspaceId}/parameters',
    body: StoreParametersRequest,
    response: StoredParameters,
  },
  parameters: {
    method: 'GET',
    path: '/workspaces/{workspaceId}/parameters/{parametersId}',
    response: StoredParameters,
  },
} as const satisfies Record<string, PublicRoute>;

/** What a route answers, as a type: `AnswerOf<typeof ControlPlaneRoutes.me>`. */
export type AnswerOf<R extends { response: TSchema }> = R['response'] extends typeof NoContent
  ? undefined
  : Static<R['response']>;
/** What a route takes as its JSON body. */
export type BodyOf<R> = R extends { body: TSchema } ? Static<R['body']> : never;
/** What a route takes as its query. */
export type QueryOf<R> = R extends { query: TSchema } ? Static<R['query']> : never;
