import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import * as tar from 'tar';
import { dumpDatabase } from '../support/dump.ts';
import { rawTarGz, validManifest } from '../support/hostile-tar.ts';
import { call, expectStatus, Platform } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

const canary = {
  file: 'FILE-CANARY-3e8f1a',
  command: 'COMMAND-CANARY-b7d2',
  plain: 'PLAIN-CANARY-55c0',
  secret: 'SECRET-CANARY-a9e4',
};

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((text) =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1]),
  );
}

const target = flowTarget();

describe(`deployments at a data plane, real processes [${target.name}]`, () => {
  let platform: Platform;
  let eu: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let api: string;

  before(async () => {
    platform = await Platform.start(target, {
      perDataplaneEnv: { 'us-1': { SOV_MAX_BUNDLE_BYTES: String(1024 * 1024) } },
    });
    eu = await platform.tenant('eu', 'deploy');
    const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, [
      'deployments:write',
      'deployments:read',
      'variables:write',
    ]);
    token = issued.token;
    api = `${issued.dataplane.url}/api/v1/workspaces/${eu.workspace.workspaceId}`;
    await platform.waitFor(
      async () => (await call('GET', `${api}/deployments`, { token })).status === 200,
      'eu-1 to host the workspace',
    );
  });
  after(async () => {
    await platform?.stop();
  });

  const upload = (body: Buffer, query = '') =>
    call('POST', `${api}/deployments${query}`, {
      token,
      raw: new Uint8Array(body),
      headers: { 'content-type': 'application/gzip' },
    });

  it('refuses tar-slip, escaping links, devices and invalid manifests, leaving the current deployment as it was', async () => {
    const good = await upload(await packProject({ 'sovereign.yaml': validManifest, 'data.txt': 'v1' }));
    assert.equal(good.status, 200);
    const hostile: Array<[string, Buffer, string, string]> = [
      [
        'tar-slip',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: '../../etc/cron.d/evil', type: '0', content: 'x' },
        ]),
        'bundle_unsafe_path',
        '../../etc/cron.d/evil',
      ],
      [
        'absolute path',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: '/etc/passwd', type: '0', content: 'x' },
        ]),
        'bundle_unsafe_path',
        '/etc/passwd',
      ],
      [
        'symlink escape',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: 'link', type: '2', linkpath: '../../../etc/shadow' },
        ]),
        'bundle_link_escape',
        'link',
      ],
      [
        'absolute symlink',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: 'abs', type: '2', linkpath: '/etc/shadow' },
        ]),
        'bundle_link_escape',
        'abs',
      ],
      [
        'hard link escape',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: 'hard', type: '1', linkpath: '../outside' },
        ]),
        'bundle_link_escape',
        'hard',
      ],
      [
        'device',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: 'dev/null', type: '3' },
        ]),
        'bundle_special_file',
        'dev/null',
      ],
      [
        'fifo',
        rawTarGz([
          { path: 'sovereign.yaml', type: '0', content: validManifest },
          { path: 'pipe', type: '6' },
        ]),
        'bundle_special_file',
        'pipe',
      ],
      [
        'no manifest',
        rawTarGz([{ path: 'main.py', type: '0', content: 'print(1)' }]),
        'manifest_missing',
        'sovereign.yaml',
      ],
      ['not a tar', Buffer.from('this is not a gzipped tar at all'), 'bundle_invalid', ''],
    ];
    for (const [what, body, code, path] of hostile) {
      const answer = await upload(body);
      assert.equal(answer.status, 400, what);
      assert.equal(answer.body.code, code, what);
      assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
      if (path !== '') {
        assert.ok(
          answer.body.errors.some((e: { path: string }) => e.path === path),
          `${what}: the problem lists ${path}: ${JSON.stringify(answer.body.errors)}`,
        );
      }
    }
    const invalid = await upload(
      await packProject({
        'sovereign.yaml': `jobs:
  - name: Bad Name
    run: x
  - name: ok
    run: y
    schedule: "61 * * * *"
    timezone: Mars/Olympus
    timeout: soon
    colour: blue
  - name: ok
    run: z
    after: { job: missing }
`,
      }),
    );
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.code, 'manifest_invalid');
    const paths = invalid.body.errors.map((e: { path: string }) => e.path);
    for (const expected of [
      'jobs[0].name',
      'jobs[1].schedule',
      'jobs[1].timezone',
      'jobs[1].timeout',
      'jobs[1].colour',
      'jobs[2].name',
    ]) {
      assert.ok(paths.includes(expected), `lists ${expected}: ${paths.join(', ')}`);
    }

    const listed = await expectStatus(200, 'GET', `${api}/deployments`, { token });
    assert.equal(listed.data.length, 1, 'nothing was stored');
    assert.equal(listed.data[0].deploymentId, good.body.deploymentId);
    assert.equal(listed.data[0].current, true);
    const eu1 = platform.dp('eu-1');
    const artifacts = await filesUnder(join(eu1.dataDir, 'artifacts'));
    assert.deepEqual(
      artifacts.map((f) => f.slice(eu1.dataDir.length)),
      [`/artifacts/bundles/${eu.workspace.workspaceId}/${good.body.deploymentId}.tar.gz`],
      'a refused upload leaves nothing behind',
    );
  });

  it('runs a bundle with links to its own directory, and keeps serving everyone while it does', async () => {
    // Links that stay inside the bundle are allowed, `.` too. Node's recursive readdirSync
    // follows them: two such links made the working copy's listing walk 2^40 paths on the
    // data plane's only thread, and no tenant got an answer again. A workspace of its
    // own: the suite's other tests expect the first one's deployment as they left it.
    const own = await platform.tenant('eu', 'looped');
    await platform.waitUntilHosted(own.token, own.workspace.workspaceId);
    const issued = await platform.scopedToken(own.token, own.workspace.workspaceId, ['deployments:write']);
    const looped = await call(
      'POST',
      `${issued.dataplane.url}/api/v1/workspaces/${own.workspace.workspaceId}/deployments`,
      {
        token: issued.token,
        raw: new Uint8Array(
          rawTarGz([
            {
              path: 'sovereign.yaml',
              type: '0',
              content: 'jobs:\n  - name: looped\n    run: test -L a && test -L b\n',
            },
            { path: 'a', type: '2', linkpath: '.' },
            { path: 'b', type: '2', linkpath: '.' },
          ]),
        ),
        headers: { 'content-type': 'application/gzip' },
      },
    );
    assert.equal(looped.status, 200, JSON.stringify(looped.body));
    let jobId = '';
    await platform.waitFor(async () => {
      const listed = await call('GET', `${platform.cp}/workspaces/${own.workspace.workspaceId}/jobs`, {
        token: own.token,
      });
      jobId = listed.body?.data?.find((j: { name: string }) => j.name === 'looped')?.jobId ?? '';
      return jobId !== '';
    }, 'the job at the control plane');
    // The first run unpacks the bundle and lists it; the second is copied from that list.
    for (const which of ['first', 'second']) {
      const run = await platform.runToEnd(own.token, jobId, 30_000);
      assert.equal(run.status, 'succeeded', `the ${which} run, its links copied as links`);
    }
    const health = await fetch(`${issued.dataplane.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200, 'the data plane still answers');
  });

  it('refuses a bundle over the size limit with 413 and keeps nothing of it', async () => {
    const us = await platform.tenant('us', 'limit');
    const issued = await platform.scopedToken(us.token, us.workspace.workspaceId, [
      'deployments:write',
      'deployments:read',
    ]);
    const usApi = `${issued.dataplane.url}/api/v1/workspaces/${us.workspace.workspaceId}`;
    await platform.waitFor(
      async () => (await call('GET', `${usApi}/deployments`, { token: issued.token })).status === 200,
      'us-1 to host the workspace',
    );
    const big = await packProject({
      'sovereign.yaml': validManifest,
      'blob.bin': randomBytes(2 * 1024 * 1024).toString('base64'),
    });
    const answer = await call('POST', `${usApi}/deployments`, {
      token: issued.token,
      raw: new Uint8Array(big),
      headers: { 'content-type': 'application/gzip' },
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.code, 'bundle_too_large');
    // Without a Content-Length the limit is enforced while streaming.
    const streamed = await call('POST', `${usApi}/deployments`, {
      token: issued.token,
      raw: Readable.toWeb(Readable.from([big])) as ReadableStream,
      headers: { 'content-type': 'application/gzip' },
    });
    assert.equal(streamed.status, 413);
    assert.equal(streamed.body.code, 'bundle_too_large');
    assert.deepEqual(await filesUnder(join(platform.dp('us-1').dataDir, 'artifacts')), []);
  });

  it('refuses a body sent as anything but a bundle with 415, and an empty one with 400', async () => {
    for (const [type, raw] of [
      ['application/json', '""'],
      ['application/json', '{"bundle": "x"}'],
      ['application/x-www-form-urlencoded', 'a=1'],
      ['text/plain', 'hello'],
    ] as const) {
      const answer = await call('POST', `${api}/deployments`, { token, raw, headers: { 'content-type': type } });
      assert.equal(answer.status, 415, `${type}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'unsupported_media_type');
    }
    const empty = await call('POST', `${api}/deployments`, {
      token,
      headers: { 'content-type': 'application/gzip' },
    });
    assert.equal(empty.status, 400, JSON.stringify(empty.body));
    assert.equal(empty.body.code, 'bundle_invalid');
  });

  it('checks a dry run fully and stores nothing', async () => {
    const before = await expectStatus(200, 'GET', `${api}/deployments`, { token });
    const dry = await upload(
      await packProject({
        'sovereign.yaml': 'jobs:\n  - name: hello\n    run: echo changed\n  - name: extra\n    run: echo new\n',
      }),
      '?dryRun=true',
    );
    assert.equal(dry.status, 200);
    assert.equal(dry.body.dryRun, true);
    assert.equal(dry.body.deploymentId, null);
    assert.deepEqual(dry.body.changes, { added: ['extra'], updated: ['hello'], unchanged: [], archived: [] });
    const after = await expectStatus(200, 'GET', `${api}/deployments`, { token });
    assert.deepEqual(after, before);
  });

  it('takes a 200 MB bundle with the data plane’s resident memory growing by less than 64 MB', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sov-big-'));
    try {
      await pipeline(
        Readable.from(
          (function* () {
            for (let i = 0; i < 200; i++) yield randomBytes(1024 * 1024);
          })(),
        ),
        createWriteStream(join(dir, 'big.bin')),
      );
      await pipeline(Readable.from([validManifest]), createWriteStream(join(dir, 'sovereign.yaml')));
      const pid = platform.dp('eu-1').service.process.pid ?? 0;
      const baseline = await rssKiB(pid, 'VmRSS');
      let peak = baseline;
      const sampler = setInterval(() => {
        void rssKiB(pid, 'VmRSS').then((kib) => {
          peak = Math.max(peak, kib);
        });
      }, 20);
      // tar's stream is not a Node Readable; it is async-iterable, which Readable.from takes.
      const packed = tar.c({ gzip: { level: 1 }, cwd: dir, portable: true }, ['sovereign.yaml', 'big.bin']);
      const body = Readable.from(packed as unknown as AsyncIterable<Buffer>);
      let answer: Awaited<ReturnType<typeof call<{ sizeBytes: number }>>>;
      try {
        answer = await call<{ sizeBytes: number }>('POST', `${api}/deployments`, {
          token,
          raw: Readable.toWeb(body) as ReadableStream,
          headers: { 'content-type': 'application/gzip' },
        });
      } finally {
        clearInterval(sampler);
      }
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.ok(answer.body.sizeBytes > 200 * 1024 * 1024, `uploaded ${answer.body.sizeBytes} bytes`);
      const grewMiB = (peak - baseline) / 1024;
      t.diagnostic(
        `data plane resident memory: ${(baseline / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB during the upload`,
      );
      assert.ok(grewMiB < 64, `resident memory grew by ${grewMiB.toFixed(1)} MiB`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves no bundle content, job command, variable or secret value in the control plane’s database', async () => {
    await expectStatus(200, 'PUT', `${api}/variables/PLAIN`, { token, body: { value: canary.plain } });
    await expectStatus(200, 'PUT', `${api}/variables/SECRET`, {
      token,
      body: { value: canary.secret, secret: true },
    });
    const deployed = await upload(
      await packProject({
        'sovereign.yaml': `jobs:\n  - name: canary\n    run: echo ${canary.command}\n    schedule: "0 3 * * *"\n`,
        'data.txt': canary.file,
      }),
    );
    assert.equal(deployed.status, 200);
    await platform.waitFor(async () => {
      const jobs = await call('GET', `${platform.cp}/workspaces/${eu.workspace.workspaceId}/jobs`, {
        token: eu.token,
      });
      return jobs.body.data?.some((j: { name: string }) => j.name === 'canary') === true;
    }, 'the deployment report to reach the control plane');
    await platform.controlPlane.stop('SIGTERM');
    try {
      const dump = await dumpDatabase(platform.controlPlaneDatabase);
      assert.ok(dump.includes(deployed.body.deploymentId), 'the dump holds the deployment’s metadata');
      for (const [what, value] of Object.entries(canary)) {
        assert.ok(!dump.includes(value), `the control plane database holds no ${what}`);
      }
    } finally {
      await platform.startControlPlane();
    }
  });
});
