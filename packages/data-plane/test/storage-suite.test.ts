import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, pgliteTarget, type TestDatabase } from '@sovereign/server-kit/testing';
import { configFromEnv, type DataPlaneConfig } from '../src/config.ts';
import { completeMarker, EnvironmentArchive, type EnvironmentFacts } from '../src/environments/archive.ts';
import { Environments, type EnvironmentUse } from '../src/environments/builder.ts';
import { type EnvironmentSpec, environmentsOf } from '../src/environments/definition.ts';
import { collectOutputs } from '../src/executor/results.ts';
import { Janitor } from '../src/files/janitor.ts';
import { makeLauncher } from '../src/launch/index.ts';
import type { Launcher } from '../src/launch/launcher.ts';
import { Spawner } from '../src/launch/spawner.ts';
import { LogArchiver } from '../src/logs/archive.ts';
import { archivePrefixOf } from '../src/logs/archive-format.ts';
import type { LogLine } from '../src/logs/lines.ts';
import { LogStore, type StoredLine } from '../src/logs/store.ts';
import type { ArtifactStore } from '../src/storage/artifacts.ts';
import { decompressor } from '../src/storage/compression.ts';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import { closeStoreBackends, storeBackends } from './support/artifact-stores.ts';
import { recordingLogger } from './support/logger.ts';

/**
 * What the data plane keeps in its artifact store besides bundles and outputs
 * (artifact-store.test.ts): built environments and archived log lines, with the same
 * assertions on the local filesystem and on an S3 bucket (s3rver on loopback), and the
 * logs on each database.
 */

after(async () => {
  await closeStoreBackends();
});

const jailPython = '/run/sovereign/environments/python';

/** A directory laid out as a finished environment, for the archive's own assertions. */
async function fakeEnvironment(dir: string, digest: string, at: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib', 'site-packages'), { recursive: true });
  await writeFile(join(dir, 'bin', 'tool'), `#!${at}/bin/python\nprint("tool")\n`);
  await chmod(join(dir, 'bin', 'tool'), 0o755);
  // A build is tenant code: a setuid file it left must not come back as the data plane's.
  await writeFile(join(dir, 'bin', 'setuid'), 'x');
  await chmod(join(dir, 'bin', 'setuid'), 0o4755);
  await writeFile(join(dir, 'lib', 'site-packages', 'module.py'), 'VALUE = 42\n');
  await symlink('/usr/bin/python3', join(dir, 'bin', 'python'));
  const facts: EnvironmentFacts = { kind: 'python', digest, builtAt: new Date().toISOString(), bytes: 100, at };
  await writeFile(join(dir, completeMarker), JSON.stringify(facts));
}

function fakeDigest(): string {
  return `sha256:${randomBytes(32).toString('hex')}`;
}

for (const backend of storeBackends) {
  describe(`built environments in the artifact store: ${backend.name}`, () => {
    let store: ArtifactStore;
    let close: () => Promise<void>;
    let archive: EnvironmentArchive;
    let scratch: string;
    before(async () => {
      ({ store, close } = await backend.open());
      archive = new EnvironmentArchive(store);
      scratch = await mkdtemp(join(tmpdir(), 'sov-env-archive-'));
    });
    after(async () => {
      await close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('puts a built environment under its kind and digest only, and restores it whole at another root', async () => {
      const digest = fakeDigest();
      const hex = digest.slice(7);
      const built = join(scratch, 'a', hex);
      await fakeEnvironment(built, digest, jailPython);
      assert.ok((await archive.put('python', digest, built)) > 0);
      assert.deepEqual(await store.list('environments/'), [`environments/python/${hex}.tar.zst`]);
      assert.equal(await archive.has('python', digest), true);

      const target = join(scratch, 'b', hex);
      assert.equal(await archive.restore('python', digest, target, jailPython), 'restored');
      assert.equal(await readFile(join(target, 'lib', 'site-packages', 'module.py'), 'utf8'), 'VALUE = 42\n');
      assert.equal(await readFile(join(target, 'bin', 'tool'), 'utf8'), `#!${jailPython}/bin/python\nprint("tool")\n`);
      assert.equal((await stat(join(target, 'bin', 'tool'))).mode & 0o7777, 0o755);
      assert.equal((await stat(join(target, 'bin', 'setuid'))).mode & 0o7777, 0o755, 'no setuid bit comes back');
      assert.ok((await lstat(join(target, 'bin', 'python'))).isSymbolicLink());
      assert.equal(await readlink(join(target, 'bin', 'python')), '/usr/bin/python3');
      assert.deepEqual(await readdir(join(scratch, 'b')), [hex], 'nothing half-made is left beside it');
    });

    it('restores nothing the store lacks, nor one built to be seen at another path', async () => {
      const root = join(scratch, 'c');
      const missing = fakeDigest();
      assert.equal(await archive.has('python', missing), false);
      assert.equal(await archive.restore('python', missing, join(root, missing.slice(7)), jailPython), 'absent');

      const digest = fakeDigest();
      const built = join(scratch, 'unjailed', digest.slice(7));
      // Unjailed, a venv names the directory it was built in.
      await fakeEnvironment(built, digest, built);
      await archive.put('python', digest, built);
      const elsewhere = join(root, digest.slice(7));
      assert.equal(await archive.restore('python', digest, elsewhere, elsewhere), 'elsewhere');
      assert.deepEqual(await readdir(root).catch(() => []), [], 'neither is left in the cache');
    });

    it('gives each of several restores at once the whole environment, and leaves one copy', async () => {
      const digest = fakeDigest();
      const built = join(scratch, 'd', digest.slice(7));
      await fakeEnvironment(built, digest, jailPython);
      await archive.put('python', digest, built);
      const root = join(scratch, 'e');
      const target = join(root, digest.slice(7));
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () => archive.restore('python', digest, target, jailPython)),
      );
      assert.deepEqual(outcomes, ['restored', 'restored', 'restored', 'restored']);
      assert.deepEqual(await readdir(root), [digest.slice(7)]);
      assert.equal(await readFile(join(target, 'lib', 'site-packages', 'module.py'), 'utf8'), 'VALUE = 42\n');
    });

    it('refuses an object that does not hold the environment its name says', async () => {
      const digest = fakeDigest();
      const other = fakeDigest();
      const built = join(scratch, 'f', other.slice(7));
      await fakeEnvironment(built, other, jailPython);
      // The other environment's bytes, under this one's name.
      await archive.put('python', other, built);
      const packed = join(scratch, 'packed');
      await writeFile(packed, await buffer(await store.openRead(EnvironmentArchive.keyOf('python', other))));
      await store.putFile(EnvironmentArchive.keyOf('python', digest), packed);
      const root = join(scratch, 'g');
      await assert.rejects(archive.restore('python', digest, join(root, digest.slice(7)), jailPython), {
        name: 'EnvironmentArchiveDamagedError',
      });
      assert.deepEqual(await readdir(root), []);
    });

    it('deletes an environment: it is then absent', async () => {
      const digest = fakeDigest();
      const built = join(scratch, 'h', digest.slice(7));
      await fakeEnvironment(built, digest, jailPython);
      await archive.put('python', digest, built);
      await archive.delete('python', digest);
      await archive.delete('python', digest);
      assert.equal(await archive.has('python', digest), false);
      assert.equal(await archive.restore('python', digest, join(scratch, 'i', digest.slice(7)), jailPython), 'absent');
    });
  });
}

/** One data plane instance's machine: its own directories and its own jail launcher. */
interface Machine {
  dir: string;
  config: DataPlaneConfig;
  launcher: Launcher;
  spawner: Spawner;
  janitor: Janitor;
}

async function startMachine(name: string): Promise<Machine> {
  const dir = await mkdtemp(join(tmpdir(), `sov-machine-${name}-`));
  const config = configFromEnv({
    SOV_CLIENT_ID: `storage-suite-${name}`,
    SOV_CLIENT_SECRET: 'unused',
    SOV_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
    SOV_DATA_DIR: join(dir, 'data'),
    // Under /tmp, which every user can traverse, as the runs' own users must.
    SOV_SANDBOX_DIR: join(tmpdir(), `sov-jails-${randomBytes(6).toString('hex')}`),
    SOV_SANDBOX: 'on',
    SOV_SANDBOX_POOL: '0',
  });
  const log = recordingLogger();
  const spawner = new Spawner(log);
  const janitor = new Janitor();
  const launcher = await makeLauncher({ config, instanceId: randomUUID(), spawner, janitor, log });
  return { dir, config, launcher, spawner, janitor };
}

async function stopMachine(machine: Machine | undefined): Promise<void> {
  if (machine === undefined) return;
  await machine.launcher.close();
  machine.spawner.close();
  await machine.janitor.close();
  await rm(machine.dir, { recursive: true, force: true });
  await rm(machine.config.sandbox.dir, { recursive: true, force: true });
}

/** Runs `command` as a run with these environments would be, in a jail of `machine`; its output and exit code. */
async function runWith(
  machine: Machine,
  use: EnvironmentUse,
  command: string,
): Promise<{ exitCode: number | null; output: string }> {
  const slot = await machine.launcher.acquire({
    runId: randomUUID(),
    kind: 'batch',
    limits: machine.config.runLimits.defaults,
    network: 'none',
    mounts: use.mounts,
    pathPrefix: use.pathPrefix,
  });
  try {
    await mkdir(slot.host.app, { recursive: true });
    if (slot.owner !== undefined) await machine.janitor.chown(slot.host.app, slot.owner.uid, slot.owner.gid);
    const child = await slot.start(command, { ...use.env, HOME: slot.job.home, LANG: 'C.UTF-8' });
    const output = Promise.all([text(child.stdout), text(child.stderr)]);
    child.go();
    const ending = await child.exited;
    return { exitCode: ending.exitCode, output: (await output).join('') };
  } finally {
    await slot.release();
  }
}

/**
 * Environments as two instances on two machines have them: each its own cache directory
 * and jails, sharing only the store. A venv holds the path it was built at; in a jail
 * every environment is seen at /run/sovereign/environments/<kind>, so a copy unpacked at
 * another root runs there as it did where it was built.
 */
describe('an environment built by one instance is used by another, sharing only the store', () => {
  let a: Machine;
  let b: Machine;
  before(async () => {
    a = await startMachine('a');
    b = await startMachine('b');
  });
  after(async () => {
    await stopMachine(a);
    await stopMachine(b);
  });

  const environmentsOn = (machine: Machine, store: ArtifactStore) => {
    const log = recordingLogger();
    const environments = new Environments({
      // Where app.ts puts it: under the jails' directory, which a jail's user can traverse.
      root: join(machine.config.sandbox.dir, 'env', 'cache'),
      launcher: machine.launcher,
      sources: {},
      limits: machine.config.runLimits.max,
      timeoutMs: 300_000,
      killGraceMs: 1_000,
      budgetBytes: 10 * 1024 ** 3,
      archive: new EnvironmentArchive(store),
      log,
    });
    return { environments, log };
  };
  /** A Python environment of its own (a comment in its requirements.txt makes a digest of its own). */
  const pythonSpec = (): { spec: EnvironmentSpec; files: Map<string, Buffer> } => {
    const files = new Map([['requirements.txt', Buffer.from(`# ${randomUUID()}\n`)]]);
    const [spec] = environmentsOf(files, {});
    assert.ok(spec !== undefined && spec.kind === 'python');
    return { spec, files };
  };

  for (const backend of storeBackends) {
    describe(`store: ${backend.name}`, () => {
      let store: ArtifactStore;
      let close: () => Promise<void>;
      before(async () => {
        ({ store, close } = await backend.open());
      });
      after(async () => close());

      it('puts the build in the store; the other instance, its cache empty, restores it at another root and its run uses it, building nothing', async () => {
        const onA = environmentsOn(a, store);
        const onB = environmentsOn(b, store);
        const { spec } = pythonSpec();
        assert.deepEqual(await onA.environments.ensure([spec]), [spec.digest], 'built on A');
        assert.ok(await store.exists(EnvironmentArchive.keyOf('python', spec.digest)), 'and put in the store');
        assert.deepEqual(await onB.environments.missing([spec]), [], 'B counts it built: the store has it');

        const held = await onB.environments.hold([{ kind: 'python', digest: spec.digest }], async () => {
          throw new Error('B read the deployment’s files to build it again');
        });
        try {
          assert.ok(onB.log.messages.includes('environment restored from the store'), onB.log.messages.join('\n'));
          assert.ok(!onB.log.messages.some((m) => m.startsWith('building')), onB.log.messages.join('\n'));
          // Its console scripts name the path they were built at: they run from B's copy.
          const ran = await runWith(
            b,
            held.use,
            'pip --version && python3 -c "import sys; print(sys.prefix)" && head -1 "$(command -v pip)"',
          );
          assert.equal(ran.exitCode, 0, ran.output);
          assert.match(ran.output, new RegExp(`^pip .* from ${jailPython}/lib/python3\\.\\d+/site-packages/pip`, 'm'));
          assert.match(ran.output, new RegExp(`^${jailPython}$`, 'm'));
          assert.match(ran.output, new RegExp(`^#!${jailPython}/bin/python`, 'm'));
        } finally {
          held.release();
        }
        assert.deepEqual(await onB.environments.ensure([spec]), [], 'B builds nothing for a deploy either');
      });

      it('builds one the store lacks again from the deployment’s files, and puts it there', async () => {
        const onB = environmentsOn(b, store);
        const { spec, files } = pythonSpec();
        assert.deepEqual(await onB.environments.missing([spec]), [spec]);
        const held = await onB.environments.hold([{ kind: 'python', digest: spec.digest }], async () => files);
        held.release();
        assert.ok(onB.log.messages.includes('building an environment again for a run'), onB.log.messages.join('\n'));
        assert.ok(await store.exists(EnvironmentArchive.keyOf('python', spec.digest)));
        // Another instance's deploy of the same finds it built, and fetches nothing; its run restores it.
        const onA = environmentsOn(a, store);
        assert.deepEqual(await onA.environments.ensure([spec]), []);
        assert.deepEqual(onA.log.messages, []);
        const again = await onA.environments.hold([{ kind: 'python', digest: spec.digest }], async () => files);
        again.release();
        assert.deepEqual(onA.log.messages, ['environment restored from the store']);
      });
    });
  }
});

/** Lines as a job's pipes give them: runs of one stream and one time, some lines odd. */
function linesOf(count: number, from: number): LogLine[] {
  return Array.from({ length: count }, (_, i) => {
    const seq = from + i;
    return {
      stream: seq % 100 >= 90 ? 'stderr' : 'stdout',
      at: new Date(Date.UTC(2026, 0, 1) + Math.floor(seq / 40)),
      text: seq % 97 === 0 ? '' : seq % 89 === 0 ? `two\nparts ${seq}` : `line ${seq} ünïcödé, "quotes" and {braces}`,
    };
  });
}

function expected(lines: LogLine[], firstSeq = 1): StoredLine[] {
  return lines.map((line, i) => ({
    seq: firstSeq + i,
    stream: line.stream,
    at: line.at.toISOString(),
    line: line.text,
  }));
}

async function everything(logs: LogStore, runId: string, after = 0, pageLines = 1000): Promise<StoredLine[]> {
  const out: StoredLine[] = [];
  for await (const page of logs.pages(runId, after, pageLines)) {
    assert.ok(page.length > 0 && page.length <= pageLines);
    out.push(...page);
  }
  return out;
}

for (const backend of storeBackends) {
  // The store is the subject here; outputs' rows through a real run are the runs e2e suite's (tests/e2e/runs.test.ts).
  describe(`run outputs in the artifact store: ${backend.name}`, () => {
    let test: TestDatabase;
    let db: Database;
    let store: ArtifactStore;
    let close: () => Promise<void>;
    let dir: string;

    before(async () => {
      ({ store, close } = await backend.open());
      test = await pgliteTarget.create();
      db = await openDatabase(test.options);
      await migrateDataPlane(db);
      dir = await mkdtemp(join(tmpdir(), 'sov-outputs-'));
    });
    after(async () => {
      await db?.close();
      await test?.drop();
      await close();
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps each file a run left, byte for byte, under a name made of its run id and a digest of its path', async () => {
      const runId = randomUUID();
      const outputs = join(dir, runId);
      await mkdir(join(outputs, 'report of customer ACME'), { recursive: true });
      const big = randomBytes(6 * 1024 * 1024 + 7);
      await writeFile(join(outputs, 'report of customer ACME', 'totals.csv'), 'a,b\n1,2\n');
      await writeFile(join(outputs, 'big.bin'), big);
      await symlink('/etc/passwd', join(outputs, 'link'));
      assert.deepEqual(await collectOutputs(db, store, runId, outputs), {
        complete: true,
        skipped: { notUtf8: 0, unreadable: 0 },
      });
      const rows = await db.query<{ path: string; size_bytes: number; artifact_key: string }>(
        'SELECT path, size_bytes, artifact_key FROM run_outputs WHERE run_id = $1 ORDER BY path',
        [runId],
      );
      assert.deepEqual(
        rows.map((r) => [r.path, Number(r.size_bytes)]),
        [
          ['big.bin', big.length],
          ['report of customer ACME/totals.csv', 8],
        ],
        'a link is no output',
      );
      for (const row of rows) {
        assert.match(row.artifact_key, new RegExp(`^outputs/${runId}/[0-9a-f]{64}$`), 'no customer text in the name');
      }
      assert.deepEqual(await buffer(await store.openRead((rows[0] as { artifact_key: string }).artifact_key)), big);
      assert.equal(await text(await store.openRead((rows[1] as { artifact_key: string }).artifact_key)), 'a,b\n1,2\n');
      assert.deepEqual((await store.list(`outputs/${runId}/`)).length, 2);
    });

    it('stops at the run’s output budget and says the outputs are not complete', async () => {
      const runId = randomUUID();
      const outputs = join(dir, runId);
      await mkdir(outputs, { recursive: true });
      await writeFile(join(outputs, 'a.txt'), 'x'.repeat(100));
      await writeFile(join(outputs, 'b.txt'), 'y'.repeat(100));
      assert.deepEqual(await collectOutputs(db, store, runId, outputs, 150), {
        complete: false,
        skipped: { notUtf8: 0, unreadable: 0 },
      });
      assert.equal((await store.list(`outputs/${runId}/`)).length, 1, 'one fits, the other is not stored');
    });
  });
}

for (const backend of storeBackends) {
  for (const target of databaseTargets()) {
    describe(`run logs archived to the artifact store: ${backend.name} [${target.name}]`, () => {
      let test: TestDatabase;
      let db: Database;
      let store: ArtifactStore;
      let close: () => Promise<void>;
      let logs: LogStore;
      /** Archives runs that ended, and running ones with 4 KiB of text in the database; objects of about 4 KiB. */
      const archiver = (afterSeconds = 0) => {
        const log = recordingLogger();
        return Object.assign(new LogArchiver({ logs, artifacts: store, afterSeconds, bytes: 4096, log }), { log });
      };

      before(async () => {
        ({ store, close } = await backend.open());
        test = await target.create();
        db = await openDatabase(test.options);
        await migrateDataPlane(db);
        logs = new LogStore(db, store);
      });
      after(async () => {
        await db?.close();
        await test?.drop();
        await close();
      });

      const newRun = async (status: 'running' | 'succeeded') => {
        const runId = randomUUID();
        await db.query(
          `INSERT INTO runs (run_id, workspace_id, job_name, deployment_id, attempt, kind, instance_id, status, finished_at)
           VALUES ($1, $2, 'job', $3, 1, 'batch', $4, $5, $6)`,
          [runId, randomUUID(), randomUUID(), randomUUID(), status, status === 'running' ? null : new Date()],
        );
        return runId;
      };
      const append = async (runId: string, firstSeq: number, lines: LogLine[]) => {
        // In batches, as the pump stores them.
        for (let i = 0; i < lines.length; i += 150) await logs.append(runId, firstSeq + i, lines.slice(i, i + 150));
      };
      const liveChunks = async (runId: string) =>
        Number(
          (await db.query<{ n: number }>('SELECT count(*) AS n FROM run_log_chunks WHERE run_id = $1', [runId]))[0]?.n,
        );

      it('moves an ended run’s lines to the store in ranges, leaves none in the database, and reads them back in order', async () => {
        const runId = await newRun('succeeded');
        const lines = linesOf(1000, 1);
        await append(runId, 1, lines);
        const ranges = await archiver().archiveDue();
        assert.ok(ranges.length > 3, `several objects of about 4 KiB: ${ranges.length}`);
        assert.equal(await liveChunks(runId), 0);
        // Contiguous ranges, each an object named by the run's id and its numbers.
        assert.equal(ranges[0]?.firstSeq, 1);
        assert.equal(ranges.at(-1)?.lastSeq, 1000);
        for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]?.firstSeq, (ranges[i - 1]?.lastSeq ?? 0) + 1);
        assert.deepEqual(await store.list(archivePrefixOf(runId)), ranges.map((r) => r.key).sort());
        for (const r of ranges) {
          assert.match(r.key, new RegExp(`^logs/${runId}/${r.firstSeq}-${r.lastSeq}-[0-9a-f-]{36}\\.ndjson\\.zst$`));
        }
        assert.deepEqual(await everything(logs, runId), expected(lines));
        assert.deepEqual(await logs.read(runId, 0, 10_000), expected(lines));
        // Reading from any line, inside a range or at its edge, up to a limit.
        const edges = ranges.flatMap((r) => [r.firstSeq - 1, r.firstSeq, r.lastSeq - 1]);
        for (const afterSeq of [...edges, 3, 555, 998, 999, 1000]) {
          for (const limit of [1, 7, 400]) {
            assert.deepEqual(
              await logs.read(runId, afterSeq, limit),
              expected(lines.slice(afterSeq, afterSeq + limit), afterSeq + 1),
              `after ${afterSeq}, limit ${limit}`,
            );
          }
        }
        assert.deepEqual(await archiver().archiveDue(), [], 'nothing is archived twice');
      });

      it('holds masked lines only, as they were stored: the object is the stored chunks, compressed', async () => {
        const runId = await newRun('succeeded');
        await logs.append(runId, 1, [{ stream: 'stdout', at: new Date(0), text: 'token=*** (masked before storing)' }]);
        const [range] = await archiver().archiveDue();
        assert.ok(range !== undefined);
        const raw = await buffer((await store.openRead(range.key)).pipe(decompressor()));
        assert.deepEqual(JSON.parse(raw.toString('utf8')), {
          first: 1,
          last: 1,
          stream: 'stdout',
          at: '1970-01-01T00:00:00.000Z',
          body: 'token=*** (masked before storing)',
        });
      });

      it('archives a running run past the size while it runs, and stitches the archive to its live tail', async () => {
        const runId = await newRun('running');
        const first = linesOf(600, 1);
        await append(runId, 1, first);
        // Not ended: archived for its size only.
        const ranges = await archiver(3600).archiveDue();
        assert.ok(ranges.length > 0);
        assert.equal(ranges.at(-1)?.lastSeq, 600);
        const tail = linesOf(50, 601);
        await append(runId, 601, tail);
        assert.deepEqual(await archiver(3600).archiveDue(), [], 'the live tail is under the size: it stays');
        assert.ok((await liveChunks(runId)) > 0);
        const all = expected([...first, ...tail]);
        assert.deepEqual(await everything(logs, runId, 0, 64), all);
        // A follower that resumes inside an archived range gets every line after it once.
        const from = (ranges[0]?.lastSeq ?? 0) - 3;
        assert.deepEqual(await everything(logs, runId, from, 10), all.slice(from));
        assert.deepEqual(await logs.read(runId, 640, 100), all.slice(640));
      });

      it('lets two archivers at once archive each range once', async () => {
        const runs = [await newRun('succeeded'), await newRun('succeeded'), await newRun('succeeded')];
        for (const runId of runs) await append(runId, 1, linesOf(400, 1));
        const first = archiver();
        const second = archiver();
        const [one, two] = await Promise.all([first.archiveDue(), second.archiveDue()]);
        for (const runId of runs) {
          const rows = await db.query<{ first_seq: number; last_seq: number }>(
            'SELECT first_seq, last_seq FROM run_log_archives WHERE run_id = $1 ORDER BY last_seq',
            [runId],
          );
          assert.equal(rows[0]?.first_seq, 1);
          for (let i = 1; i < rows.length; i++) assert.equal(rows[i]?.first_seq, (rows[i - 1]?.last_seq ?? 0) + 1);
          assert.equal(rows.at(-1)?.last_seq, 400);
          assert.equal((await store.list(archivePrefixOf(runId))).length, rows.length, 'one object per range');
          assert.deepEqual(await everything(logs, runId), expected(linesOf(400, 1)));
        }
        assert.equal(
          (one ?? []).length + (two ?? []).length,
          Number(
            (
              await db.query<{ n: number }>('SELECT count(*) AS n FROM run_log_archives WHERE run_id = ANY($1)', [runs])
            )[0]?.n,
          ),
        );
        // Each run was claimed by one of them: neither read and uploaded lines the other archived.
        const messages = [...first.log.messages, ...second.log.messages];
        assert.ok(!messages.includes('run log range archived by another instance'), messages.join('\n'));
      });

      it('records no range whose claim was taken over or whose lines another instance archived first', async () => {
        const runId = await newRun('succeeded');
        await append(runId, 1, linesOf(100, 1));
        const claim = async (leaseSeconds: number) => {
          const claims = await logs.claimArchiveWork({ afterSeconds: 0, liveBytes: 4096, leaseSeconds, limit: 100 });
          const mine = claims.find((c) => c.runId === runId);
          // Let the others go: other tests' runs are not this one's business.
          for (const other of claims) if (other !== mine) await logs.releaseArchiveClaim(other);
          assert.ok(mine !== undefined);
          return mine;
        };
        // Every chunk of the run, as an archiver would put them in one object.
        const range = { firstSeq: 1, lastSeq: 100, chunks: 0, textBytes: 0 };
        for await (const chunk of logs.chunksToArchive(runId, 0, 100)) {
          range.chunks += 1;
          range.textBytes += Buffer.byteLength(chunk.body);
        }
        const key = (c: { claimId: string }) => `logs/${runId}/1-100-${c.claimId}.ndjson.zst`;
        // A claim that lapses at once, as one held by an instance that stalled past its lease...
        const stalled = await claim(0);
        // ...is taken by another instance: the stalled one's upload is recorded nowhere.
        const taker = await claim(600);
        assert.equal(await logs.recordArchive(stalled, range, key(stalled), 1, 600), false);
        assert.equal(await liveChunks(runId), Number(range.chunks), 'its chunks are all still here');
        // The taker records it; the stalled one, late again, finds the chunks gone.
        assert.equal(await logs.recordArchive(taker, range, key(taker), 1, 600), true);
        assert.equal(await logs.recordArchive(stalled, range, key(stalled), 1, 600), false);
        const rows = await db.query<{ artifact_key: string }>(
          'SELECT artifact_key FROM run_log_archives WHERE run_id = $1',
          [runId],
        );
        assert.deepEqual(
          rows.map((r) => r.artifact_key),
          [key(taker)],
        );
      });

      it('deletes a run’s lines: its rows, its objects, and an object no row names', async () => {
        const runId = await newRun('succeeded');
        await append(runId, 1, linesOf(300, 1));
        await archiver().archiveDue();
        await append(runId, 301, linesOf(10, 301));
        // What a crash between an object's upload and its row leaves: never read, removed with the run.
        const orphan = join(store.stagingDir, `orphan-${randomUUID()}`);
        await mkdir(store.stagingDir, { recursive: true });
        await writeFile(orphan, 'left by a crash');
        await store.putFile(`logs/${runId}/301-310-${randomUUID()}.ndjson.zst`, orphan);
        assert.deepEqual(await everything(logs, runId), expected(linesOf(310, 1)), 'the orphan is never read');
        const other = await newRun('succeeded');
        await append(other, 1, linesOf(5, 1));
        await archiver().archiveDue();

        await logs.deleteRun(runId);
        assert.deepEqual(await store.list(archivePrefixOf(runId)), []);
        assert.deepEqual(await logs.read(runId, 0, 100), []);
        assert.equal(await liveChunks(runId), 0);
        assert.deepEqual(await archiver().archiveDue(), []);
        assert.deepEqual(await everything(logs, other), expected(linesOf(5, 1)), 'another run’s lines stay');
      });
    });
  }
}
