export { type BundleLimits, type ReceivedBundle, receiveBundle } from './bundle.ts';
export * from './errors.ts';
export {
  defaultBatchTimeoutSeconds,
  defaultIdleTimeoutSeconds,
  defaultInteractiveMaxRunning,
  defaultInteractiveTimeoutSeconds,
  jobMetadata,
  type ManifestJob,
  type ManifestResult,
  maxJobs,
  maxManifestBytes,
  minIntervalSeconds,
  parseDuration,
  parseManifest,
} from './manifest.ts';
export {
  compareJobs,
  type DeploymentInfo,
  Deployments,
  type DeploymentsOptions,
  type JobChanges,
  type UploadOptions,
  type UploadResult,
} from './service.ts';
