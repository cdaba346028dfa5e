import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import '../support/localhost.ts';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';

/**
 * A run's parameters (issue 20): declared in sovereign.yaml, stored and checked on the
 * workspace's data plane, triggered at the control plane by id, given to the job as
 * environment variables and a JSON file. The residency suite proves the values never
 * reach the control plane; this one proves they reach the job.
 */
const show = `
const fs = require('node:fs');
const env = Object.keys(process.env).filter((k) => k.startsWith('SOV_PARAM')).sort();
for (const name of env) if (name !== 'SOV_PARAMS_FILE') console.log(name + '=' + process.env[name]);
console.log('file ' + (process.env.SOV_PARAMS_FILE === undefined ? 'none' : fs.readFileSync(process.env.SOV_PARAMS_FILE, 'utf8')));
if (process.env.SOV_JOB === 'flaky' && process.env.SOV_ATTEMPT === '1') process.exit(1);
`;
const project = {
  'sovereign.yaml': `jobs:
  - name: sync
    run: node show.js
    params:
      - { name: since, type: date, required: true }
      - { name: limit, type: integer, default: 100 }
      - { name: dry_run, type: boolean }
      - { name: label, description: free text }
  - name: flaky
    run: node show.js
    retries: 1
    retry_delay: 0s
    params:
      - { name: region_code }
  - name: plain
    run: node show.js
`,
  'show.js': show,
};

const target = flowTarget();

describe(`run parameters: checked and kept on the data plane, given to the job [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let dp: string;
  let ws: string;
  let jobs: Record<string, string>;

  before(async () => {
    platform = await Platform.start(target);
    t = await platform.tenant('eu', 'params');
    ws = t.workspace.workspaceId;
    await platform.waitUntilHosted(t.token, ws);
    const issued = await platform.scopedToken(t.token, ws, dataScopes);
    token = issued.token;
    dp = `${issued.dataplane.url}/api/v1`;
    ({ jobs } = await platform.deploy(t.token, ws, project));
  });
  after(async () => {
    await platform?.stop();
  });

  const store = (job: string, values: unknown) =>
    call('POST', `${dp}/workspaces/${ws}/parameters`, { token, body: { job, values } });

  /** Waits for a run to end; answers it as the control plane has it, and its log lines from the data plane. */
  async function ended(runId: string) {
    let run: any;
    await platform.waitFor(async () => {
      run = (await call('GET', `${platform.cp}/runs/${runId}`, { token: t.token })).body;
      return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(run.status);
    }, `run ${runId} to end`);
    const logs = await expectStatus(200, 'GET', `${dp}/runs/${runId}/logs`, { token });
    return { run, lines: logs.data.map((l: { line: string }) => l.line) as string[] };
  }

  it('checks values against the declaration: unknown, missing, wrong type, each named; fills defaults', async () => {
    const refused = await store('sync', { sincee: '2026-01-01', limit: 'ten', dry_run: 'maybe' });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(refused.body.code, 'parameters_invalid');
    assert.deepEqual(
      refused.body.problems.map((p: { name: string; problem: string }) => `${p.name} ${p.problem}`),
      ['sincee unknown', 'limit wrong_type', 'dry_run wrong_type', 'since missing'],
    );
    const undeclared = await store('plain', { anything: 'x' });
    assert.equal(undeclared.body.code, 'parameters_invalid', 'a job that declares none takes none');
    const noJob = await store('nosuch', {});
    assert.equal(noJob.status, 404);
    assert.equal(noJob.body.code, 'job_not_found');
    const tooMany = await store('sync', Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, 'x'])));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.code, 'validation_failed');

    const stored = await store('sync', { since: '2026-01-01', dry_run: true });
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    assert.deepEqual(stored.body.values, { since: '2026-01-01', dry_run: true, limit: 100 });
    const read = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/parameters/${stored.body.parametersId}`, {
      token,
    });
    assert.deepEqual(read, stored.body);

    // Another workspace's token does not find them, even on the same data plane.
    const other = await platform.tenant('eu', 'params-other');
    await platform.waitUntilHosted(other.token, other.workspace.workspaceId);
    const stranger = (await platform.scopedToken(other.token, other.workspace.workspaceId, dataScopes)).token;
    const hidden = await call(
      'GET',
      `${dp}/workspaces/${other.workspace.workspaceId}/parameters/${stored.body.parametersId}`,
      { token: stranger },
    );
    assert.equal(hidden.status, 404);
    assert.equal(hidden.body.code, 'parameters_not_found');
  });

  it('gives a run its values as SOV_PARAM_* and as JSON in SOV_PARAMS_FILE; the run carries their id only', async () => {
    const stored = await store('sync', { since: '2026-01-01', limit: '25', label: 'quarterly report' });
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    const { parametersId } = stored.body;
    const triggered = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.sync}/runs`, {
      token: t.token,
      body: { parametersId },
    });
    assert.equal(triggered.parametersId, parametersId);
    const { run, lines } = await ended(triggered.runId);
    assert.equal(run.status, 'succeeded', lines.join('\n'));
    assert.deepEqual(lines.slice(0, 3), [
      'SOV_PARAM_LABEL=quarterly report',
      'SOV_PARAM_LIMIT=25',
      'SOV_PARAM_SINCE=2026-01-01',
    ]);
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.deepEqual(JSON.parse((lines[3] ?? '').replace(/^file /, '')), {
      since: '2026-01-01',
      limit: 25,
      label: 'quarterly report',
    });
    assert.ok(!JSON.stringify(run).includes('quarterly'), 'the control plane’s run has the id, not the values');
    const shown = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/parameters/${run.parametersId}`, { token });
    assert.deepEqual(shown.values, { since: '2026-01-01', limit: 25, label: 'quarterly report' });
  });

  it('refuses values in the trigger itself: its body takes an id and nothing else', async () => {
    for (const body of [{ values: { since: '2026-01-01' } }, { parametersId: 'not-an-id' }, { since: '2026-01-01' }]) {
      const answer = await call('POST', `${platform.cp}/jobs/${jobs.sync}/runs`, { token: t.token, body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.code, 'validation_failed');
    }
  });

  it('gives a retry the same parameters, and a job that declares none no variables and no file', async () => {
    const stored = await store('flaky', { region_code: 'eu-west' });
    const first = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.flaky}/runs`, {
      token: t.token,
      body: { parametersId: stored.body.parametersId },
    });
    assert.equal((await ended(first.runId)).run.status, 'failed');
    let retry: any;
    await platform.waitFor(async () => {
      const listed = await call('GET', `${platform.cp}/runs?jobId=${jobs.flaky}`, { token: t.token });
      retry = listed.body.data.find((r: { attempt: number }) => r.attempt === 2);
      return retry !== undefined;
    }, 'the retry');
    assert.equal(retry.parametersId, stored.body.parametersId);
    const again = await ended(retry.runId);
    assert.equal(again.run.status, 'succeeded', again.lines.join('\n'));
    assert.deepEqual(again.lines, ['SOV_PARAM_REGION_CODE=eu-west', 'file {"region_code":"eu-west"}']);

    // A job that declares none, triggered without: no variables, no file.
    const bare = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.plain}/runs`, { token: t.token });
    assert.equal(bare.parametersId, null);
    assert.deepEqual((await ended(bare.runId)).lines, ['file none']);
  });

  it('fails a run whose parameters id is not of its job, or misses a required value, with a reason code', async () => {
    // Parameters stored for one job, handed to a run of another: the data plane does not take them.
    const stored = await store('flaky', { region_code: 'x' });
    const misused = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.sync}/runs`, {
      token: t.token,
      body: { parametersId: stored.body.parametersId },
    });
    const first = await ended(misused.runId);
    assert.equal(first.run.status, 'failed');
    assert.equal(first.run.reasonCode, 'parameters_missing');
    assert.deepEqual(first.lines, ['sovereign: the run did not start: its parameters are not on this data plane']);

    // Triggered without its required value (the control plane cannot know): the data plane refuses to start it.
    const bare = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.sync}/runs`, { token: t.token });
    const second = await ended(bare.runId);
    assert.equal(second.run.reasonCode, 'parameters_invalid');
    assert.deepEqual(second.lines, [
      "sovereign: the run did not start: its parameters do not match the job's: since is required",
    ]);
  });
});
