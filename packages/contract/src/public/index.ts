/**
 * The public APIs' shapes: what the control plane's /api/public/v1 and a data plane's
 * /api/v1 take and answer. The planes' routes validate with these schemas and the
 * clients (the CLI, the dashboard) are typed by them, so a change that breaks a client
 * fails its typecheck.
 */

/** How a job is started and what a job is, as a deployment declares it (the protocol's own schemas). */
export { JobMetadata, JobTrigger } from '../internal-api.ts';
export * from './backfills.ts';
export * from './dataplane-tokens.ts';
export * from './dataplanes.ts';
export * from './deployments.ts';
export * from './jobs.ts';
export * from './logs.ts';
export * from './me.ts';
export * from './moves.ts';
export * from './organizations.ts';
export * from './outputs.ts';
export * from './paging.ts';
export * from './parameters.ts';
export * from './regions.ts';
export * from './routes.ts';
export * from './runs.ts';
export * from './signing-keys.ts';
export * from './state.ts';
export * from './variables.ts';
export * from './workspaces.ts';
