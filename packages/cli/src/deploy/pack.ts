import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { CliError } from '../errors.ts';

/** Never packed, whatever the ignore files say. */
const alwaysLeftOut = new Set(['.git']);
/**
 * Left out unless an ignore file takes them back (`!node_modules/` in a .sovignore):
 * environments and caches the data plane builds itself, in the region, from the
 * project's lock files; packed, they would be another machine's, and often large.
 */
const leftOutByDefault = ignore().add(['.venv/', 'node_modules/', '__pycache__/', '*.pyc']);
/** Read in each directory, in this order: a `.sovignore` can re-include what `.gitignore` leaves out. */
const ignoreFiles = ['.gitignore', '.sovignore'];

interface RuleSet {
  /** The directory the rules were found in, relative to the project root ('' for the root). */
  base: string;
  rules: Ignore;
}

function ignored(path: string, isDirectory: boolean, sets: readonly RuleSet[]): boolean {
  // By the entry's own name: what lies under a directory taken back is packed.
  const name = path.slice(path.lastIndexOf('/') + 1);
  let result = leftOutByDefault.ignores(isDirectory ? `${name}/` : name);
  // Deeper files come later and win, as in git.
  for (const set of sets) {
    const relative = set.base === '' ? path : path.slice(set.base.length + 1);
    const test = set.rules.test(isDirectory ? `${relative}/` : relative);
    if (test.ignored) result = true;
    else if (test.unignored) result = false;
  }
  return result;
}

/**
 * The files of a project to deploy, as sorted POSIX paths relative to its root:
 * everything but `.git`, environments and caches (`.venv/`, `node_modules/`,
 * `__pycache__/`) and what the `.gitignore` and `.sovignore` files (at the root or in
 * any directory, git's syntax) leave out. A directory left out is not entered,
 * so nothing under it can be re-included, as in git. Symbolic links are kept as links
 * (the data plane refuses those that point outside the bundle).
 */
export async function listProjectFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  async function walk(directory: string, inherited: readonly RuleSet[]): Promise<void> {
    const absolute = join(root, directory);
    const sets = [...inherited];
    for (const name of ignoreFiles) {
      try {
        sets.push({ base: directory, rules: ignore().add(await readFile(join(absolute, name), 'utf8')) });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    const entries = await readdir(absolute, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (alwaysLeftOut.has(entry.name)) continue;
      const path = directory === '' ? entry.name : `${directory}/${entry.name}`;
      const isDirectory = entry.isDirectory();
      if (ignored(path, isDirectory, sets)) continue;
      if (isDirectory) await walk(path, sets);
      else if (entry.isFile() || entry.isSymbolicLink()) files.push(path);
      // Sockets, pipes and devices are not project files.
    }
  }
  await walk('', []);
  return files;
}

/** Checks that `dir` is a project: a directory with a sovereign.yaml at its root. */
export async function assertProject(dir: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory)
    throw new CliError(`${dir} is not a directory.`, {
      hint: 'Give the project directory: sov deploy <dir>.',
      exitCode: 2,
    });
  try {
    await stat(join(dir, 'sovereign.yaml'));
  } catch {
    throw new CliError(`${dir} has no sovereign.yaml.`, {
      code: 'manifest_missing',
      hint: 'A project lists its jobs in sovereign.yaml at its root; see examples/hello.',
    });
  }
}

/** Writes the files as a gzipped tar to `destination`; answers its size. */
export async function packFiles(root: string, files: readonly string[], destination: string): Promise<number> {
  // Loaded here: every other command starts faster without it.
  const tar = await import('tar');
  await tar.c({ gzip: true, cwd: root, portable: true, file: destination, noDirRecurse: true }, [...files]);
  return (await stat(destination)).size;
}
