import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { browse } from '../support/apps.ts';
import {
  assertPlain,
  type CliDev,
  cleanEnv,
  type DevPlatform,
  onTerminal,
  parsed,
  quote,
  repoRoot,
  sov,
  sovBin,
  sovOk,
  startCliDev,
  stopCliDev,
} from '../support/cli.ts';

const hello = join(repoRoot, 'examples/hello');

/**
 * The real `sov` against a real `sov dev`, as cli.test.ts, for what comes after the first
 * minutes: administering regions and data planes, organizations and workspaces, runs that
 * fail and retry, backfills, parameters, interactive jobs. The administrator is signed in
 * (configuration `human`, workspace demo in eu, examples/hello deployed) before they start.
 */
describe('the sov CLI against sov dev: administration and operations, real processes [pglite]', () => {
  let cli: Partial<CliDev> = {};
  let scratch: string;
  let dev: DevPlatform;
  let password: string;

  before(async () => {
    cli = await startCliDev();
    ({ scratch, dev, password } = cli as CliDev);
    const human = join(scratch, 'human');
    await sovOk(human, ['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], {
      input: password,
    });
    await sovOk(human, ['workspace', 'create', 'demo', '--region', 'eu']);
    await sovOk(human, ['deploy', hello]);
  });
  after(() => stopCliDev(cli));

  it('administers regions and data planes; sov control-plane and sov data-plane read their configuration from the environment', async () => {
    const config = join(scratch, 'admin');
    const run = (args: string[], input?: string) =>
      sovOk(config, ['--json', ...args], input === undefined ? {} : { input });
    await run(['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], password);
    const region = parsed(await run(['region', 'create', 'lab']));
    assert.equal(region.name, 'lab');
    const regions = await sovOk(config, ['region', 'list']);
    assert.match(regions.stdout, /^NAME\s+OWNER\s+ENABLED\s+CREATED\s+ID$/m);
    assert.match(regions.stdout, /^lab\s+\S+.*\s+yes\s+/m);

    const human = await sovOk(config, [
      'dataplane',
      'create',
      'lab-1',
      '--region',
      'lab',
      '--public-url',
      'https://lab-1.example.test',
    ]);
    assert.match(human.stdout, /Created data plane lab-1 in region lab\./);
    assert.match(human.stdout, /shown this once/);
    assert.match(human.stdout, /SOV_CLIENT_ID=[0-9a-f-]{36} /);
    assert.match(human.stdout, /SOV_CLIENT_SECRET=sov_dps\S+ /);
    assert.match(human.stdout, /SOV_PUBLIC_URL=https:\/\/lab-1\.example\.test /, 'the URL it was created with');
    const moved = parsed(await run(['dataplane', 'update', 'lab-1', '--public-url', 'https://lab-1b.example.test']));
    assert.equal(moved.publicUrl, 'https://lab-1b.example.test');
    const listed = parsed(await run(['dataplane', 'list', '--region', 'lab']));
    assert.deepEqual(
      listed.data.map((p: { name: string; regionName: string; status: string }) => [p.name, p.regionName, p.status]),
      [['lab-1', 'lab', 'unknown']],
      'registered, never heard from',
    );
    const table = await sovOk(config, ['dataplane', 'list']);
    assert.match(table.stdout, /^NAME\s+REGION\s+ENABLED\s+HEALTH\s+HEARTBEAT\s+URL\s+ID$/m);
    assert.match(table.stdout, /^eu-1\s+eu\s+yes\s+healthy\s+(just now|\d+s ago)\s+http:\/\/127\.0\.0\.1:\d+\s+/m);

    const disabled = parsed(await run(['dataplane', 'update', 'lab-1', '--disable']));
    assert.equal(disabled.enabled, false);
    const renamed = parsed(await run(['region', 'update', 'lab', '--name', 'lab-renamed', '--disable']));
    assert.deepEqual([renamed.name, renamed.enabled], ['lab-renamed', false]);
    const refused = await sov(config, ['workspace', 'create', 'nowhere', '--region', 'lab-renamed']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[region_disabled\]/);
    assert.equal(parsed(await run(['dataplane', 'delete', 'lab-1'])).name, 'lab-1');
    assert.equal(parsed(await run(['region', 'delete', 'lab-renamed'])).name, 'lab-renamed');
    assert.deepEqual(
      parsed(await run(['dataplane', 'list']))
        .data.map((p: { name: string }) => p.name)
        .sort(),
      ['eu-1', 'us-1'],
    );

    // sov dev runs these two for real; here, that they are the services, reading the environment.
    const controlPlane = await sov(config, ['control-plane'], { env: { SOV_PORT: 'eighty' } });
    assert.equal(controlPlane.code, 1);
    assert.match(controlPlane.stderr, /^configuration: SOV_PORT must be a whole number/m);
    const dataPlane = await sov(config, ['data-plane'], { env: { SOV_CLIENT_ID: undefined } });
    assert.equal(dataPlane.code, 1);
    assert.match(dataPlane.stderr, /^configuration: SOV_CLIENT_ID is required/m);
  });

  it('starts an interactive job and prints its app’s own address, which lets no one in by itself; a second trigger finds the running one', async () => {
    const config = join(scratch, 'human'); // signed in, current workspace demo
    const deployed = parsed(
      await sovOk(config, ['--json', 'deploy', join(repoRoot, 'examples/interactive-echo'), '--yes']),
    );
    assert.deepEqual(deployed.changes.archived, ['hello'], '--yes archives without asking');
    const started = await sovOk(config, ['job', 'trigger', 'echo']);
    assertPlain(started, 'job trigger of an interactive job');
    assert.match(started.stdout, /^echo is running: run [0-9a-f]{8}\.$/m);
    const link = /^ {2}(http:\/\/([0-9a-f-]{36})\.apps\.localhost:(\d+)\/)$/m.exec(started.stdout);
    assert.ok(link !== null, started.stdout);
    assert.doesNotMatch(started.stdout, /token=|ticket=/, 'no credential in what a user may paste anywhere');

    // A browser opening it is sent to the dashboard, to be let in as the user signed in there.
    const opened = await browse(link[1] ?? '');
    assert.equal(opened.status, 303);
    assert.ok(opened.location?.startsWith(`http://127.0.0.1:${dev.port}/runs/${link[2]}/open?state=`), opened.location);
    assert.ok(opened.setCookies.some((cookie) => cookie.startsWith('sov_launch=')));

    const again = parsed(await sovOk(config, ['--json', 'job', 'trigger', 'echo']));
    assert.equal(again.existing, true, 'the job allows one at a time: the running one is answered');
    assert.equal(again.appUrl, link[1]);
    assert.equal(again.status, 'running');
    await sovOk(config, ['run', 'cancel', again.runId]);
  });

  it('keeps an organization in the data region chosen at its creation: sov org create --region, and sov login for a user with none', async () => {
    const api = `${dev.url}/api/public/v1`;
    const post = async (path: string, token: string | undefined, body: unknown) => {
      const response = await fetch(`${api}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, `POST ${path}`);
      return (await response.json()) as any;
    };
    const admin = (await post('/auth/login', undefined, { email: 'admin@localhost', password })).accessToken;
    const newcomer = 'newcomer@example.test';
    const scripted = 'scripted@example.test';
    for (const email of [newcomer, scripted]) await post('/users', admin, { email, password: 'newcomer-password' });

    // On a terminal: offered an organization, and asked its region among those there are.
    const config = join(scratch, 'newcomer');
    const terminal = onTerminal(['login', '--email', newcomer], { SOV_CONFIG_DIR: config, SOV_API_URL: dev.url });
    await terminal.waitFor('Password: ');
    terminal.type('newcomer-password\r');
    await terminal.waitFor('Create an organization named (empty: not now): ');
    terminal.type('acme-eu\r');
    await terminal.waitFor('Its data region (eu, us)');
    terminal.type('eu\r');
    assert.equal(await terminal.exitCode(), 0, terminal.screen());
    assert.match(terminal.screen(), /You belong to no organization yet/);
    assert.match(terminal.screen(), /Created organization .*acme-eu/);
    assert.match(terminal.screen(), /Every workspace of it keeps its data in eu, for good/);
    assert.match((await sovOk(config, ['org', 'list'])).stdout, /^acme-eu\s+owner\s+eu\s+/m);
    const made = await sovOk(config, ['workspace', 'create', 'pipelines']);
    assert.match(made.stdout, /Created workspace pipelines in region eu/, 'the organization’s region by default');
    const elsewhere = await sov(config, ['workspace', 'create', 'abroad', '--region', 'us']);
    assert.notEqual(elsewhere.code, 0);
    assert.match(elsewhere.stderr, /keeps its data in region eu, for good/);
    assert.match(elsewhere.stderr, /\[organization_region_mismatch\]/);

    // Without a terminal, flags do the same.
    const flags = join(scratch, 'scripted');
    const login = await sovOk(
      flags,
      ['login', '--api', dev.url, '--email', scripted, '--password-stdin', '--create-org', 'acme-us', '--region', 'us'],
      { input: 'newcomer-password' },
    );
    assert.match(login.stdout, /Created organization acme-us/);
    const listed = parsed(await sovOk(flags, ['--json', 'org', 'list'])).data;
    assert.deepEqual(
      listed.map((o: { name: string; dataResidency: string | null }) => [o.name, o.dataResidency]),
      [['acme-us', 'us']],
    );
    const created = parsed(await sovOk(flags, ['--json', 'org', 'create', 'anywhere'])).dataResidency;
    assert.equal(created, null, 'an organization without a region lets each workspace pick');
  });

  it('stops quietly when its reader goes away (sov logs <run> | head -2), as git and gh do', async () => {
    const config = join(scratch, 'human'); // signed in
    await sovOk(config, ['workspace', 'create', 'pipes', '--region', 'eu', '--no-use']);
    const project = join(scratch, 'chatty');
    await cp(hello, project, { recursive: true });
    await writeFile(
      join(project, 'sovereign.yaml'),
      'jobs:\n  - name: chatty\n    run: for i in $(seq 1 3000); do echo "line $i of a long log, long enough to fill a pipe"; done\n',
    );
    await sovOk(config, ['-w', 'pipes', 'deploy', project]);
    await sovOk(config, ['-w', 'pipes', 'job', 'trigger', 'chatty', '--follow']); // exit 0: it succeeded
    const [run] = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'run', 'list'])).data;
    const piped = spawn(
      'bash',
      [
        '-c',
        `set -o pipefail; ${[process.execPath, sovBin, '-w', 'pipes', 'logs', run.runId].map(quote).join(' ')} | head -2`,
      ],
      { cwd: repoRoot, env: cleanEnv({ SOV_CONFIG_DIR: config }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    piped.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    piped.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(piped, 'close')) as [number | null];
    assert.equal(stdout.trim().split('\n').length, 2, stdout);
    assert.equal(stderr, '', 'no EPIPE, no stack trace');
    assert.equal(code, 0, 'the pipeline succeeds');
  });

  it('follows a failed run through its retries to the attempt that ends it, and says when each starts', async () => {
    const config = join(scratch, 'human'); // signed in; workspace pipes made by the test before
    const project = join(scratch, 'flaky');
    await cp(hello, project, { recursive: true });
    await writeFile(
      join(project, 'sovereign.yaml'),
      'jobs:\n  - name: flaky\n    run: echo "attempt $SOV_ATTEMPT"; test "$SOV_ATTEMPT" -ge 2\n    retries: 2\n    retry_delay: 1s\n' +
        '  - name: slowpoke\n    run: sleep 60\n    timeout: 1s\n',
    );
    // In place of the pipe test's job, archived without a question.
    await sovOk(config, ['-w', 'pipes', 'deploy', project, '--yes']);
    const followed = await sov(config, ['-w', 'pipes', 'job', 'trigger', 'flaky', '--follow']);
    assert.equal(followed.code, 0, `the second attempt succeeded\n${followed.stderr}`);
    assert.match(followed.stdout, /attempt 1[\s\S]*attempt 2/);
    assert.match(followed.stderr, /✗ Run [0-9a-f]{8} of flaky failed \(exit 1\)/);
    assert.match(followed.stderr, /Attempt 2 of 3 (in \d+s|now): run [0-9a-f]{8}\. Following it…/);
    assert.match(followed.stderr, /✓ Run [0-9a-f]{8} of flaky succeeded/);
    const listed = await sovOk(config, ['-w', 'pipes', 'run', 'list']);
    assert.match(listed.stdout, /flaky\s+succeeded\s+retry, attempt 2/, 'runs lists say attempt 2');
    assert.doesNotMatch(listed.stdout, /#2/);
    const info = await sovOk(config, ['-w', 'pipes', 'job', 'info', 'flaky']);
    assert.match(info.stdout, /^retries\s+2, 1s apart at first, ×2 each time$/m);
    assert.match(info.stdout, /^next run\s+-$/m, 'a manual job has no next run');
    const [last] = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'run', 'list'])).data;
    const traversal = await sov(config, ['-w', 'pipes', 'outputs', 'get', last.runId, '../../etc/passwd']);
    assert.equal(traversal.code, 2, traversal.stderr);
    assert.match(traversal.stderr, /"\.\.\/\.\.\/etc\/passwd" is not an output's path/);

    // A status reads as words where people read it (the code, timed_out, stays in --json).
    const slow = await sov(config, ['-w', 'pipes', 'job', 'trigger', 'slowpoke', '--follow']);
    assert.equal(slow.code, 11, slow.stderr);
    assert.match(slow.stderr, /✗ Run [0-9a-f]{8} of slowpoke timed out/);
    const slowRuns = await sovOk(config, ['-w', 'pipes', 'run', 'list', '--job', 'slowpoke']);
    assert.match(slowRuns.stdout, /^[0-9a-f]{8}\s+slowpoke\s+timed out\s+manual\s/m);
    const [timedOut] = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'run', 'list', '--job', 'slowpoke'])).data;
    assert.equal(timedOut.status, 'timed_out');
    assert.match((await sovOk(config, ['-w', 'pipes', 'run', 'info', timedOut.runId])).stdout, /^status\s+timed out$/m);
    const jobsListed = await sovOk(config, ['-w', 'pipes', 'job', 'list']);
    assert.match(jobsListed.stdout, /^slowpoke\s+batch\s+manual\s+-\s+1s\s+0\s+timed out /m);
    assert.doesNotMatch(slowRuns.stdout + jobsListed.stdout, /timed_out/);
  });

  it('backfills a daily job: one run per day, two at a time, each seeing its interval; again, nothing to run', async () => {
    const config = join(scratch, 'human'); // signed in; workspace pipes made by the test before
    const project = join(scratch, 'daily');
    await cp(hello, project, { recursive: true });
    await writeFile(
      join(project, 'sovereign.yaml'),
      'jobs:\n  - name: sync\n    run: echo "from $SOV_INTERVAL_START to $SOV_INTERVAL_END"\n    schedule: "0 0 * * *"\n',
    );
    await sovOk(config, ['-w', 'pipes', 'deploy', project, '--yes']);
    // A scheduled job says when it runs next (the control plane's nextRunAt): the next midnight UTC.
    const scheduled = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'job', 'list'])).data.find(
      (j: { name: string }) => j.name === 'sync',
    );
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    assert.equal(scheduled.nextRunAt, midnight.toISOString());
    const jobInfo = await sovOk(config, ['-w', 'pipes', 'job', 'info', 'sync']);
    assert.match(
      jobInfo.stdout,
      new RegExp(`^next run\\s+in \\d+(h|m|s) ${scheduled.nextRunAt.replaceAll('.', '\\.')}$`, 'm'),
    );
    assert.match(
      (await sovOk(config, ['-w', 'pipes', 'job', 'list'])).stdout,
      /^sync\s+batch\s+cron 0 0 \* \* \*\s+in \d+(h|m|s)\s/m,
    );
    const args = ['-w', 'pipes', 'job', 'backfill', 'sync', '--from', '2026-11-01', '--to', '2026-11-04'];
    const followed = await sov(config, [...args, '--follow']);
    assert.equal(followed.code, 0, `every run succeeded\n${followed.stderr}`);
    assertPlain(followed, 'backfill --follow');
    assert.match(
      followed.stderr,
      /^Backfill [0-9a-f]{8} of sync: 3 intervals, 3 to run \(0 already succeeded\), 2 at a time$/m,
    );
    assert.match(followed.stderr, /^Backfill [0-9a-f]{8} of sync done: 3 succeeded, 0 failed\.$/m);
    const listed = await sovOk(config, ['-w', 'pipes', 'run', 'list', '--job', 'sync']);
    for (const day of ['2026-11-01 → 2026-11-02', '2026-11-02 → 2026-11-03', '2026-11-03 → 2026-11-04']) {
      assert.match(listed.stdout, new RegExp(`sync\\s+succeeded\\s+backfill .*${day}`), listed.stdout);
    }
    const runs = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'run', 'list', '--job', 'sync'])).data;
    const info = await sovOk(config, ['-w', 'pipes', 'run', 'info', runs[0].runId]);
    assert.match(info.stdout, /^interval\s+2026-11-0\d → 2026-11-0\d$/m);
    const logs = await sovOk(config, ['-w', 'pipes', 'logs', runs[0].runId]);
    assert.equal(logs.stdout.trim(), `from ${runs[0].intervalStart} to ${runs[0].intervalEnd}`);

    // The same range again: every day already succeeded.
    const again = parsed(await sovOk(config, ['-w', 'pipes', '--json', ...args]));
    assert.deepEqual([again.intervals, again.toRun, again.skipped, again.status], [3, 0, 3, 'done']);
    const list = await sovOk(config, ['-w', 'pipes', 'backfill', 'list', 'sync']);
    assert.match(list.stdout, new RegExp(`${again.backfillId.slice(0, 8)}\\s+sync\\s+2026-11-01 → 2026-11-04\\s+done`));
    const shown = await sovOk(config, ['-w', 'pipes', 'backfill', 'info', again.backfillId.slice(0, 8)]);
    assert.match(shown.stdout, /^intervals\s+3, 0 to run \(3 skipped\)$/m);
    const bad = await sov(config, [
      '-w',
      'pipes',
      'job',
      'backfill',
      'sync',
      '--from',
      'yesterday',
      '--to',
      '2026-11-04',
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /The range’s start "yesterday" is not a date/);
  });

  it('triggers a run with parameters (--param, --params-file) kept on the data plane; the job reads them, run info shows them', async () => {
    const config = join(scratch, 'human'); // signed in; workspace pipes made by a test before
    const project = join(scratch, 'params');
    await cp(hello, project, { recursive: true });
    await writeFile(
      join(project, 'sovereign.yaml'),
      'jobs:\n  - name: report\n    run: echo "since=$SOV_PARAM_SINCE limit=$SOV_PARAM_LIMIT"; cat "$SOV_PARAMS_FILE"\n    params:\n      - { name: since, type: date, required: true }\n      - { name: limit, type: integer, default: 10 }\n',
    );
    await sovOk(config, ['-w', 'pipes', 'deploy', project, '--yes']);
    const followed = await sov(config, [
      '-w',
      'pipes',
      'job',
      'trigger',
      'report',
      '-p',
      'since=2026-01-01',
      '--follow',
    ]);
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, /^since=2026-01-01 limit=10$/m);

    const wrong = await sov(config, ['-w', 'pipes', 'job', 'trigger', 'report', '--param', 'since=yesterday']);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /parameters_invalid/);
    assert.match(wrong.stderr, /since must be a date such as 2026-01-31/);
    const malformed = await sov(config, ['-w', 'pipes', 'job', 'trigger', 'report', '--param', 'since']);
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /give it as name=value/);

    const file = join(scratch, 'params.json');
    await writeFile(file, JSON.stringify({ since: '2026-02-01', limit: 5 }));
    const run = parsed(
      await sovOk(config, ['-w', 'pipes', '--json', 'job', 'trigger', 'report', '--params-file', file]),
    );
    assert.match(run.parametersId, /^[0-9a-f-]{36}$/, 'the control plane’s run carries an id');
    assert.ok(!JSON.stringify(run).includes('2026-02-01'), 'and not the values');
    const info = await sovOk(config, ['-w', 'pipes', 'run', 'info', run.runId]);
    assert.match(info.stdout, /^parameters\s+limit=5 since=2026-02-01$/m);
    const json = parsed(await sovOk(config, ['-w', 'pipes', '--json', 'run', 'info', run.runId]));
    assert.deepEqual(json.parameters, { since: '2026-02-01', limit: 5 });
  });

  it('manages organizations and workspaces, cancels a run, removes a variable (runs last: it adds an organization)', async () => {
    const config = join(scratch, 'human'); // signed in, current workspace demo
    const run = (args: string[]) => sovOk(config, args);
    assert.match(
      (await run(['org', 'create', 'acme'])).stdout,
      /Created organization acme \([0-9a-f-]{36}\); you are its owner\./,
    );
    assert.match((await run(['org', 'list'])).stdout, /^acme\s+owner\s+any\s+(just now|\d+s ago)\s+[0-9a-f-]{36}$/m);
    const ops = await run(['workspace', 'create', 'ops', '--region', 'eu', '--org', 'acme']);
    assert.match(ops.stdout, /Created workspace ops in region eu \(data plane eu-1, organization acme\)/);
    assert.match(
      (await run(['workspace', 'use', 'demo'])).stdout,
      /Now using workspace demo \(region eu\) in profile default\./,
    );
    assert.match((await run(['whoami'])).stdout, /^workspace\s+demo$/m);

    const project = join(scratch, 'slow');
    await cp(hello, project, { recursive: true });
    await writeFile(
      join(project, 'sovereign.yaml'),
      'jobs:\n  - name: slow\n    run: echo started; sleep 60\n    timeout: 10m\n',
    );
    await run(['-w', 'ops', 'deploy', project]);
    assert.match((await run(['-w', 'ops', 'job', 'pause', 'slow'])).stdout, /^Paused slow: its due times are skipped/m);
    assert.match((await run(['-w', 'ops', 'job', 'list'])).stdout, /^slow\s+batch\s+manual \(paused\)/m);
    assert.equal(parsed(await run(['-w', 'ops', '--json', 'job', 'resume', 'slow'])).paused, false);
    const info = await run(['-w', 'ops', 'job', 'info', 'slow']);
    assert.match(info.stdout, /^timeout\s+10m$/m);
    assert.match(info.stdout, /No runs yet: sov job trigger slow/);
    const triggered = parsed(await run(['-w', 'ops', '--json', 'job', 'trigger', 'slow']));
    const cancel = await run(['-w', 'ops', 'run', 'cancel', triggered.runId]);
    assert.match(cancel.stdout, /(is cancelled|Cancelling run [0-9a-f]{8} of slow: its data plane stops it)/);
    const followed = await sov(config, ['-w', 'ops', 'logs', triggered.runId, '--follow']);
    assert.equal(followed.code, 12, `a cancelled run exits 12\n${followed.stderr}`);
    assert.match(followed.stderr, /✗ Run [0-9a-f]{8} of slow cancelled/);

    await run(['-w', 'ops', 'vars', 'set', 'TEMPORARY', 'x']);
    assert.match(
      (await run(['-w', 'ops', 'vars', 'rm', 'TEMPORARY'])).stdout,
      /Removed TEMPORARY from workspace ops\./,
    );
    assert.match((await run(['-w', 'ops', 'vars', 'list'])).stdout, /No variables yet/);
    const missing = await sov(config, ['-w', 'ops', 'vars', 'rm', 'TEMPORARY']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[variable_not_found\]/);
  });
});
