import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { hiddenName } from '../../packages/data-plane/src/launch/jail/launcher.ts';
import { decompressor } from '../../packages/data-plane/src/storage/compression.ts';
import { S3ArtifactStore } from '../../packages/data-plane/src/storage/s3.ts';
import { sov } from '../support/cli.ts';
import { dataScopes, expectStatus, Platform } from '../support/platform.ts';
import { endOf, readEvents } from '../support/projects.ts';
import { buildWheel } from '../support/wheels.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const target = flowTarget();
/** Printed by the job, set as a secret: only its mask may reach the bucket. */
const secret = 'sk_bucket_canary_7f3a9c2e51';

/**
 * A data plane with object storage (a real S3 protocol server on loopback): what it
 * builds and logs is kept in its bucket, so an instance that lost its disk loses nothing.
 * An environment built on deploy is in the bucket, and a run on an instance whose cache
 * was emptied restores it from there instead of building it; a finished run's logs move
 * to the bucket (SOV_LOG_ARCHIVE_AFTER_SECONDS=0, objects of about 1 KiB) and are read
 * back whole through the API, a follower and `sov logs`.
 */
describe(`environments and logs kept in the region's bucket, real processes [${target.name}]`, () => {
  let s3: TestObjectStorage;
  /** The eu data plane's objects, as its bucket holds them under its prefix. */
  let bucket: S3ArtifactStore;
  let staging: string;
  let wheelhouse: string;
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let dp: string;

  const runToEnd = (jobId: string) => platform.runToEnd(t.token, jobId);
  /** Every line of a run, a page at a time, as a client reads a finished run's log. */
  const readAll = async (runId: string): Promise<string[]> => {
    const lines: string[] = [];
    let after = 0;
    for (;;) {
      const page = await expectStatus(200, 'GET', `${dp}/runs/${runId}/logs?after=${after}&limit=700`, { token });
      lines.push(...page.data.map((l: { line: string }) => l.line));
      if (page.data.length === 0) return lines;
      after = page.nextAfter;
    }
  };

  before(async () => {
    s3 = await startObjectStorage();
    staging = await mkdtemp(join(tmpdir(), 'sov-bucket-test-'));
    process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
    bucket = new S3ArtifactStore(
      {
        bucket: s3.bucket,
        prefix: 'eu/',
        endpoint: s3.endpoint,
        region: 'eu-central-1',
        forcePathStyle: true,
        partBytes: 5 * 1024 * 1024,
      },
      staging,
    );
    wheelhouse = await mkdtemp(join(tmpdir(), 'sov-wheels-'));
    buildWheel(wheelhouse, 'sovereign-demo-transform', '1.0.0', {
      'sovereign_demo_transform/__init__.py':
        'def normalise(row):\n    return {key.lower(): value.strip() for key, value in row.items()}\n',
    });
    platform = await Platform.start(target, {
      perDataplaneEnv: {
        'eu-1': {
          ...s3.env('eu'),
          SOV_PIP_FIND_LINKS: wheelhouse,
          SOV_LOG_ARCHIVE_AFTER_SECONDS: '0',
          SOV_LOG_ARCHIVE_BYTES: '1024',
        },
      },
    });
    t = await platform.tenant('eu', 'bucket');
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, dataScopes);
    token = issued.token;
    dp = `${issued.dataplane.url}/api/v1`;
  });
  after(async () => {
    await platform?.stop();
    bucket?.close();
    await s3?.close();
    await rm(wheelhouse, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  });

  it('puts the environment a deploy built in the bucket; a run on an instance whose cache is gone restores it from there, building nothing', async () => {
    const files: Record<string, string> = {};
    for (const name of ['sovereign.yaml', 'requirements.txt', 'pipeline.py']) {
      files[name] = await readFile(join(repoRoot, 'examples', 'python-pipeline', name), 'utf8');
    }
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    const stored = await bucket.list('environments/');
    assert.equal(stored.length, 1, stored.join('\n'));
    const [key] = stored;
    assert.match(key ?? '', /^environments\/python\/[0-9a-f]{64}\.tar\.zst$/, 'named by its kind and digest only');
    const digest = (key ?? '').split('/')[2]?.replace('.tar.zst', '') ?? '';

    // The instance's cache is lost, as a new pod's is empty.
    const eu = platform.dp('eu-1');
    const cache = join(platform.jails, 'env', hiddenName(eu.clientId));
    assert.deepEqual(await readdir(cache), [digest]);
    await rm(join(cache, digest), { recursive: true, force: true });

    const run = await runToEnd(jobs.pipeline as string);
    const lines = await readAll(run.runId);
    assert.equal(run.status, 'succeeded', lines.join('\n'));
    assert.ok(lines.includes('transformed 2 rows: [{"name": "Ada"}, {"name": "Grace"}]'), lines.join('\n'));
    assert.match(lines.join('\n'), /in \/run\/sovereign\/environments\/python$/m, 'its Python is the environment’s');
    assert.match(eu.service.output(), /environment restored from the store/);
    assert.doesNotMatch(eu.service.output(), /building an environment again for a run/);
    assert.deepEqual(await readdir(cache), [digest], 'back in the cache');
  });

  it('moves a finished run’s logs to the bucket, masked, and reads them back whole: by page, followed from inside an archived range, and with sov logs', async () => {
    await expectStatus(200, 'PUT', `${dp}/workspaces/${t.workspace.workspaceId}/variables/CANARY`, {
      token,
      body: { value: secret, secret: true },
    });
    const printer = [
      'console.log("secret " + process.env.CANARY);',
      'for (let i = 1; i <= 3000; i++) console.log("line " + i + " of the loud job");',
    ].join('\n');
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: loud\n    run: node loud.js\n',
      'loud.js': printer,
    });
    const run = await runToEnd(jobs.loud as string);
    assert.equal(run.status, 'succeeded');
    const expected = ['secret ********', ...Array.from({ length: 3000 }, (_, i) => `line ${i + 1} of the loud job`)];

    // Archived in ranges, from the first line to the last with none left out.
    let keys: string[] = [];
    const covered = () => {
      let next = 1;
      for (const [first, last] of keys
        .map((k) => (k.split('/')[2] ?? '').split('-').slice(0, 2).map(Number) as [number, number])
        .sort((a, b) => a[0] - b[0])) {
        if (first !== next) return false;
        next = last + 1;
      }
      return next === expected.length + 1;
    };
    await platform.waitFor(
      async () => {
        keys = await bucket.list(`logs/${run.runId}/`);
        return covered();
      },
      'the run’s lines to be archived',
      60_000,
    );
    // About 1 KiB of text each, or one chunk (what one read of the job's pipe gave) when it is more.
    assert.ok(keys.length > 1, `several objects: ${keys.length}`);
    for (const key of keys) {
      assert.match(
        key,
        new RegExp(`^logs/${run.runId}/\\d+-\\d+-[0-9a-f-]{36}\\.ndjson\\.zst$`),
        'ids and numbers only',
      );
      const text = (await buffer((await bucket.openRead(key)).pipe(decompressor()))).toString('utf8');
      assert.ok(!text.includes(secret), `${key} holds the secret`);
    }

    assert.deepEqual(await readAll(run.runId), expected);
    const followed = await fetch(`${dp}/runs/${run.runId}/logs?follow=true&after=1500`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const events = await readEvents(followed);
    assert.deepEqual(
      events.filter((e) => e.event === 'line').map((e) => e.data.line),
      expected.slice(1500),
    );
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });

    const config = await mkdtemp(join(tmpdir(), 'sov-bucket-cli-'));
    try {
      const env = { SOV_TOKEN: t.token, SOV_API_URL: new URL(platform.cp).origin };
      const read = await sov(config, ['logs', run.runId, '--json'], { env });
      assert.equal(read.code, 0, read.stderr);
      assert.deepEqual(
        JSON.parse(read.stdout).lines.map((l: { line: string }) => l.line),
        expected,
      );
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });
});
