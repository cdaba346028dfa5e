import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlaneClient } from '@sovereign/client';
import { parse } from 'yaml';

/**
 * The names of the jobs a project's sovereign.yaml lists, read before anything is
 * uploaded. Undefined when the manifest cannot be read as a list of named jobs: the data
 * plane validates it and says what is wrong, so nothing is guessed here.
 */
export async function manifestJobNames(root: string): Promise<string[] | undefined> {
  try {
    const manifest: unknown = parse(await readFile(join(root, 'sovereign.yaml'), 'utf8'), { maxAliasCount: 0 });
    const jobs = (manifest as { jobs?: unknown } | null)?.jobs;
    if (!Array.isArray(jobs)) return undefined;
    const names = jobs.map((job) => (job as { name?: unknown } | null)?.name);
    return names.every((name) => typeof name === 'string') ? names : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The workspace's jobs a deployment of these names archives: those in use now that the
 * new manifest no longer lists (the data plane compares the same way, by name).
 */
export async function jobsLeaving(
  cp: ControlPlaneClient,
  workspaceId: string,
  names: readonly string[] | undefined,
): Promise<string[]> {
  if (names === undefined) return [];
  const kept = new Set(names);
  return (await cp.jobs(workspaceId))
    .filter((job) => !job.archived && !kept.has(job.name))
    .map((job) => job.name)
    .sort();
}
