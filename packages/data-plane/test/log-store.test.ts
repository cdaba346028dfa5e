import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Database, migrate, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, type TestDatabase } from '@sovereign/server-kit/testing';
import type { LogLine } from '../src/logs/lines.ts';
import { LogStore } from '../src/logs/store.ts';
import { LocalArtifactStore } from '../src/storage/artifacts.ts';

const migrationsDir = new URL('../src/migrations', import.meta.url).pathname;
const migrationLock = 0x50_56_02;

function linesOf(count: number, from: number, stream: LogLine['stream'] = 'stdout'): LogLine[] {
  return Array.from({ length: count }, (_, i) => ({
    // Runs of lines share a stream and a time, as reads from a pipe give them.
    stream: (from + i) % 100 >= 90 ? 'stderr' : stream,
    at: new Date(Date.UTC(2026, 0, 1) + Math.floor((from + i) / 40)),
    text: `line ${from + i} ünïcödé, a comma, "quotes", a \\ backslash and {braces}`,
  }));
}

async function localRun(db: Database, runId: string): Promise<void> {
  await db.query(
    `INSERT INTO runs (run_id, workspace_id, job_name, deployment_id, attempt, kind, instance_id, status)
     VALUES ($1, $2, 'job', $3, 1, 'batch', $4, 'running')`,
    [runId, randomUUID(), randomUUID(), randomUUID()],
  );
}

for (const target of databaseTargets()) {
  describe(`log store: lines appended in batches, read back in order [${target.name}]`, () => {
    let test: TestDatabase;
    let db: Database;
    let logs: LogStore;
    // Where archived lines would go: these tests keep every line in the database (storage-suite.test.ts archives).
    let artifacts: LocalArtifactStore;

    before(async () => {
      test = await target.create();
      db = await openDatabase(test.options);
      await migrate(db, migrationsDir, migrationLock);
      artifacts = new LocalArtifactStore(await mkdtemp(join(tmpdir(), 'sov-log-store-')));
      logs = new LogStore(db, artifacts);
    });
    after(async () => {
      await db?.close();
      await test?.drop();
      if (artifacts !== undefined) await rm(artifacts.root, { recursive: true, force: true });
    });

    it('gives every line back with its sequence number, stream, time and text, in order', async () => {
      const runId = randomUUID();
      await localRun(db, runId);
      const first = linesOf(3, 1);
      const second = [...linesOf(2, 4), { stream: 'stdout' as const, at: new Date(0), text: '' }];
      await logs.append(runId, 1, first);
      await logs.append(runId, 4, second);
      const read = await logs.read(runId, 0, 100);
      assert.deepEqual(
        read,
        [...first, ...second].map((line, i) => ({
          seq: i + 1,
          stream: line.stream,
          at: line.at.toISOString(),
          line: line.text,
        })),
      );
      const [row] = await db.query<{ log_lines: number }>('SELECT log_lines FROM runs WHERE run_id = $1', [runId]);
      assert.equal(Number(row?.log_lines), 6);
    });

    it('reads after any sequence number, within a batch or at its edge, up to a limit', async () => {
      const runId = randomUUID();
      await localRun(db, runId);
      let seq = 1;
      for (const size of [500, 1, 37, 1200, 2]) {
        await logs.append(runId, seq, linesOf(size, seq));
        seq += size;
      }
      const total = seq - 1;
      for (const afterSeq of [0, 1, 499, 500, 501, 537, 538, 1000, 1737, 1738, total - 1, total]) {
        for (const limit of [1, 7, 1000]) {
          const read = await logs.read(runId, afterSeq, limit);
          const expected = Math.max(0, Math.min(limit, total - afterSeq));
          assert.equal(read.length, expected, `after ${afterSeq}, limit ${limit}`);
          read.forEach((line, i) => {
            assert.equal(line.seq, afterSeq + 1 + i);
            assert.ok(line.line.startsWith(`line ${afterSeq + 1 + i} `), line.line);
          });
        }
      }
    });

    it('keeps each run’s lines to itself', async () => {
      const a = randomUUID();
      const b = randomUUID();
      await localRun(db, a);
      await localRun(db, b);
      await logs.append(a, 1, linesOf(5, 1));
      await logs.append(b, 1, linesOf(2, 100));
      assert.equal((await logs.read(a, 0, 100)).length, 5);
      assert.deepEqual(
        (await logs.read(b, 0, 100)).map((l) => l.line.split(' ')[1]),
        ['100', '101'],
      );
      assert.deepEqual(await logs.read(randomUUID(), 0, 100), []);
    });

    it('keeps a line that holds a newline whole, between lines of other streams and times', async () => {
      const runId = randomUUID();
      await localRun(db, runId);
      const at = new Date(Date.UTC(2026, 0, 1));
      const later = new Date(at.getTime() + 1);
      const lines: LogLine[] = [
        { stream: 'stdout', at, text: 'a' },
        { stream: 'stdout', at, text: '' },
        { stream: 'stdout', at, text: 'two\nparts' },
        { stream: 'stdout', at, text: 'b' },
        { stream: 'stderr', at, text: 'c' },
        { stream: 'stderr', at: later, text: '' },
        { stream: 'stderr', at: later, text: 'd' },
      ];
      await logs.append(runId, 1, lines);
      assert.deepEqual(
        (await logs.read(runId, 0, 100)).map((l) => [l.seq, l.stream, l.at, l.line]),
        lines.map((l, i) => [i + 1, l.stream, l.at.toISOString(), l.text]),
      );
      assert.deepEqual(
        (await logs.read(runId, 2, 2)).map((l) => l.line),
        ['two\nparts', 'b'],
      );
    });

    it('wakes a follower waiting in this process when lines arrive', async () => {
      const runId = randomUUID();
      await localRun(db, runId);
      const woken = logs.wait(runId, 60_000).then(() => 'woken');
      await logs.append(runId, 1, linesOf(1, 1));
      assert.equal(await Promise.race([woken, new Promise((r) => setTimeout(() => r('not woken'), 5_000))]), 'woken');
    });
  });

  describe(`log store: lines stored before chunks are carried over by the migration [${target.name}]`, () => {
    it('reads lines written one row per line by the previous schema', async () => {
      const test = await target.create();
      const db = await openDatabase(test.options);
      const before = await mkdtemp(join(tmpdir(), 'sov-migrations-'));
      try {
        for (const name of await readdir(migrationsDir)) {
          if (name < '005') await copyFile(join(migrationsDir, name), join(before, name));
        }
        await migrate(db, before, migrationLock);
        const runId = randomUUID();
        await localRun(db, runId);
        for (const [seq, stream, text] of [
          [1, 'stdout', 'first'],
          [2, 'stderr', ''],
          [3, 'stdout', 'third'],
        ] as const) {
          await db.query('INSERT INTO run_logs (run_id, seq, stream, at, line) VALUES ($1, $2, $3, $4, $5)', [
            runId,
            seq,
            stream,
            new Date(Date.UTC(2026, 0, 1, 0, 0, seq)),
            text,
          ]);
        }
        await migrate(db, migrationsDir, migrationLock);
        assert.deepEqual(
          (await new LogStore(db, new LocalArtifactStore(before)).read(runId, 1, 10)).map((l) => [
            l.seq,
            l.stream,
            l.at,
            l.line,
          ]),
          [
            [2, 'stderr', '2026-01-01T00:00:02.000Z', ''],
            [3, 'stdout', '2026-01-01T00:00:03.000Z', 'third'],
          ],
        );
      } finally {
        await db.close();
        await test.drop();
        await rm(before, { recursive: true, force: true });
      }
    });
  });
}
