import { createHash } from 'node:crypto';

/**
 * What a project's environment is made of, read from the files people already use: a
 * `requirements.txt` for Python (pins, `--hash`es and all, as pip reads it), or a
 * `pyproject.toml` with its lock (`uv.lock`, `pylock.toml`), and a `.python-version`; a
 * `package.json` with its `package-lock.json` for Node. The digest names the built
 * environment: the same files and the same package sources give the same environment,
 * shared by every deployment and workspace that declares it.
 */
export type EnvironmentKind = 'python' | 'node';

export interface EnvironmentSpec {
  kind: EnvironmentKind;
  /** `sha256:<hex>` of the kind, the defining files and where packages come from. */
  digest: string;
  /** The defining files by name, as the build is given them. */
  files: Record<string, Buffer>;
}

/** Where packages come from: the region's mirror or a directory of wheels, never the control plane. */
export interface PackageSources {
  pipIndexUrl?: string | undefined;
  pipFindLinks?: string[] | undefined;
  npmRegistry?: string | undefined;
}

/** The files of a bundle's root an environment is defined by. */
export const definingFiles = [
  'requirements.txt',
  'pyproject.toml',
  'uv.lock',
  'pylock.toml',
  '.python-version',
  'package.json',
  'package-lock.json',
] as const;
/** What makes a directory a Python environment: pins as pip reads them, or a pyproject.toml (with its lock). */
const pythonFiles = ['requirements.txt', 'pyproject.toml', 'uv.lock', 'pylock.toml', '.python-version'] as const;

function digestOf(kind: EnvironmentKind, files: Record<string, Buffer>, sources: unknown): string {
  const hash = createHash('sha256').update(`${kind}\n`).update(JSON.stringify(sources)).update('\n');
  for (const name of Object.keys(files).sort()) {
    const content = files[name] as Buffer;
    hash.update(`${name}\n${content.length}\n`).update(content);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Whether a bundle path names a file that may define an environment (at any depth: a job's own directory). */
export function isDefiningFile(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return (definingFiles as readonly string[]).includes(name);
}

/**
 * The environments a directory of the bundle declares (none, Python, Node, or both): the
 * root's by default, a job's own with `environment: <dir>`.
 */
export function environmentsOf(
  bundleFiles: ReadonlyMap<string, Buffer>,
  sources: PackageSources,
  dir = '',
): EnvironmentSpec[] {
  const files = new Map<string, Buffer>();
  for (const name of definingFiles) {
    const content = bundleFiles.get(dir === '' ? name : `${dir}/${name}`);
    if (content !== undefined) files.set(name, content);
  }
  const specs: EnvironmentSpec[] = [];
  if (files.has('requirements.txt') || files.has('pyproject.toml')) {
    const defining: Record<string, Buffer> = {};
    for (const name of pythonFiles) {
      const content = files.get(name);
      if (content !== undefined) defining[name] = content;
    }
    const from = { index: sources.pipIndexUrl ?? null, findLinks: sources.pipFindLinks ?? [] };
    specs.push({ kind: 'python', digest: digestOf('python', defining, from), files: defining });
  }
  const pkg = files.get('package.json');
  const lock = files.get('package-lock.json');
  if (pkg !== undefined && lock !== undefined) {
    const defining = { 'package.json': pkg, 'package-lock.json': lock };
    specs.push({
      kind: 'node',
      digest: digestOf('node', defining, { registry: sources.npmRegistry ?? null }),
      files: defining,
    });
  }
  return specs;
}
