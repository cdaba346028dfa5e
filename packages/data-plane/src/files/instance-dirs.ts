import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Under `parent`, each instance of a data plane has a directory named by its instance id
 * (its cached deployments, its runs' directories). Removes those of instances no longer
 * alive (ended by a crash, or on another host sharing the directory), never `own`.
 */
export async function removeDeadInstanceDirs(
  parent: string,
  own: string,
  alive: (instanceId: string) => boolean,
  remove: (path: string) => Promise<void> = (path) => rm(path, { recursive: true, force: true }),
): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (name !== own && !alive(name)) await remove(join(parent, name));
  }
}
