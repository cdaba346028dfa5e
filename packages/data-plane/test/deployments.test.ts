import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { DeploymentReport } from '@sovereign/contract';
import type { HttpProblem } from '@sovereign/server-kit/http';
import { type Database, openDatabase, type Queryable } from '@sovereign/server-kit/sql';
import { databaseTargets, type TestDatabase } from '@sovereign/server-kit/testing';
import { Ajv } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { type BundleLimits, compareJobs, Deployments, type ManifestJob } from '../src/deployments/index.ts';
import { type ArtifactStore, InvalidArtifactKeyError, LocalArtifactStore } from '../src/storage/artifacts.ts';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import { closeStoreBackends, storeBackends } from './support/artifact-stores.ts';
import { packProject, type RawEntry, rawTarGz } from './support/tar-writer.ts';

const limits: BundleLimits = { maxBundleBytes: 512 * 1024, maxEntries: 1000, maxUnpackedBytes: 8 * 1024 * 1024 };
const commandCanary = 'COMMAND-CANARY-7f3a91';

const ajv = new Ajv({ strict: false, allErrors: true });
formatsPlugin.default(ajv);
const validReport = ajv.compile(DeploymentReport);

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function problemOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    const doc = (error as HttpProblem).toDocument?.();
    assert.ok(doc !== undefined, `a problem, not ${String(error)}`);
    return { ...doc, paths: (doc.errors ?? []).map((e) => e.path) };
  }
  assert.fail('the upload was accepted');
}

describe('LocalArtifactStore', () => {
  let root: string;
  let store: LocalArtifactStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sov-artifacts-'));
    store = new LocalArtifactStore(join(root, 'store'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('moves a finished file in, and reads, stats, lists and deletes it', async () => {
    const source = join(root, 'upload.bin');
    const bytes = randomBytes(1000);
    await writeFile(source, bytes);
    await store.putFile('bundles/ws/one.tar.gz', source);
    await assert.rejects(readFile(source), { code: 'ENOENT' }, 'the file was moved, not copied');
    assert.deepEqual(Buffer.concat(await (await store.openRead('bundles/ws/one.tar.gz')).toArray()), bytes);
    assert.deepEqual(await store.stat('bundles/ws/one.tar.gz'), { sizeBytes: 1000 });
    assert.equal(await store.exists('bundles/ws/one.tar.gz'), true);
    assert.equal(await store.exists('bundles/ws/two.tar.gz'), false);
    assert.equal(await store.stat('bundles/ws/two.tar.gz'), undefined);
    await assert.rejects(store.openRead('bundles/ws/two.tar.gz'), { code: 'ENOENT' });

    await writeFile(source, 'x');
    await store.putFile('bundles/other/a.tar.gz', source);
    await writeFile(source, 'y');
    await store.putFile('outputs/run/b', source);
    assert.deepEqual(await store.list('bundles/'), ['bundles/other/a.tar.gz', 'bundles/ws/one.tar.gz']);
    assert.deepEqual(await store.list('bundles/w'), ['bundles/ws/one.tar.gz']);
    assert.deepEqual(await store.list(''), ['bundles/other/a.tar.gz', 'bundles/ws/one.tar.gz', 'outputs/run/b']);
    assert.deepEqual(await store.list('nothing/'), []);
    assert.deepEqual(await readdir(store.stagingDir), [], 'nothing is left staged');

    await store.delete('bundles/ws/one.tar.gz');
    await store.delete('bundles/ws/one.tar.gz');
    assert.equal(await store.exists('bundles/ws/one.tar.gz'), false);
  });

  it('refuses keys that could leave its root or reach its staging directory', async () => {
    for (const key of [
      '',
      '/etc/passwd',
      '../x',
      'a/../../x',
      'a/./b',
      'a//b',
      '.staging/x',
      'a/',
      'a\\..\\b',
      'a\0b',
    ]) {
      await assert.rejects(store.stat(key), InvalidArtifactKeyError, JSON.stringify(key));
      await assert.rejects(store.delete(key), InvalidArtifactKeyError, JSON.stringify(key));
    }
    await assert.rejects(store.list('../'), InvalidArtifactKeyError);
    await assert.rejects(store.putFile('../escape', join(root, 'missing')), InvalidArtifactKeyError);
  });
});

describe('comparing deployments', () => {
  const job = (name: string, extra: Partial<ManifestJob> = {}): ManifestJob => ({
    name,
    run: `run ${name}`,
    kind: 'batch',
    trigger: { type: 'manual' },
    timezone: 'UTC',
    timeoutSeconds: 7200,
    retries: 0,
    ...extra,
  });

  it('sees a change of command as an update, and ignores the order of keys', () => {
    const before = [job('a'), job('b'), job('c'), job('gone')];
    // As jsonb hands it back: keys in another order.
    const reordered = JSON.parse(
      JSON.stringify(before.map((j) => Object.fromEntries(Object.entries(j).reverse()))),
    ) as ManifestJob[];
    const next = [job('a'), job('b', { run: 'other' }), job('c', { retries: 1 }), job('new')];
    assert.deepEqual(compareJobs(reordered, next), {
      added: ['new'],
      updated: ['b', 'c'],
      unchanged: ['a'],
      archived: ['gone'],
    });
  });
});

after(closeStoreBackends);

// The bundles' store is part of what is tested: the same assertions on the filesystem and on S3.
for (const [target, backend] of databaseTargets().flatMap((t) => storeBackends.map((b) => [t, b] as const))) {
  describe(`deployments [${target.name}, ${backend.name}]`, () => {
    let test: TestDatabase;
    let db: Database;
    let root: string;
    let store: ArtifactStore;
    let closeStore: () => Promise<void>;
    let deployments: Deployments;

    before(async () => {
      test = await target.create();
      db = await openDatabase(test.options);
      await migrateDataPlane(db);
      root = await mkdtemp(join(tmpdir(), 'sov-deployments-'));
      ({ store, close: closeStore } = await backend.open());
      deployments = new Deployments({ db, store, limits, tmpDir: join(root, 'incoming') });
    });
    after(async () => {
      await db?.close();
      await test?.drop();
      await closeStore?.();
      await rm(root, { recursive: true, force: true });
    });

    const user = randomUUID();
    const upload = (
      workspaceId: string,
      body: Buffer | Readable,
      options: { dryRun?: boolean; onStored?: (tx: Queryable, report: DeploymentReport) => Promise<void> } = {},
    ) =>
      deployments.upload(workspaceId, Buffer.isBuffer(body) ? Readable.from([body]) : body, {
        dryRun: options.dryRun ?? false,
        createdBy: user,
        ...(options.onStored ? { onStored: options.onStored } : {}),
      });

    /** The stored objects, and the files being received or staged on this machine: nothing else is left. */
    const artifactFiles = async () =>
      [
        ...(await store.list('')),
        ...(await filesUnder(join(root, 'incoming'))).map((f) => `.incoming/${f}`),
        ...(await filesUnder(store.stagingDir)).map((f) => `.staging/${f}`),
      ].sort();

    const v1 = `jobs:
  - name: daily_sync
    run: node sync.js --token ${commandCanary}
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    retries: 2
  - name: report
    run: ./report.sh
    after: { job: daily_sync, on: success }
`;

    it('stores a project atomically as the current deployment, and lists it', async () => {
      const ws = randomUUID();
      const body = await packProject({ 'sovereign.yaml': v1, 'sync.js': 'console.log(1)\n' });
      const reports: DeploymentReport[] = [];
      const result = await upload(ws, body, {
        onStored: async (tx, report) => {
          // The row is visible inside the transaction the report is written in.
          const [row] = await tx.query('SELECT 1 FROM deployments WHERE deployment_id = $1', [report.deploymentId]);
          assert.ok(row !== undefined);
          reports.push(report);
        },
      });
      assert.equal(result.dryRun, false);
      assert.ok(result.deploymentId !== null);
      assert.equal(result.digest, `sha256:${createHash('sha256').update(body).digest('hex')}`);
      assert.equal(result.sizeBytes, body.length);
      assert.deepEqual(result.changes, { added: ['daily_sync', 'report'], updated: [], unchanged: [], archived: [] });
      assert.deepEqual(
        result.jobs.map((j) => [j.name, j.trigger.type, j.timezone, j.retries, j.timeoutSeconds]),
        [
          ['daily_sync', 'cron', 'Europe/Berlin', 2, 7200],
          ['report', 'after', 'UTC', 0, 7200],
        ],
      );

      const [report] = reports;
      assert.ok(report !== undefined && reports.length === 1);
      assert.ok(validReport(report), JSON.stringify(validReport.errors));
      assert.deepEqual(
        { id: report.deploymentId, ws: report.workspaceId, digest: report.digest, size: report.sizeBytes },
        { id: result.deploymentId, ws, digest: result.digest, size: body.length },
      );
      assert.equal(report.createdBy, user);
      assert.deepEqual(report.jobs, result.jobs);
      const reportText = JSON.stringify(report);
      assert.ok(!reportText.includes(commandCanary) && !reportText.includes('report.sh'), 'no command in the report');
      assert.ok(!JSON.stringify(result.jobs).includes(commandCanary));

      const listed = await deployments.list(ws);
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0], {
        deploymentId: result.deploymentId,
        workspaceId: ws,
        digest: result.digest,
        sizeBytes: body.length,
        jobs: result.jobs,
        createdBy: user,
        createdAt: report.createdAt,
        current: true,
      });
      assert.deepEqual(await deployments.current(ws), listed[0]);
      assert.deepEqual(await deployments.get(ws, result.deploymentId), listed[0]);

      const manifest = await deployments.manifest(ws, result.deploymentId);
      assert.equal(manifest.text, v1);
      assert.equal(manifest.jobs[0]?.run, `node sync.js --token ${commandCanary}`);
      const stored = Buffer.concat(await (await deployments.openBundle(ws, result.deploymentId)).toArray());
      assert.deepEqual(stored, body);
      assert.deepEqual(await artifactFiles(), [`bundles/${ws}/${result.deploymentId}.tar.gz`]);
    });

    it('hands a bundle back as uploaded, with its digest; an upload announcing another digest stores nothing', async () => {
      const ws = randomUUID();
      const body = await packProject({ 'sovereign.yaml': v1, 'sync.js': 'console.log(2)\n' });
      const stored = await upload(ws, body);
      assert.ok(stored.deploymentId !== null);
      const download = await deployments.download(ws, stored.deploymentId);
      assert.deepEqual([download.digest, download.sizeBytes], [stored.digest, body.length]);
      assert.deepEqual(Buffer.concat(await download.body.toArray()), body);
      // Another workspace's deployment is not there for this one.
      await assert.rejects(deployments.download(randomUUID(), stored.deploymentId), { code: 'deployment_not_found' });

      // The same bytes announced with their digest: stored. Other bytes with it: refused.
      const copy = await deployments.upload(randomUUID(), Readable.from([body]), {
        dryRun: false,
        createdBy: user,
        expectedDigest: stored.digest,
      });
      assert.equal(copy.digest, stored.digest);
      const other = randomUUID();
      const before = await artifactFiles();
      const refused = await problemOf(
        deployments.upload(other, Readable.from([await packProject({ 'sovereign.yaml': v1 })]), {
          dryRun: false,
          createdBy: user,
          expectedDigest: stored.digest,
        }),
      );
      assert.equal(refused.code, 'digest_mismatch');
      assert.equal(refused.status, 400);
      assert.deepEqual(await deployments.list(other), [], 'nothing stored');
      assert.deepEqual(await artifactFiles(), before, 'and nothing left behind');
    });

    it('makes the newest upload current, and reports an identical redeploy as unchanged', async () => {
      const ws = randomUUID();
      const first = await upload(ws, await packProject({ 'sovereign.yaml': v1 }));
      const again = await upload(ws, await packProject({ 'sovereign.yaml': v1, 'extra.txt': 'new file' }));
      assert.deepEqual(again.changes, { added: [], updated: [], unchanged: ['daily_sync', 'report'], archived: [] });
      const third = await upload(
        ws,
        await packProject({ 'sovereign.yaml': 'jobs:\n  - name: report\n    run: ./report.sh --v2\n' }),
      );
      assert.deepEqual(third.changes, { added: [], updated: ['report'], unchanged: [], archived: ['daily_sync'] });
      const listed = await deployments.list(ws);
      assert.deepEqual(
        listed.map((d) => [d.deploymentId, d.current]),
        [
          [third.deploymentId, true],
          [again.deploymentId, false],
          [first.deploymentId, false],
        ],
      );
      assert.ok(
        listed.every((d, i) => i === 0 || d.createdAt < (listed[i - 1]?.createdAt ?? '')),
        'newest first',
      );
      assert.equal((await deployments.current(ws))?.deploymentId, third.deploymentId);
      assert.equal((await deployments.get(ws, first.deploymentId ?? '')).current, false);
      // Older versions stay whole and readable.
      assert.equal((await deployments.manifest(ws, first.deploymentId ?? '')).text, v1);
    });

    it('stores concurrent uploads of one workspace one after the other', async () => {
      const ws = randomUUID();
      const body = await packProject({ 'sovereign.yaml': v1 });
      const results = await Promise.all([upload(ws, body), upload(ws, body), upload(ws, body)]);
      const added = results.filter((r) => r.changes.added.length === 2);
      assert.equal(added.length, 1, 'exactly one of them is the first deployment');
      for (const r of results.filter((r) => r.changes.added.length === 0)) {
        assert.deepEqual(r.changes.unchanged, ['daily_sync', 'report']);
      }
      const listed = await deployments.list(ws);
      assert.equal(listed.length, 3);
      assert.equal(new Set(listed.map((d) => d.createdAt)).size, 3, 'distinct creation times');
      assert.equal(listed[2]?.deploymentId, added[0]?.deploymentId, 'the first stored is the oldest');
    });

    const hostile: Array<[string, RawEntry[], string, string]> = [
      ['absolute path', [{ path: '/etc/x', type: '0', content: 'x' }], 'bundle_unsafe_path', '/etc/x'],
      ['tar-slip', [{ path: '../escape', type: '0', content: 'x' }], 'bundle_unsafe_path', '../escape'],
      ['symbolic link out', [{ path: 'link', type: '2', linkpath: '../../etc/passwd' }], 'bundle_link_escape', 'link'],
      ['hard link out', [{ path: 'hard', type: '1', linkpath: '../../x' }], 'bundle_link_escape', 'hard'],
      ['character device', [{ path: 'tty', type: '3' }], 'bundle_special_file', 'tty'],
      ['FIFO', [{ path: 'fifo', type: '6' }], 'bundle_special_file', 'fifo'],
    ];

    it('refuses hostile bundles, keeping the previous deployment current and nothing of them', async () => {
      const ws = randomUUID();
      const good = await upload(ws, await packProject({ 'sovereign.yaml': v1 }));
      const manifestEntry: RawEntry = { path: 'sovereign.yaml', type: '0', content: v1 };
      const cases: Array<[string, Buffer, string, string]> = hostile.map(([what, entries, code, path]) => [
        what,
        rawTarGz([manifestEntry, ...entries]),
        code,
        path,
      ]);
      cases.push(
        ['not gzip', Buffer.from('this is not a gzipped tar at all'), 'bundle_invalid', '.'],
        [
          'no manifest',
          rawTarGz([{ path: 'main.py', type: '0', content: 'print(1)' }]),
          'manifest_missing',
          'sovereign.yaml',
        ],
      );
      for (const [what, body, code, path] of cases) {
        for (const dryRun of [false, true]) {
          const problem = await problemOf(upload(ws, body, { dryRun, onStored: async () => assert.fail('stored') }));
          assert.equal(problem.status, 400, what);
          assert.equal(problem.code, code, what);
          assert.ok(problem.paths.includes(path), `${what}: lists ${path} in ${JSON.stringify(problem.errors)}`);
        }
      }
      assert.deepEqual(
        (await deployments.list(ws)).map((d) => [d.deploymentId, d.current]),
        [[good.deploymentId, true]],
      );
      assert.deepEqual(await artifactFiles(), expectedArtifacts(await allRows()));
    });

    it('refuses an oversized bundle with 413 and keeps nothing of it', async () => {
      const ws = randomUUID();
      const big = await packProject({ 'sovereign.yaml': v1, 'blob.bin': randomBytes(600 * 1024) });
      const problem = await problemOf(upload(ws, big));
      assert.deepEqual([problem.status, problem.code], [413, 'bundle_too_large']);
      assert.deepEqual(await deployments.list(ws), []);
      assert.deepEqual(await artifactFiles(), expectedArtifacts(await allRows()));
    });

    it('refuses an invalid manifest listing all of its problems, and stores nothing', async () => {
      const ws = randomUUID();
      const problem = await problemOf(
        upload(
          ws,
          await packProject({
            'sovereign.yaml': `jobs:
  - name: sync
    run: x
    schedule: "61 * * * *"
    colour: blue
  - name: sync
    run: y
    timezone: Mars/Olympus
    timeout: soon
  - name: a
    run: a
    after: { job: b }
  - name: b
    run: b
    after: { job: a }
  - name: c
    run: c
    after: { job: nowhere }
`,
          }),
        ),
      );
      assert.deepEqual([problem.status, problem.code], [400, 'manifest_invalid']);
      assert.deepEqual(problem.errors, [
        { path: 'jobs[0].colour', message: 'is not a known key' },
        { path: 'jobs[0].schedule', message: '"61 * * * *" is not a valid cron expression' },
        { path: 'jobs[1].name', message: '"sync" is also the name of jobs[0]' },
        { path: 'jobs[1].timezone', message: '"Mars/Olympus" is not an IANA time zone such as Europe/Berlin' },
        { path: 'jobs[1].timeout', message: '"soon" must be a duration from 1s to 7d, such as 30m or 2h' },
        { path: 'jobs[4].after.job', message: '"nowhere" is not a job of this manifest' },
        { path: 'jobs[2].after', message: 'makes a cycle: a -> b -> a' },
      ]);
      assert.deepEqual(await deployments.list(ws), []);
      assert.deepEqual(await artifactFiles(), expectedArtifacts(await allRows()));
    });

    it('checks a dry run fully, reports the changes, and stores nothing', async () => {
      const ws = randomUUID();
      const current = await upload(ws, await packProject({ 'sovereign.yaml': v1 }));
      const rowsBefore = await allRows();
      const filesBefore = await artifactFiles();
      const dry = await upload(
        ws,
        await packProject({
          'sovereign.yaml': `jobs:
  - name: daily_sync
    run: node sync.js --token ${commandCanary}
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    retries: 2
  - name: fresh
    run: ./fresh.sh
    every: 15m
`,
        }),
        { dryRun: true, onStored: async () => assert.fail('a dry run stores nothing') },
      );
      assert.equal(dry.dryRun, true);
      assert.equal(dry.deploymentId, null);
      assert.match(dry.digest, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(dry.changes, { added: ['fresh'], updated: [], unchanged: ['daily_sync'], archived: ['report'] });
      const updated = await upload(
        ws,
        await packProject({ 'sovereign.yaml': v1.replace('./report.sh', './report.sh --changed') }),
        { dryRun: true },
      );
      assert.deepEqual(updated.changes, {
        added: [],
        updated: ['report'],
        unchanged: ['daily_sync'],
        archived: [],
      });
      assert.deepEqual(await allRows(), rowsBefore);
      assert.deepEqual(await artifactFiles(), filesBefore);
      assert.equal((await deployments.current(ws))?.deploymentId, current.deploymentId);
      const fresh = await upload(randomUUID(), await packProject({ 'sovereign.yaml': v1 }), { dryRun: true });
      assert.deepEqual(fresh.changes.added, ['daily_sync', 'report'], 'against no deployment, every job is new');
    });

    it('leaves nothing behind when the transaction fails, and the previous deployment current', async () => {
      const ws = randomUUID();
      const good = await upload(ws, await packProject({ 'sovereign.yaml': v1 }));
      await assert.rejects(
        upload(ws, await packProject({ 'sovereign.yaml': v1, 'new.txt': 'x' }), {
          onStored: async () => {
            throw new Error('outbox unavailable');
          },
        }),
        /outbox unavailable/,
      );
      assert.deepEqual(
        (await deployments.list(ws)).map((d) => d.deploymentId),
        [good.deploymentId],
      );
      assert.deepEqual(await artifactFiles(), expectedArtifacts(await allRows()));
    });

    it('finds a deployment only in its own workspace', async () => {
      const ws = randomUUID();
      const other = randomUUID();
      const stored = await upload(ws, await packProject({ 'sovereign.yaml': v1 }));
      const id = stored.deploymentId ?? '';
      for (const attempt of [
        () => deployments.get(other, id),
        () => deployments.manifest(other, id),
        () => deployments.openBundle(other, id),
        () => deployments.get(ws, randomUUID()),
        () => deployments.get(ws, 'not-a-uuid'),
        () => deployments.manifest('not-a-uuid', id),
      ]) {
        const problem = await problemOf(attempt());
        assert.deepEqual([problem.status, problem.code], [404, 'deployment_not_found']);
      }
      assert.deepEqual(await deployments.list(other), []);
      assert.equal(await deployments.current(other), undefined);
      assert.deepEqual(await deployments.list('not-a-uuid'), []);
      // The bundle reads back for the executor, as a stream.
      const bundle = await deployments.openBundle(ws, id);
      assert.ok((await text(bundle)).length > 0);
    });

    /** Every stored deployment: (workspace, id, artifact key). */
    async function allRows() {
      return db.query<{ workspace_id: string; deployment_id: string; artifact_key: string }>(
        'SELECT workspace_id, deployment_id, artifact_key FROM deployments ORDER BY deployment_id',
      );
    }

    /** The artifact files there must be: one bundle per stored row, nothing staged or incoming. */
    function expectedArtifacts(rows: Array<{ artifact_key: string }>): string[] {
      return rows.map((r) => r.artifact_key).sort();
    }
  });
}
