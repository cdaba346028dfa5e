import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import type { Queryable } from '@sovereign/server-kit/sql';
import { collectOutputs, skippedOutputNotes } from '../src/executor/results.ts';
import { LocalArtifactStore } from '../src/storage/artifacts.ts';

/** A database that only records the outputs inserted. */
function recordingDb(): Queryable & { rows: unknown[][] } {
  const rows: unknown[][] = [];
  return {
    rows,
    async query<Row>(_text: string, params?: readonly unknown[]): Promise<Row[]> {
      rows.push([...(params ?? [])]);
      return [];
    },
  };
}

/** A name as bytes: `text` then bytes that are not UTF-8, then `suffix`. */
function badName(dir: string, textPart: string, suffix: string): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/${textPart}`), Buffer.from([0xff, 0xfe]), Buffer.from(suffix)]);
}

describe('collecting a run’s outputs', () => {
  let root: string;
  let store: LocalArtifactStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sov-outputs-'));
    store = new LocalArtifactStore(join(root, 'store'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function outputDir(): Promise<string> {
    const dir = join(root, randomUUID());
    await mkdir(dir, { recursive: true });
    return dir;
  }

  it('keeps the files with UTF-8 names and skips, without failing, a file or a directory whose name is not', async () => {
    const dir = await outputDir();
    await writeFile(join(dir, 'good.txt'), 'good');
    await writeFile(badName(dir, 'bad-', '.txt'), 'bad');
    await mkdir(join(dir, 'reports'));
    await writeFile(join(dir, 'reports', 'ok.txt'), 'ok');
    await writeFile(badName(join(dir, 'reports'), 'also-bad-', ''), 'bad');
    const badDir = badName(dir, 'dir-', '');
    await mkdir(badDir);
    await writeFile(Buffer.concat([badDir, Buffer.from('/inner.txt')]), 'inner');
    await writeFile(join(dir, 'café ünïcode.txt'), 'fine');
    await symlink('/etc/passwd', join(dir, 'link.txt'));
    const db = recordingDb();
    const runId = randomUUID();

    const collected = await collectOutputs(db, store, runId, dir);

    assert.deepEqual(collected, { complete: true, skipped: { notUtf8: 3, unreadable: 0 } });
    assert.deepEqual(db.rows.map((row) => row[1]).sort(), ['café ünïcode.txt', 'good.txt', 'reports/ok.txt']);
    const contents: Record<string, string> = { 'good.txt': 'good', 'reports/ok.txt': 'ok', 'café ünïcode.txt': 'fine' };
    for (const [id, path, size, , key] of db.rows) {
      assert.equal(id, runId);
      assert.equal(size, Buffer.byteLength(contents[path as string] as string));
      assert.equal(await text(await store.openRead(key as string)), contents[path as string]);
    }
    // What was skipped is left where it was (the run's directory is removed with it), never moved into the store.
    assert.equal((await readdir(dir, { encoding: 'buffer' })).length, 4);
  });

  it('says in the run’s log how many were skipped and why, never their names', () => {
    assert.deepEqual(skippedOutputNotes({ notUtf8: 0, unreadable: 0 }), []);
    assert.deepEqual(skippedOutputNotes({ notUtf8: 1, unreadable: 0 }), [
      'sovereign: an output was skipped because its name is not UTF-8',
    ]);
    assert.deepEqual(skippedOutputNotes({ notUtf8: 3, unreadable: 2 }), [
      'sovereign: 3 outputs were skipped because their names are not UTF-8',
      'sovereign: 2 outputs were skipped because they could not be read',
    ]);
  });

  it('still stops at the output limit, and a missing output directory is no output and no note', async () => {
    const dir = await outputDir();
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(100));
    assert.equal((await collectOutputs(recordingDb(), store, randomUUID(), dir, 99)).complete, false);
    assert.deepEqual(await collectOutputs(recordingDb(), store, randomUUID(), join(root, 'none')), {
      complete: true,
      skipped: { notUtf8: 0, unreadable: 0 },
    });
  });
});
