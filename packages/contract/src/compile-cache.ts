import { mkdirSync, statSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Turns on Node's compile cache (every module's compiled code, TypeScript already
 * stripped) for this process, before it loads the rest of itself: a `sov` call and a
 * plane's start load dozens of files, and read them compiled from the second start on.
 *
 * The cache is kept in a directory of this user's own, never Node's default under /tmp:
 * another user of the machine could make that one first and plant compiled code for a
 * file of ours, and a data plane runs as root. A directory that is not this user's alone
 * means no cache, never a shared one; a start without it is only slower.
 */
export function enableOwnCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  try {
    const dir = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sovereign', 'node-compile-cache');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = statSync(dir);
    if (made.uid !== process.getuid?.() || (made.mode & 0o077) !== 0) return;
    enableCompileCache(dir);
  } catch {
    // No home to keep it in (a service user without one): started without it.
  }
}
