import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlPlaneClient, DataPlaneClient, ScopedTokens } from '@sovereign/client';
import { databaseTargets, flowTarget } from '@sovereign/server-kit/testing';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { maskText } from '../../packages/data-plane/src/logs/mask.ts';
import { appUrlOf } from '../support/apps.ts';
import { dumpDatabase, dumpFiles } from '../support/dump.ts';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';
import { endOf, packProject, readEvents } from '../support/projects.ts';

/**
 * The residency proof. The whole platform runs as real processes, with a recording
 * proxy (the tap) in front of the control plane: data planes and clients reach it only
 * through the tap. A tenant puts a unique canary string in every class of customer data
 * of its eu workspace and runs its jobs every way a run can go (manual, scheduled,
 * failing, cancelled). Then no canary, in any form it could travel as, may be found in
 * the control plane's database, in anything the control plane received or sent, in its
 * own log output, or in the other region's data plane storage. Each class is first
 * shown to be really there, in its own region, so that none of these checks is vacuous.
 */

const mark = (label: string) => `CANARY-${label}-${randomBytes(9).toString('hex')}`;

/** The state a suite's checks read: the platform, the eu tenant, its token and jobs, and its runs. */
interface World {
  platform: Platform;
  workspaceId: string;
  /** The eu workspace's data plane API, and the workspace's part of it. */
  dp: string;
  ws: string;
  token: string;
  userToken: string;
  jobs: Record<string, string>;
  runs: Record<'manual' | 'scheduled' | 'failing' | 'cancelled', string>;
}

/**
 * One class of customer data: its canary, what it adds to the tenant's project and
 * variables, and how a client sees it in its own region (which must show the canary, so
 * the absence checks below are about a value that really exists). A new class (an
 * interactive job's response, once interactive jobs exist) is one more entry of
 * `canaryClasses`: it brings its files, jobs and variables, and its `seenInRegion` may
 * start what makes the canary flow; every absence check then covers it.
 */
interface CanaryClass {
  name: string;
  /** The values that must stay in the region. */
  values: string[];
  files?: Record<string, string>;
  /** Manifest entries (YAML, two-space indented list items). */
  jobs?: string[];
  variables?: Array<{ name: string; value: string; secret: boolean }>;
  seenInRegion(w: World): Promise<void>;
}

const canary = {
  file: mark('FILE'),
  command: mark('COMMAND'),
  plain: mark('PLAIN'),
  secret: mark('SECRET'),
  secretLine: mark('PEMLINE'),
  stdout: mark('STDOUT'),
  stderr: mark('STDERR'),
  failure: mark('FAILURE'),
  output: mark('OUTPUT'),
  state: mark('STATE'),
  app: mark('APP'),
  param: mark('PARAM'),
  paramDefault: mark('PARAMDEFAULT'),
};
const pem = `-----BEGIN SOV TEST KEY-----\n${canary.secretLine}\n-----END SOV TEST KEY-----`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The job behind most classes: it reads a bundle file, prints to both streams (its
 * secrets in every form the executor masks), leaves an output and saves state.
 */
const produceJs = `
const fs = require('node:fs');
const crypto = require('node:crypto');
const pause = () => new Promise((r) => setTimeout(r, 20));
(async () => {
  console.log('command argument: ' + process.argv[2]);
  console.log('bundle file: ' + fs.readFileSync('data/canary.txt', 'utf8').trim());
  console.log('plain variable: ' + process.env.PLAIN_SETTING);
  console.log('stdout line: ${canary.stdout}');
  console.error('stderr line: ${canary.stderr}');
  const s = process.env.API_SECRET;
  console.log('form:plain:' + s);
  process.stdout.write('form:split:' + s.slice(0, 9));
  await pause();
  process.stdout.write(s.slice(9) + '\\n');
  console.log('form:base64:' + Buffer.from(s).toString('base64'));
  console.log('form:base64url:' + Buffer.from(s).toString('base64url'));
  for (const prefix of ['', 'a', 'ab']) {
    console.log('form:inner' + prefix.length + ':' + Buffer.from(prefix + s + '!tail').toString('base64'));
  }
  console.error('form:stderr:' + s);
  for (const line of process.env.PEM_SECRET.split('\\n')) console.log('form:pem:' + line);
  console.log('secret digest: ' + crypto.createHash('sha256').update(s).digest('hex'));
  const out = process.env.SOV_OUTPUT_DIR;
  fs.writeFileSync(out + '/report-${canary.output}.txt', 'output file: ${canary.output}\\n');
  fs.writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ cursor: '${canary.state}' }));
})();
`;

const canaryClasses: CanaryClass[] = [
  {
    name: 'file contents of a deployed bundle',
    values: [canary.file],
    files: { 'data/canary.txt': `${canary.file}\n`, 'produce.js': produceJs },
    async seenInRegion(w) {
      assert.ok((await logText(w, w.runs.manual)).includes(`bundle file: ${canary.file}`));
    },
  },
  {
    name: 'a job command',
    values: [canary.command],
    jobs: [
      `  - name: produce\n    run: node produce.js ${canary.command}\n    timeout: 5m\n`,
      `  - name: scheduled\n    run: node produce.js ${canary.command}\n    every: 10s\n`,
    ],
    async seenInRegion(w) {
      const deployments = await expectStatus(200, 'GET', `${w.ws}/deployments`, { token: w.token });
      const { manifest } = await expectStatus(
        200,
        'GET',
        `${w.ws}/deployments/${deployments.data[0].deploymentId}/manifest`,
        { token: w.token },
      );
      assert.ok(manifest.includes(`run: node produce.js ${canary.command}`));
      assert.ok((await logText(w, w.runs.scheduled)).includes(`command argument: ${canary.command}`));
    },
  },
  {
    name: 'a plain variable',
    values: [canary.plain],
    variables: [{ name: 'PLAIN_SETTING', value: canary.plain, secret: false }],
    async seenInRegion(w) {
      const listed = await expectStatus(200, 'GET', `${w.ws}/variables`, { token: w.token });
      assert.ok(listed.data.some((v: { value?: string }) => v.value === canary.plain));
      assert.ok((await logText(w, w.runs.manual)).includes(`plain variable: ${canary.plain}`));
    },
  },
  {
    name: 'a secret',
    values: [canary.secret, canary.secretLine],
    variables: [
      { name: 'API_SECRET', value: canary.secret, secret: true },
      { name: 'PEM_SECRET', value: pem, secret: true },
    ],
    async seenInRegion(w) {
      // Write-only: the job got the right value, and nothing shows it.
      assert.ok((await logText(w, w.runs.manual)).includes(`secret digest: ${sha256(canary.secret)}`));
      const listed = await expectStatus(200, 'GET', `${w.ws}/variables`, { token: w.token });
      assert.ok(!JSON.stringify(listed).includes(canary.secret));
    },
  },
  {
    name: 'log lines (stdout and stderr)',
    values: [canary.stdout, canary.stderr],
    files: {
      'slow.js': `console.log('stdout line: ${canary.stdout}'); console.error('stderr line: ${canary.stderr}'); setInterval(() => {}, 1000);\n`,
    },
    jobs: ['  - name: slow\n    run: node slow.js\n'],
    async seenInRegion(w) {
      for (const run of [w.runs.manual, w.runs.scheduled, w.runs.cancelled]) {
        const lines = await logLines(w, run);
        assert.ok(
          lines.some((l) => l.stream === 'stdout' && l.line === `stdout line: ${canary.stdout}`),
          run,
        );
        assert.ok(
          lines.some((l) => l.stream === 'stderr' && l.line === `stderr line: ${canary.stderr}`),
          run,
        );
      }
    },
  },
  {
    name: "a job's failure output",
    values: [canary.failure],
    files: { 'fail.js': `console.error('about to fail'); throw new Error('${canary.failure}');\n` },
    jobs: ['  - name: failing\n    run: node fail.js\n'],
    async seenInRegion(w) {
      assert.ok((await logText(w, w.runs.failing)).includes(`Error: ${canary.failure}`));
    },
  },
  {
    name: 'an output file',
    values: [canary.output],
    async seenInRegion(w) {
      const outputs = await expectStatus(200, 'GET', `${w.dp}/runs/${w.runs.manual}/outputs`, { token: w.token });
      const path = `report-${canary.output}.txt`;
      assert.deepEqual(
        outputs.data.map((o: { path: string }) => o.path),
        [path],
      );
      const file = await call('GET', `${w.dp}/runs/${w.runs.manual}/outputs/${path}`, { token: w.token });
      assert.equal(file.body, `output file: ${canary.output}\n`);
    },
  },
  {
    // Made by the app as it answers (the bundle holds it reversed), so only its responses
    // carry it, and the log line the app writes when it serves one.
    name: "an interactive job's response",
    values: [canary.app],
    files: {
      'app.js': `const said = ${JSON.stringify([...canary.app].reverse().join(''))}.split('').reverse().join('');
require('node:http')
  .createServer((req, res) => { console.log('served ' + said); res.end('app says ' + said); })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    },
    jobs: ['  - name: app\n    kind: interactive\n    run: node app.js\n'],
    async seenInRegion(w) {
      const cp = w.platform.cp;
      const run = await expectStatus(200, 'POST', `${cp}/jobs/${w.jobs.app}/runs`, { token: w.userToken });
      const status = async () =>
        (await expectStatus(200, 'GET', `${cp}/runs/${run.runId}`, { token: w.userToken })).status;
      await w.platform.waitFor(async () => (await status()) === 'running', 'the app to answer');
      const { url } = await expectStatus(200, 'GET', `${cp}/runs/${run.runId}`, { token: w.userToken });
      assert.ok(url.startsWith(w.platform.dp('eu-1').url), 'the app is reached at its own data plane');
      const { token } = await w.platform.scopedToken(w.userToken, w.workspaceId, ['interactive']);
      const app = await appUrlOf(url);
      assert.ok(new URL(app).port === new URL(url).port, 'the app’s own origin is its data plane');
      const answer = await call('GET', `${app}any/path`, { token });
      assert.equal(answer.body, `app says ${canary.app}`);
      await expectStatus(200, 'POST', `${cp}/runs/${run.runId}/cancel`, { token: w.userToken });
      await w.platform.waitFor(async () => (await status()) === 'cancelled', 'the app to stop');
    },
  },
  {
    // Given at the trigger (issue 20): stored on the data plane, the run triggered with their id only.
    name: 'run parameters (a value given, and a declared default)',
    values: [canary.param, canary.paramDefault],
    files: {
      'params.js': `const fs = require('node:fs');
console.log('parameter: ' + process.env.SOV_PARAM_NOTE + ' ' + process.env.SOV_PARAM_ORIGIN);
console.log('parameters file: ' + fs.readFileSync(process.env.SOV_PARAMS_FILE, 'utf8'));
`,
    },
    jobs: [
      `  - name: with_params\n    run: node params.js\n    params:\n      - { name: note, required: true }\n      - { name: origin, default: ${canary.paramDefault} }\n`,
    ],
    async seenInRegion(w) {
      // Through the clients' own code, as the CLI and the dashboard give parameters: the
      // values to the data plane, the id to the control plane.
      const cp = new ControlPlaneClient({ url: w.platform.controlPlaneUrl, credential: () => w.userToken });
      const dp = new DataPlaneClient(new ScopedTokens(cp), w.workspaceId, ['runs:trigger', 'runs:parameters']);
      const stored = await dp.storeParameters('with_params', { note: canary.param });
      const run = await cp.trigger(w.jobs.with_params as string, { parametersId: stored.parametersId });
      await w.platform.waitFor(
        async () => (await cp.run(run.runId)).status === 'succeeded',
        'the run with parameters to succeed',
      );
      assert.ok((await logText(w, run.runId)).includes(`parameter: ${canary.param} ${canary.paramDefault}`));
      const shown = await dp.parameters(run.parametersId as string);
      assert.deepEqual(shown.values, { note: canary.param, origin: canary.paramDefault });
    },
  },
  {
    name: 'job state',
    values: [canary.state],
    async seenInRegion(w) {
      const { state } = await expectStatus(200, 'GET', `${w.ws}/jobs/produce/state`, { token: w.token });
      assert.deepEqual(state, { cursor: canary.state });
    },
  },
];

/**
 * Every form a value could travel or rest as: as is, hex (bytea), base64 and base64url,
 * whole and inside a longer encoded text at each byte offset it can start at (there, only
 * the 3-byte groups that hold nothing but its bytes encode the same whatever surrounds
 * them). Derived here, not taken from the masker, so a masker that misses a form is caught.
 */
function forms(value: string): string[] {
  const bytes = Buffer.from(value);
  const out = [value, bytes.toString('hex')];
  for (const skip of [0, 1, 2]) {
    const groups = bytes.subarray(skip, skip + Math.floor((bytes.length - skip) / 3) * 3);
    out.push(groups.toString('base64'), groups.toString('base64url'));
  }
  out.push(bytes.toString('base64'), bytes.toString('base64url'));
  return [...new Set(out)];
}

/** The canaries (and the forms) found in a text, as `class: form` for a readable failure. */
function leaks(text: string, classes = canaryClasses): string[] {
  const found: string[] = [];
  for (const c of classes) {
    for (const value of c.values) {
      for (const form of forms(value)) if (text.includes(form)) found.push(`${c.name}: ${form}`);
    }
  }
  return found;
}

async function logLines(w: World, runId: string): Promise<Array<{ stream: string; line: string }>> {
  const answer = await expectStatus(200, 'GET', `${w.dp}/runs/${runId}/logs?limit=10000`, { token: w.token });
  return answer.data;
}

async function logText(w: World, runId: string): Promise<string> {
  return (await logLines(w, runId)).map((l) => l.line).join('\n');
}

/**
 * On each database with the data planes' files on their disks, and once (on PostgreSQL when
 * there is one) with each region's data plane keeping them in a bucket of its own (a real S3
 * protocol server on loopback per region): the same checks, and the buckets' object names and
 * bytes searched as the data planes' files are.
 */
const variants = [
  ...databaseTargets().map((target) => ({ target, objectStorage: false, label: target.name })),
  { target: flowTarget(), objectStorage: true, label: `${flowTarget().name}, object storage` },
];

for (const { target, objectStorage, label } of variants) {
  describe(`residency: canaries in every data class stay in their region, real processes [${label}]`, () => {
    let platform: Platform;
    let w: World;
    /** Each region's bucket, by data plane name, in the object storage variant. */
    const buckets = new Map<string, TestObjectStorage>();
    /** What a data plane stores: its database, its files, and its bucket's objects when it has one. */
    const storedBy = async (name: string) => {
      const plane = platform.dp(name);
      const bucket = buckets.get(name);
      return [
        await dumpDatabase(plane.database),
        await dumpFiles(plane.dataDir),
        bucket === undefined ? '' : await dumpFiles(bucket.directory),
      ].join('\n');
    };
    /** A marker only the us workspace holds: the other region's dump is of a data plane with data. */
    const usMarker = mark('US-ONLY');

    /** The data planes' master keys (base64, base64url or hex) found in a text: the control plane never sees one. */
    const masterKeysIn = (text: string) =>
      [...platform.dataplanes.values()].flatMap((plane) => {
        const raw = Buffer.from(plane.env.SOV_MASTER_KEY ?? '', 'base64');
        assert.equal(raw.length, 32);
        return [raw.toString('base64'), raw.toString('base64url'), raw.toString('hex')]
          .filter((form) => text.includes(form))
          .map((form) => `${plane.name}: ${form}`);
      });
    const runStatus = async (runId: string) =>
      (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: w.userToken })).status as string;
    const until = (runId: string, status: string, what: string, timeoutMs?: number) =>
      platform.waitFor(async () => (await runStatus(runId)) === status, what, timeoutMs);

    before(async () => {
      if (objectStorage) {
        for (const name of ['us-1', 'eu-1']) buckets.set(name, await startObjectStorage(`sovereign-${name}`));
      }
      platform = await Platform.start(target, {
        tap: true,
        // Log lines move to the bucket as soon as their run ends: the bucket is searched for them too.
        perDataplaneEnv: Object.fromEntries(
          [...buckets].map(([name, bucket]) => [name, { ...bucket.env('region'), SOV_LOG_ARCHIVE_AFTER_SECONDS: '0' }]),
        ),
      });
      const eu = await platform.tenant('eu', 'residency');
      const issued = await platform.scopedToken(eu.token, eu.workspace.workspaceId, dataScopes);
      assert.equal(issued.dataplane.url, platform.dp('eu-1').url, 'clients talk to the data plane directly');
      const dp = `${issued.dataplane.url}/api/v1`;
      w = {
        platform,
        workspaceId: eu.workspace.workspaceId,
        dp,
        ws: `${dp}/workspaces/${eu.workspace.workspaceId}`,
        token: issued.token,
        userToken: eu.token,
        jobs: {},
        runs: { manual: '', scheduled: '', failing: '', cancelled: '' },
      };
      // The same organization's us workspace, with data of its own.
      const us = await platform.workspace(eu.token, eu.organizationId, 'us', 'residency-us');
      await platform.waitUntilHosted(eu.token, eu.workspace.workspaceId);
      await platform.waitUntilHosted(eu.token, us.workspaceId);
      const usToken = (await platform.scopedToken(eu.token, us.workspaceId, ['variables:write'])).token;
      await expectStatus(
        200,
        'PUT',
        `${platform.dp('us-1').url}/api/v1/workspaces/${us.workspaceId}/variables/US_ONLY`,
        {
          token: usToken,
          body: { value: usMarker },
        },
      );
    });
    after(async () => {
      await platform?.stop();
      for (const bucket of buckets.values()) await bucket.close();
    });

    it('plants a canary in every data class, runs jobs every way, and sees each canary in its own region', async () => {
      for (const c of canaryClasses) {
        for (const v of c.variables ?? []) {
          await expectStatus(200, 'PUT', `${w.ws}/variables/${v.name}`, {
            token: w.token,
            body: { value: v.value, secret: v.secret },
          });
        }
      }
      const manifest = `jobs:\n${canaryClasses.flatMap((c) => c.jobs ?? []).join('')}`;
      const files = Object.assign({ 'sovereign.yaml': manifest }, ...canaryClasses.map((c) => c.files ?? {}));
      await expectStatus(200, 'POST', `${w.ws}/deployments`, {
        token: w.token,
        raw: new Uint8Array(await packProject(files)),
        headers: { 'content-type': 'application/gzip' },
      });
      const jobCount = canaryClasses.flatMap((c) => c.jobs ?? []).length;
      const jobsUrl = `${platform.cp}/workspaces/${w.workspaceId}/jobs`;
      await platform.waitFor(
        async () => (await call('GET', jobsUrl, { token: w.userToken })).body.data?.length === jobCount,
        'the jobs to reach the control plane',
      );
      const listed = await expectStatus(200, 'GET', jobsUrl, { token: w.userToken });
      w.jobs = Object.fromEntries(listed.data.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
      const trigger = async (job: string) =>
        (await expectStatus(200, 'POST', `${platform.cp}/jobs/${w.jobs[job]}/runs`, { token: w.userToken }))
          .runId as string;

      // Manual: its logs followed live from the data plane, secrets masked in the stream too.
      w.runs.manual = await trigger('produce');
      await platform.waitFor(
        async () => (await call('GET', `${w.dp}/runs/${w.runs.manual}/logs`, { token: w.token })).status === 200,
        'the manual run to reach eu-1',
      );
      const streamed = await readEvents(
        await fetch(`${w.dp}/runs/${w.runs.manual}/logs?follow=true`, {
          headers: { authorization: `Bearer ${w.token}` },
        }),
      );
      assert.deepEqual(endOf(streamed), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });
      assert.deepEqual(leaks(JSON.stringify(streamed), secretClasses()), [], 'no secret in the streamed logs');
      await until(w.runs.manual, 'succeeded', 'the manual run to succeed');

      // Failing, and cancelled while running (after it printed its canaries).
      w.runs.failing = await trigger('failing');
      w.runs.cancelled = await trigger('slow');
      await platform.waitFor(async () => {
        const answer = await call('GET', `${w.dp}/runs/${w.runs.cancelled}/logs`, { token: w.token });
        return answer.status === 200 && answer.body.data.length >= 2;
      }, 'the slow run to print');
      await expectStatus(200, 'POST', `${platform.cp}/runs/${w.runs.cancelled}/cancel`, { token: w.userToken });
      await until(w.runs.failing, 'failed', 'the failing run to fail');
      await until(w.runs.cancelled, 'cancelled', 'the slow run to be cancelled');

      // Scheduled: every 10 s from the deployment; one run is enough, then the schedule is paused.
      await platform.waitFor(
        async () => {
          const runs = await call('GET', `${platform.cp}/runs?jobId=${w.jobs.scheduled}`, { token: w.userToken });
          const done = runs.body.data?.find(
            (r: { trigger: string; status: string }) => r.trigger === 'schedule' && r.status === 'succeeded',
          );
          w.runs.scheduled = done?.runId ?? '';
          return done !== undefined;
        },
        'a scheduled run to succeed',
        60_000,
      );
      await expectStatus(200, 'PATCH', `${platform.cp}/jobs/${w.jobs.scheduled}`, {
        token: w.userToken,
        body: { paused: true },
      });

      const failed = await expectStatus(200, 'GET', `${platform.cp}/runs/${w.runs.failing}`, { token: w.userToken });
      assert.deepEqual([failed.exitCode, failed.reasonCode], [1, 'exit_nonzero'], 'a code, never the text');
      for (const c of canaryClasses) await c.seenInRegion(w);
    });

    it('R7: masks secrets in stored logs in every form the executor knows', async () => {
      for (const run of [w.runs.manual, w.runs.scheduled]) {
        const lines = (await logLines(w, run)).filter((l) => l.line.startsWith('form:'));
        const kinds = new Set(lines.map((l) => l.line.split(':')[1]));
        assert.deepEqual([...kinds].sort(), [
          'base64',
          'base64url',
          'inner0',
          'inner1',
          'inner2',
          'pem',
          'plain',
          'split',
          'stderr',
        ]);
        for (const { line } of lines) assert.ok(line.includes(maskText), `not masked: ${line}`);
        assert.deepEqual(leaks(JSON.stringify(lines), secretClasses()), []);
      }
    });

    it('R8: the other region’s data plane holds none of it (database and files)', async () => {
      const us1 = platform.dp('us-1');
      await us1.service.stop('SIGTERM');
      const storage = await storedBy('us-1');
      assert.ok(storage.includes(usMarker), 'the dump holds what us-1 stores (control)');
      assert.deepEqual(leaks(storage), []);
    });

    it('R7: the workspace’s own data plane holds every canary but the secrets, in its database and files', async () => {
      const eu1 = platform.dp('eu-1');
      await eu1.service.stop('SIGTERM');
      const storage = await storedBy('eu-1');
      const held = leaks(storage);
      for (const c of canaryClasses.filter((c) => !secretClasses().includes(c))) {
        assert.ok(
          held.some((l) => l.startsWith(`${c.name}: `)),
          `eu-1's storage holds ${c.name} (control): the dump sees it`,
        );
      }
      assert.deepEqual(leaks(storage, secretClasses()), [], 'no secret in any form at rest');
      assert.deepEqual(leaks(eu1.service.output(), secretClasses()), [], 'nor in the data plane’s own log output');
    });

    // Only with object storage: on disk, the files are searched with the data plane's own above.
    if (objectStorage) {
      it('R7: bundles, outputs and archived log lines rest in the region’s bucket, under names that carry no customer text', async () => {
        const eu = buckets.get('eu-1') as TestObjectStorage;
        await platform.waitFor(
          async () => (await eu.objectNames()).some((n) => n.startsWith(`region/logs/${w.runs.manual}/`)),
          'the run’s log lines to be archived to the bucket',
        );
        const names = await eu.objectNames();
        assert.ok(
          names.some((n) => n.startsWith('region/bundles/')),
          `a bundle is stored (control): ${names}`,
        );
        assert.ok(
          names.some((n) => n.startsWith(`region/outputs/${w.runs.manual}/`)),
          `the output is stored (control): ${names}`,
        );
        const usNames = await (buckets.get('us-1') as TestObjectStorage).objectNames();
        assert.deepEqual(leaks([...names, ...usNames].join('\n')), [], 'no canary in an object name');
        // The bucket really holds them: the bundle's file (inside the gzip), the output's bytes.
        const held = leaks(await dumpFiles(eu.directory));
        for (const name of ['file contents of a deployed bundle', 'an output file']) {
          assert.ok(
            held.some((l) => l.startsWith(`${name}: `)),
            `the bucket holds ${name}`,
          );
        }
        // The log objects alone (the lines' canary is in the bundle's script too): read inside their Zstandard.
        const logObjects = leaks(await dumpFiles(join(eu.directory, eu.bucket, 'region', 'logs')));
        assert.ok(
          logObjects.some((l) => l.startsWith('log lines (stdout and stderr): ')),
          `the archived log objects hold the run's lines: ${logObjects}`,
        );
        assert.deepEqual(leaks(await dumpFiles(eu.directory), secretClasses()), [], 'no secret in any object');
      });
    }

    it('R7: a restart with the wrong master key fails loudly; the right key serves the secrets again', async () => {
      const eu1 = platform.dp('eu-1');
      const rightKey = eu1.env.SOV_MASTER_KEY;
      eu1.env.SOV_MASTER_KEY = randomBytes(32).toString('base64');
      await assert.rejects(platform.startDataPlane(eu1), (error: Error) => {
        assert.match(error.message, /exited before it was ready \(1\)/);
        assert.match(error.message, /the master key does not match the one this data plane's secrets were sealed with/);
        return true;
      });
      eu1.env.SOV_MASTER_KEY = rightKey as string;
      await platform.startDataPlane(eu1);
      const runId = (
        await expectStatus(200, 'POST', `${platform.cp}/jobs/${w.jobs.produce}/runs`, { token: w.userToken })
      ).runId as string;
      await until(runId, 'succeeded', 'a run after the restart');
      const text = await logText(w, runId);
      assert.ok(text.includes(`secret digest: ${sha256(canary.secret)}`), 'the job got the right secret');
      assert.deepEqual(leaks(text, secretClasses()), []);
    });

    it('R2, R5, R6: nothing the control plane received or sent (the tap) holds a canary', async () => {
      for (const plane of platform.dataplanes.values()) await plane.service.stop('SIGTERM');
      const tap = platform.tap;
      assert.ok(tap !== undefined);
      const seen = tap.exchanges.map((e) => e.url);
      for (const path of ['/runs/claim', '/runs/events', '/deployments/report', '/dataplanes/heartbeat']) {
        assert.ok(
          seen.some((url) => url.includes(path)),
          `the tap saw the data planes' ${path} (control)`,
        );
      }
      assert.ok(
        seen.some((url) => url.endsWith('/dataplane-token')),
        'and the clients’ calls (control)',
      );
      const text = tap.text();
      for (const runId of Object.values(w.runs)) assert.ok(text.includes(runId), `the tap saw run ${runId}`);
      assert.deepEqual(leaks(text), []);
      assert.deepEqual(masterKeysIn(text), [], 'nor a data plane’s master key (R7)');
    });

    it('R1, R5: the control plane’s own log output holds no canary', async () => {
      await platform.controlPlane.stop('SIGTERM');
      const output = platform.controlPlaneOutput();
      assert.ok(output.includes(w.runs.cancelled), 'the control plane logged its requests (control)');
      assert.deepEqual(leaks(output), []);
      assert.deepEqual(masterKeysIn(output), []);
    });

    it('R1, R5, R6: the control plane’s database (every table, and its files on PGlite) holds no canary', async () => {
      const dump = await dumpDatabase(platform.controlPlaneDatabase);
      for (const runId of Object.values(w.runs)) assert.ok(dump.includes(runId), `the dump holds run ${runId}`);
      assert.deepEqual(leaks(dump), []);
      assert.deepEqual(masterKeysIn(dump), [], 'nor a data plane’s master key (R7)');
    });
  });
}

/** The classes whose values must not even rest in their own region in plain text. */
function secretClasses(): CanaryClass[] {
  return canaryClasses.filter((c) => c.name === 'a secret');
}
