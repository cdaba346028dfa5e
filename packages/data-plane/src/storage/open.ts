import { join } from 'node:path';
import type { DataPlaneConfig } from '../config.ts';
import { type ArtifactStore, LocalArtifactStore } from './artifacts.ts';
import { S3ArtifactStore } from './s3.ts';

/** The bucket could not be reached at start: said once, with the service's own word, before anything is accepted. */
export class ObjectStorageUnreachableError extends Error {
  constructor(location: string, cause: unknown) {
    const word = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`object storage ${location} cannot be used: ${word}`, { cause });
    this.name = 'ObjectStorageUnreachableError';
  }
}

/** The region's bucket when one is configured (checked reachable now), else the local filesystem. */
export async function openArtifactStore(
  config: Pick<DataPlaneConfig, 'artifactsDir' | 'objectStorage' | 'dataDir'>,
): Promise<ArtifactStore & { close?(): void }> {
  if (config.objectStorage === undefined) return new LocalArtifactStore(config.artifactsDir);
  const store = new S3ArtifactStore(config.objectStorage, join(config.dataDir, 'staging'));
  try {
    await store.probe();
  } catch (error) {
    store.close();
    throw new ObjectStorageUnreachableError(store.location, error);
  }
  return store;
}
