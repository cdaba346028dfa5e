export { type BundleLimits, type ReceivedBundle, receiveBundle } from './bundle.ts';
export * from './errors.ts';
export { jobMetadata, type ManifestJob, parseDuration, parseManifest } from './manifest.ts';
export { type DeploymentInfo, Deployments, type JobChanges, type UploadResult } from './service.ts';
