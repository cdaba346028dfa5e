import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as tar from 'tar';
import { assertProject, listProjectFiles, packFiles } from '../src/deploy/pack.ts';
import type { CliError } from '../src/errors.ts';

async function project(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sov-pack-'));
  for (const [path, contents] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), contents);
  }
  return root;
}

describe('packing a project for sov deploy', () => {
  const made: string[] = [];
  const make = async (files: Record<string, string>) => {
    const root = await project(files);
    made.push(root);
    return root;
  };
  after(async () => {
    for (const root of made) await rm(root, { recursive: true, force: true });
  });

  it('packs everything but .git and environments the data plane builds when there are no ignore files', async () => {
    const root = await make({
      'sovereign.yaml': 'jobs: []\n',
      'src/job.mjs': 'console.log(1)\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.env.example': 'A=1\n',
      'node_modules/dep/index.js': '',
      'pipeline/.venv/bin/python': '',
      'pipeline/__pycache__/sync.cpython-311.pyc': '',
      'pipeline/old.pyc': '',
      'pipeline/sync.py': '',
    });
    assert.deepEqual(await listProjectFiles(root), [
      '.env.example',
      'pipeline/sync.py',
      'sovereign.yaml',
      'src/job.mjs',
    ]);
  });

  it('packs a vendored node_modules that a .sovignore takes back', async () => {
    const root = await make({
      'sovereign.yaml': '',
      '.sovignore': '!node_modules/\n',
      'node_modules/dep/index.js': '',
      '.venv/bin/python': '',
    });
    assert.deepEqual(await listProjectFiles(root), ['.sovignore', 'node_modules/dep/index.js', 'sovereign.yaml']);
  });

  it('honours .gitignore at the root and in subdirectories, with git’s syntax', async () => {
    const root = await make({
      '.gitignore': 'node_modules/\n*.log\n/build\n!keep.log\n',
      'sovereign.yaml': '',
      'node_modules/dep/index.js': '',
      'debug.log': '',
      'keep.log': '',
      'build/out.js': '',
      'src/build/kept.js': '',
      'src/.gitignore': 'secret.txt\n',
      'src/secret.txt': '',
      'secret.txt': 'only ignored under src\n',
    });
    assert.deepEqual(await listProjectFiles(root), [
      '.gitignore',
      'keep.log',
      'secret.txt',
      'sovereign.yaml',
      'src/.gitignore',
      'src/build/kept.js',
    ]);
  });

  it('applies .sovignore after .gitignore: it can leave out more, or take back in', async () => {
    const root = await make({
      '.gitignore': 'data/*.csv\n',
      '.sovignore': '!data/fixture.csv\ndocs/\ntests\n',
      'sovereign.yaml': '',
      'data/fixture.csv': 'a,b\n',
      'data/huge.csv': 'x\n',
      'docs/guide.md': '',
      'tests/a.test.mjs': '',
    });
    assert.deepEqual(await listProjectFiles(root), ['.gitignore', '.sovignore', 'data/fixture.csv', 'sovereign.yaml']);
  });

  it('keeps symbolic links as links, never following them', async () => {
    const root = await make({ 'sovereign.yaml': '', 'real/a.txt': 'a' });
    await symlink('real/a.txt', join(root, 'link.txt'));
    await symlink('real', join(root, 'dir-link'));
    assert.deepEqual(await listProjectFiles(root), ['dir-link', 'link.txt', 'real/a.txt', 'sovereign.yaml']);
  });

  it('writes a gzipped tar of exactly the listed files', async () => {
    const root = await make({
      '.gitignore': 'out/\n',
      'sovereign.yaml': 'jobs: []\n',
      'a.mjs': 'x',
      'out/big.bin': 'y',
    });
    const files = await listProjectFiles(root);
    const bundle = join(await make({}), 'bundle.tar.gz');
    const size = await packFiles(root, files, bundle);
    assert.ok(size > 0);
    const entries: string[] = [];
    await tar.t({ file: bundle, onReadEntry: (entry) => entries.push(entry.path) });
    assert.deepEqual(entries.sort(), ['.gitignore', 'a.mjs', 'sovereign.yaml']);
  });

  it('refuses a directory without sovereign.yaml, and a path that is not a directory', async () => {
    const root = await make({ 'job.mjs': '' });
    await assert.rejects(assertProject(root), (error: CliError) => {
      assert.match(error.message, /has no sovereign\.yaml/);
      assert.equal(error.code, 'manifest_missing');
      return true;
    });
    await assert.rejects(assertProject(join(root, 'job.mjs')), /is not a directory/);
  });
});
