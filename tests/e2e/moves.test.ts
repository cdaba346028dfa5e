import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { cleanEnv, onTerminal, repoRoot, type SovResult, sov, sovBin } from '../support/cli.ts';
import { call, expectStatus, Platform } from '../support/platform.ts';
import { type Exchange, Tap } from '../support/tap.ts';

/**
 * Moving a workspace from `us` to `eu` with the real `sov` (issue 22), on the real
 * platform: a recording proxy in front of the control plane (the residency suite's tap),
 * and another in front of the eu data plane (its public URL: every client reaches it
 * there). The move is killed halfway and run again, then the moved job runs in eu with
 * the same variables, the secret given again and the state it had; the old workspace's
 * schedule no longer fires; nothing of the data passed through the control plane, and
 * the eu data plane heard only the client.
 */

const mark = (label: string) => `CANARY-${label}-${randomBytes(9).toString('hex')}`;
const canary = {
  file: mark('FILE'),
  greeting: mark('GREETING'),
  note: mark('NOTE'),
  secret: mark('SECRET'),
  state: mark('STATE'),
  output: mark('OUTPUT'),
};
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `report` prints the variables, a digest of the secret (its value is masked in logs) and
 * the state it starts from, then saves a state made from a string of its code reversed,
 * so the state's canary is in no file and no variable. `tick` runs every 10 s.
 */
const project = {
  'sovereign.yaml': `jobs:
  - name: report
    run: node report.js
  - name: tick
    run: node tick.js
    every: 10s
  - name: quiet
    run: node tick.js
    every: 10s
`,
  'data/canary.txt': `${canary.file}\n`,
  'report.js': `const fs = require('node:fs');
const crypto = require('node:crypto');
const before = JSON.parse(fs.readFileSync(process.env.SOV_STATE_FILE, 'utf8'));
console.log('region: ' + process.env.SOV_WORKSPACE_ID);
console.log('greeting: ' + process.env.GREETING);
console.log('note: ' + process.env.REGION_NOTE);
console.log('secret digest: ' + crypto.createHash('sha256').update(process.env.API_SECRET ?? '').digest('hex'));
console.log('state before: ' + JSON.stringify(before));
console.log('bundle file: ' + fs.readFileSync('data/canary.txt', 'utf8').trim());
const cursor = ${JSON.stringify([...canary.state].reverse().join(''))}.split('').reverse().join('');
fs.writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ cursor, runs: (before.runs ?? 0) + 1 }));
const report = ${JSON.stringify([...canary.output].reverse().join(''))}.split('').reverse().join('');
fs.writeFileSync(process.env.SOV_OUTPUT_DIR + '/report.txt', 'report: ' + report + '\\n');
`,
  'tick.js': `console.log('tick');\n`,
};

/** Every form a value could travel in: as is, hex, base64 and base64url. */
function forms(value: string): string[] {
  const bytes = Buffer.from(value);
  return [value, bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
}

/** The exchanges' bodies both ways and headers, as text to search. */
function bodiesOf(exchanges: Exchange[]): string {
  return exchanges
    .map((e) =>
      [
        e.url,
        JSON.stringify(e.requestHeaders),
        Buffer.concat(e.requestBody).toString('latin1'),
        JSON.stringify(e.responseHeaders),
        Buffer.concat(e.responseBody).toString('latin1'),
      ].join('\n'),
    )
    .join('\n');
}

/** The claims of a bearer JWT an exchange carried (unverified: the data plane verified it). */
function bearerClaims(exchange: Exchange): { sub?: string; ws?: string; aud?: string } | undefined {
  const header = exchange.requestHeaders.authorization;
  const token = /^Bearer (\S+)$/.exec(String(header ?? ''))?.[1];
  const payload = token?.split('.')[1];
  if (payload === undefined) return undefined;
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** `sov` as a child, killed with SIGKILL the moment its output holds `line`: what it printed by then. */
async function sovKilledAt(configDir: string, args: string[], env: Record<string, string>, line: RegExp) {
  const child = spawn(process.execPath, [sovBin, ...args], {
    cwd: repoRoot,
    env: cleanEnv({ SOV_CONFIG_DIR: configDir, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let printed = '';
  let killed = false;
  const watch = (chunk: Buffer) => {
    printed += chunk.toString();
    if (!killed && line.test(printed)) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  return { code, signal, printed };
}

// A whole flow: the moves' storage is the control plane's moves suite's, on both databases.
const target = flowTarget();

describe(`sov workspace move: us to eu by the client, killed halfway and resumed, real processes [${target.name}]`, () => {
  let platform: Platform;
  let euTap: Tap;
  let config: string;
  let env: Record<string, string>;
  let owner: Awaited<ReturnType<Platform['tenant']>>;
  let oldId: string;
  let oldJobs: Record<string, string>;
  let oldDeployment: string;
  /** The old workspace's run of report, whose output the move copies. */
  let firstRun: string;
  /** A token that could deploy to the old workspace, issued before the move. */
  let preMoveDeployToken: string;
  let move: any;
  let second: SovResult;
  /** Where each tap's recording of the move begins and ends. */
  const window = { cp: [0, 0], eu: [0, 0] };
  /** The new workspace's variables after the kill, as the second run found them. */
  let afterKill: Array<{ name: string; updatedAt: string }> = [];

  const cp = () => platform.cp;
  const runOf = async (jobId: string, status = 'succeeded') => {
    const { runId } = await expectStatus(200, 'POST', `${cp()}/jobs/${jobId}/runs`, { token: owner.token });
    await platform.waitFor(
      async () => (await expectStatus(200, 'GET', `${cp()}/runs/${runId}`, { token: owner.token })).status === status,
      `run ${runId} to be ${status}`,
      60_000,
    );
    return runId as string;
  };
  const logText = async (url: string, workspaceId: string, runId: string) => {
    const { token } = await platform.scopedToken(owner.token, workspaceId, ['runs:logs']);
    const page = await expectStatus(200, 'GET', `${url}/api/v1/runs/${runId}/logs?limit=1000`, { token });
    return page.data.map((l: { line: string }) => l.line).join('\n') as string;
  };
  const scheduledRuns = async (jobId: string) =>
    (await expectStatus(200, 'GET', `${cp()}/runs?jobId=${jobId}&limit=200`, { token: owner.token })).data.filter(
      (r: { trigger: string }) => r.trigger === 'schedule',
    ) as Array<{ runId: string; queuedAt: string }>;

  before(async () => {
    // The eu data plane's public URL is a tap, pointed at it once it has a port.
    euTap = await Tap.start('http://127.0.0.1:9');
    platform = await Platform.start(target, {
      tap: true,
      perDataplaneEnv: { 'eu-1': { SOV_PUBLIC_URL: euTap.url } },
    });
    euTap.retarget(platform.dp('eu-1').url);
    config = await mkdtemp(join(tmpdir(), 'sov-move-'));
    owner = await platform.tenant('us', 'mover');
    oldId = owner.workspace.workspaceId;
    env = { SOV_API_URL: platform.controlPlaneUrl, SOV_TOKEN: owner.token, NO_COLOR: '1' };

    const deployed = await platform.deploy(owner.token, oldId, project);
    oldJobs = deployed.jobs;
    oldDeployment = deployed.deploymentId;
    const issued = await platform.scopedToken(owner.token, oldId, ['variables:write', 'deployments:write']);
    preMoveDeployToken = issued.token;
    const us = `${platform.dp('us-1').url}/api/v1/workspaces/${oldId}`;
    for (const [name, value, secret] of [
      ['GREETING', canary.greeting, false],
      ['REGION_NOTE', canary.note, false],
      ['API_SECRET', canary.secret, true],
    ] as const) {
      await expectStatus(200, 'PUT', `${us}/variables/${name}`, { token: issued.token, body: { value, secret } });
    }
    await expectStatus(200, 'PATCH', `${cp()}/jobs/${oldJobs.quiet}`, { token: owner.token, body: { paused: true } });
    firstRun = await runOf(oldJobs.report as string);
    const log = await logText(platform.dp('us-1').url, oldId, firstRun);
    assert.ok(log.includes(`greeting: ${canary.greeting}`), log);
    // The schedule fires in us before the move (the control of the check that it stops).
    await platform.waitFor(
      async () => (await scheduledRuns(oldJobs.tick as string)).length > 0,
      'a scheduled tick in us',
      60_000,
    );
  });
  after(async () => {
    await platform?.stop();
    await euTap?.close();
    await rm(config, { recursive: true, force: true });
  });

  it('shows in a dry run what would be copied, with sizes, and the secrets to give again; changes nothing', async () => {
    const dry = await sov(
      config,
      ['workspace', 'move', 'mover-ws', '--to', 'eu', '--dry-run', '--with-outputs', '100'],
      {
        env,
      },
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^Dry run: nothing was changed\. Moving mover-ws \(region us\) to region eu would:$/m);
    assert.match(dry.stdout, /create workspace mover-ws-eu in eu/);
    assert.match(
      dry.stdout,
      new RegExp(
        `copy the bundle of deployment ${oldDeployment.slice(0, 8)}: [\\d.]+ (B|kB) \\(sha256:[0-9a-f]{64}\\)`,
      ),
    );
    assert.match(dry.stdout, /copy 2 variables: GREETING, REGION_NOTE/);
    // Every job a run of which succeeded has a state: report's, and tick's (empty).
    assert.match(dry.stdout, /copy the state of 2 jobs: report \(\d+ B\), tick \(2 B\)/);
    assert.match(dry.stdout, /set 1 secret again, given anew \(never read back\): API_SECRET/);
    assert.match(dry.stdout, /copy the outputs of 1 run: 1 file, \d+ B/);
    const json = JSON.parse(
      (await sov(config, ['workspace', 'move', 'mover-ws', '--to', 'eu', '--dry-run', '--json'], { env })).stdout,
    );
    assert.deepEqual(json.plan.states, [
      {
        job: 'report',
        state: { cursor: canary.state, runs: 1 },
        sizeBytes: JSON.stringify({ cursor: canary.state, runs: 1 }).length,
      },
      { job: 'tick', state: {}, sizeBytes: 2 },
    ]);
    assert.deepEqual(json.plan.secrets, ['API_SECRET']);

    // Without a terminal, secrets must come from somewhere: refused before anything changes.
    const refused = await sov(config, ['workspace', 'move', 'mover-ws', '--to', 'eu'], { env });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /never read back/);
    assert.match(refused.stderr, /--secrets-from FILE/);
    const old = await expectStatus(200, 'GET', `${cp()}/workspaces/${oldId}`, { token: owner.token });
    assert.equal(old.movedTo, null, 'no move was started');
  });

  it('moves, killed after the bundle was uploaded, and after the variables were set, and run again: completes with nothing twice', async () => {
    const secrets = join(config, 'secrets.env');
    await writeFile(secrets, `# given again for the move\nAPI_SECRET=${canary.secret}\n`, { mode: 0o600 });
    const args = ['workspace', 'move', 'mover-ws', '--to', 'eu', '--secrets-from', secrets, '--with-outputs', '100'];
    window.cp[0] = platform.tap?.exchanges.length ?? 0;
    window.eu[0] = euTap.exchanges.length;

    const killed = await sovKilledAt(config, args, env, /Bundle uploaded to mover-ws-eu/);
    assert.equal(killed.signal, 'SIGKILL', killed.printed);
    assert.match(killed.printed, /✓ Move started: workspace mover-ws-eu \(region eu\) made/);
    assert.doesNotMatch(killed.printed, /Moved workspace/, 'killed before the end');
    const halfway = await expectStatus(200, 'GET', `${cp()}/workspaces/${oldId}`, { token: owner.token });
    assert.equal(halfway.movedTo.status, 'in_progress');
    const newId = halfway.movedTo.toWorkspaceId as string;

    // Run again, and killed again once the variables and the secret are set.
    const again = await sovKilledAt(config, args, env, /Secrets: /);
    assert.equal(again.signal, 'SIGKILL', again.printed);
    assert.match(again.printed, /= Bundle already in mover-ws-eu/);
    assert.match(again.printed, /✓ Variables: 2 copied \(GREETING, REGION_NOTE\)/);
    assert.match(again.printed, /✓ Secrets: 1 copied \(API_SECRET\)/);
    const { token: euRead } = await platform.scopedToken(owner.token, newId, ['variables:read']);
    afterKill = (await expectStatus(200, 'GET', `${euTap.url}/api/v1/workspaces/${newId}/variables`, { token: euRead }))
      .data;
    assert.equal(afterKill.length, 3, 'the second run set them all before it was killed');

    second = await sov(config, args, { env });
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    window.cp[1] = platform.tap?.exchanges.length ?? 0;
    window.eu[1] = euTap.exchanges.length;
    assert.match(second.stderr, /✓ Resuming the move of mover-ws to mover-ws-eu \(region eu\)/);
    assert.match(second.stderr, /= Bundle already in mover-ws-eu: deployment/, 'the bundle is not uploaded twice');
    assert.match(second.stderr, /= Variables: 2 already there \(GREETING, REGION_NOTE\)/, 'nor the variables set');
    assert.match(second.stderr, /= Secrets: 1 already there \(API_SECRET\)/, 'nor the secret');
    assert.match(second.stderr, new RegExp(`✓ Outputs: 1 copied \\(${firstRun.slice(0, 8)}/report\\.txt\\)`));
    assert.match(second.stdout, /✓ Moved workspace mover-ws \(us\) to mover-ws-eu in region eu\./);
    assert.match(second.stdout, /Jobs resumed: report, tick/);
    assert.match(second.stdout, /Paused, as before: quiet/);

    const old = await expectStatus(200, 'GET', `${cp()}/workspaces/${oldId}`, { token: owner.token });
    move = old.movedTo;
    assert.equal(move.status, 'completed');
    assert.equal(move.moveId, halfway.movedTo.moveId, 'one move, resumed');
    const workspaces = await expectStatus(200, 'GET', `${cp()}/workspaces?organizationId=${owner.organizationId}`, {
      token: owner.token,
    });
    assert.deepEqual(
      workspaces.data.map((w: { name: string; dataResidency: string }) => [w.name, w.dataResidency]),
      [
        ['mover-ws', 'us'],
        ['mover-ws-eu', 'eu'],
      ],
      'one new workspace',
    );

    // One deployment in the new workspace, on its data plane and on the control plane, with the old one's digest.
    const { token: euToken } = await platform.scopedToken(owner.token, newId, [
      'deployments:read',
      'variables:read',
      'state:read',
    ]);
    const eu = `${euTap.url}/api/v1/workspaces/${newId}`;
    const euDeployments = (await expectStatus(200, 'GET', `${eu}/deployments`, { token: euToken })).data;
    const cpDeployments = (
      await expectStatus(200, 'GET', `${cp()}/workspaces/${newId}/deployments`, { token: owner.token })
    ).data;
    const oldDigest = (
      await expectStatus(200, 'GET', `${cp()}/workspaces/${oldId}/deployments`, { token: owner.token })
    ).data[0].digest;
    assert.deepEqual(
      euDeployments.map((d: { digest: string }) => d.digest),
      [oldDigest],
    );
    assert.deepEqual(
      cpDeployments.map((d: { digest: string }) => d.digest),
      [oldDigest],
    );

    // Variables once: each one set by the killed run kept its time; the secret is set, and listed by name only.
    const variables = (await expectStatus(200, 'GET', `${eu}/variables`, { token: euToken })).data;
    assert.deepEqual(
      variables.map((v: { name: string; secret: boolean; value?: string }) => [v.name, v.secret, v.value]),
      [
        ['API_SECRET', true, undefined],
        ['GREETING', false, canary.greeting],
        ['REGION_NOTE', false, canary.note],
      ],
    );
    for (const before of afterKill) {
      const now = variables.find((v: { name: string }) => v.name === before.name);
      assert.equal(now?.updatedAt, before.updatedAt, `${before.name} was not set again`);
    }
    // The state as it was, set by the move (no run of the new workspace made it).
    const state = await expectStatus(200, 'GET', `${eu}/jobs/report/state`, { token: euToken });
    assert.deepEqual([state.state, state.updatedByRun], [{ cursor: canary.state, runs: 1 }, null]);

    // Run again once completed: it says so, and changes nothing.
    const third = await sov(config, args, { env });
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /was moved to mover-ws-eu in region eu already/);
  });

  it('runs the moved job in eu with the same variables, the secret given again and the state it had', async () => {
    const jobs = await expectStatus(200, 'GET', `${cp()}/workspaces/${move.toWorkspaceId}/jobs`, {
      token: owner.token,
    });
    const byName = Object.fromEntries(jobs.data.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
    const runId = await runOf(byName.report);
    const run = await expectStatus(200, 'GET', `${cp()}/runs/${runId}`, { token: owner.token });
    assert.equal(run.dataplaneId, platform.dp('eu-1').dataplaneId, 'it ran in eu');
    const log = await logText(euTap.url, move.toWorkspaceId, runId);
    assert.ok(log.includes(`greeting: ${canary.greeting}`), log);
    assert.ok(log.includes(`note: ${canary.note}`), log);
    assert.ok(log.includes(`secret digest: ${sha256(canary.secret)}`), `the secret given again: ${log}`);
    const before = /^state before: (.*)$/m.exec(log)?.[1];
    assert.deepEqual(JSON.parse(before ?? 'null'), { cursor: canary.state, runs: 1 }, 'the state it had');
    assert.ok(log.includes(`bundle file: ${canary.file}`), log);
  });

  it('stops the old workspace: its schedule no longer fires, it takes no deploy, trigger or write', async () => {
    const newJobs = await expectStatus(200, 'GET', `${cp()}/workspaces/${move.toWorkspaceId}/jobs`, {
      token: owner.token,
    });
    const newTick = newJobs.data.find((j: { name: string }) => j.name === 'tick').jobId;
    // Two due times of the new tick (over 10 s apart): the old one, every 10 s too, had its chances.
    await platform.waitFor(async () => (await scheduledRuns(newTick)).length >= 2, 'two scheduled ticks in eu', 60_000);
    const lateOld = (await scheduledRuns(oldJobs.tick as string)).filter(
      (r) => Date.parse(r.queuedAt) > Date.parse(move.startedAt),
    );
    assert.deepEqual(lateOld, [], 'no scheduled run of the old workspace since the move started');

    const trigger = await call('POST', `${cp()}/jobs/${oldJobs.report}/runs`, { token: owner.token });
    assert.equal(trigger.status, 409, JSON.stringify(trigger.body));
    assert.equal(trigger.body.code, 'workspace_moved');
    assert.equal(trigger.body.movedTo.toWorkspaceId, move.toWorkspaceId);
    const token = await call('POST', `${cp()}/workspaces/${oldId}/dataplane-token`, {
      token: owner.token,
      body: { scopes: ['deployments:write'] },
    });
    assert.equal(token.status, 409, JSON.stringify(token.body));
    assert.equal(token.body.code, 'workspace_moved');
    // A token that could deploy, issued before the move, was revoked when it started.
    const upload = () =>
      call('POST', `${platform.dp('us-1').url}/api/v1/workspaces/${oldId}/deployments`, {
        token: preMoveDeployToken,
        raw: new Uint8Array(Buffer.from('not even a bundle')),
        headers: { 'content-type': 'application/gzip' },
      });
    await platform.waitFor(async () => (await upload()).status === 401, 'the pre-move token to be refused');
    const refused = await upload();
    assert.equal(refused.body.code, 'token_revoked');
    // Its history stays readable.
    const { token: read } = await platform.scopedToken(owner.token, oldId, ['deployments:read', 'state:read']);
    const old = `${platform.dp('us-1').url}/api/v1/workspaces/${oldId}`;
    assert.equal((await expectStatus(200, 'GET', `${old}/deployments`, { token: read })).data.length, 1);
    assert.deepEqual((await expectStatus(200, 'GET', `${old}/jobs/report/state`, { token: read })).state, {
      cursor: canary.state,
      runs: 1,
    });
  });

  it('downloads a bundle only with deployments:read, for the token’s own workspace', async () => {
    const us = platform.dp('us-1').url;
    const bundleUrl = `${us}/api/v1/workspaces/${oldId}/deployments/${oldDeployment}/bundle`;
    const without = await platform.scopedToken(owner.token, oldId, ['variables:read', 'state:read', 'runs:outputs']);
    const refused = await call('GET', bundleUrl, { token: without.token });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'token_scope_missing');
    const other = await platform.tenant('us', 'other');
    const stranger = await platform.scopedToken(other.token, other.workspace.workspaceId, ['deployments:read']);
    const mismatch = await call('GET', bundleUrl, { token: stranger.token });
    assert.equal(mismatch.status, 403);
    assert.equal(mismatch.body.code, 'token_workspace_mismatch');
    const theirs = await call(
      'GET',
      `${us}/api/v1/workspaces/${other.workspace.workspaceId}/deployments/${oldDeployment}/bundle`,
      { token: stranger.token },
    );
    assert.equal(theirs.status, 404, 'another workspace’s deployment is not found');
    assert.equal(theirs.body.code, 'deployment_not_found');
    const allowed = await platform.scopedToken(owner.token, oldId, ['deployments:read']);
    const response = await fetch(bundleUrl, { headers: { authorization: `Bearer ${allowed.token}` } });
    assert.equal(response.status, 200);
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(Number(response.headers.get('content-length')), bytes.length);
    assert.equal(
      response.headers.get('digest'),
      `sha-256=${createHash('sha256').update(bytes).digest('base64')}`,
      'the digest the upload side checks',
    );
  });

  it('reads an old run’s outputs copied to eu, in eu; stores one only with outputs:write and its digest', async () => {
    const listed = await sov(config, ['outputs', 'list', firstRun], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /Copies in mover-ws-eu \(region eu\), made when mover-ws moved there\./);
    assert.match(listed.stdout, /report\.txt/);
    const got = await sov(config, ['outputs', 'get', firstRun, 'report.txt'], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `report: ${canary.output}\n`);
    const { token } = await platform.scopedToken(owner.token, move.toWorkspaceId, ['runs:outputs']);
    const eu = `${euTap.url}/api/v1/workspaces/${move.toWorkspaceId}/moved-outputs`;
    const copies = await expectStatus(200, 'GET', `${eu}?runId=${firstRun}`, { token });
    assert.deepEqual(
      copies.data.map((o: { runId: string; path: string }) => [o.runId, o.path]),
      [[firstRun, 'report.txt']],
    );

    const bytes = new Uint8Array(Buffer.from('another output'));
    const digest = `sha-256=${createHash('sha256').update(bytes).digest('base64')}`;
    const put = (scopeToken: string, headers: Record<string, string>) =>
      call('PUT', `${eu}/${firstRun}/other.txt`, {
        token: scopeToken,
        raw: bytes,
        headers: { 'content-type': 'application/octet-stream', ...headers },
      });
    const reader = await put(token, { digest });
    assert.equal(reader.status, 403);
    assert.equal(reader.body.code, 'token_scope_missing');
    const writer = (await platform.scopedToken(owner.token, move.toWorkspaceId, ['outputs:write'])).token;
    const wrong = await put(writer, { digest: `sha-256=${createHash('sha256').update('else').digest('base64')}` });
    assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
    assert.equal(wrong.body.code, 'digest_mismatch');
    const without = await put(writer, {});
    assert.equal(without.status, 400);
    assert.equal(without.body.code, 'validation_failed');
    assert.equal((await expectStatus(200, 'GET', `${eu}?runId=${firstRun}`, { token })).data.length, 1, 'none stored');
  });

  it('asks each secret again on a terminal, without echo, before it changes anything', async () => {
    const other = await platform.workspace(owner.token, owner.organizationId, 'us', 'typed-ws');
    await platform.waitUntilHosted(owner.token, other.workspaceId);
    const { token } = await platform.scopedToken(owner.token, other.workspaceId, ['variables:write']);
    const typed = `typed-${randomBytes(6).toString('hex')}`;
    await expectStatus(
      200,
      'PUT',
      `${platform.dp('us-1').url}/api/v1/workspaces/${other.workspaceId}/variables/TYPED`,
      {
        token,
        body: { value: 'the old value', secret: true },
      },
    );
    const terminal = onTerminal(['workspace', 'move', 'typed-ws', '--to', 'eu'], { ...env, SOV_CONFIG_DIR: config });
    await terminal.waitFor('  TYPED: ');
    const shown = await expectStatus(200, 'GET', `${cp()}/workspaces/${other.workspaceId}`, { token: owner.token });
    assert.equal(shown.movedTo, null, 'nothing changes while it asks');
    terminal.type(`${typed}\r`);
    assert.equal(await terminal.exitCode(), 0, terminal.screen());
    assert.ok(!terminal.screen().includes(typed), 'the secret is never echoed');
    assert.match(terminal.screen(), /Secrets: 1 copied \(TYPED\)/);
    const moved = await expectStatus(200, 'GET', `${cp()}/workspaces/${other.workspaceId}`, { token: owner.token });
    const { token: read } = await platform.scopedToken(owner.token, moved.movedTo.toWorkspaceId, ['variables:read']);
    const listed = await expectStatus(
      200,
      'GET',
      `${euTap.url}/api/v1/workspaces/${moved.movedTo.toWorkspaceId}/variables`,
      { token: read },
    );
    assert.deepEqual(
      listed.data.map((v: { name: string; secret: boolean; value?: string }) => [v.name, v.secret, v.value]),
      [['TYPED', true, undefined]],
    );
  });

  it('R2: the control plane saw none of the bundle, variables, secret or state during the move', async () => {
    const tap = platform.tap as Tap;
    const during = tap.exchanges.slice(window.cp[0], window.cp[1]);
    const urls = during.map((e) => `${e.method} ${e.url.split('?')[0]}`);
    for (const path of ['/move', '/move/complete', '/dataplane-token', '/deployments/report']) {
      assert.ok(
        urls.some((url) => url.endsWith(path)),
        `the tap saw ${path} during the move (control)`,
      );
    }
    // The bundle's bytes: a stretch from its middle, as they travel (gzipped, not content-encoded).
    const { token } = await platform.scopedToken(owner.token, oldId, ['deployments:read']);
    const bundle = Buffer.from(
      await (
        await fetch(`${platform.dp('us-1').url}/api/v1/workspaces/${oldId}/deployments/${oldDeployment}/bundle`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).arrayBuffer(),
    );
    const stretch = bundle.subarray(Math.floor(bundle.length / 2) - 32, Math.floor(bundle.length / 2) + 32);
    const values = [canary.file, canary.greeting, canary.note, canary.secret, canary.state, canary.output];
    const seen = bodiesOf(during);
    assert.ok(!seen.includes(stretch.toString('latin1')), 'no stretch of the bundle');
    for (const value of values) {
      for (const form of forms(value)) assert.ok(!seen.includes(form), `the control plane saw ${form}`);
    }
    // They did travel, through the eu data plane's tap: the checks above are about data that moved.
    const toEu = bodiesOf(euTap.exchanges.slice(window.eu[0], window.eu[1]));
    assert.ok(toEu.includes(stretch.toString('latin1')), 'the bundle reached eu (control)');
    for (const value of [canary.greeting, canary.note, canary.secret, canary.state, canary.output]) {
      assert.ok(toEu.includes(value), `${value} reached eu (control)`);
    }
  });

  it('R8: the eu data plane heard only the client during the move, with tokens for the new workspace', async () => {
    const during = euTap.exchanges.slice(window.eu[0], window.eu[1]);
    assert.ok(
      during.some((e) => e.method === 'POST' && e.url.endsWith('/deployments')),
      'the upload is among them (control)',
    );
    for (const exchange of during) {
      const claims = bearerClaims(exchange);
      assert.deepEqual(
        [claims?.sub, claims?.ws, claims?.aud],
        [owner.userId, move.toWorkspaceId, platform.dp('eu-1').dataplaneId],
        `${exchange.method} ${exchange.url}: a token issued to the user for the new workspace`,
      );
    }
    // Nor did the eu data plane hear of the old workspace at all.
    assert.ok(!bodiesOf(during).includes(oldId), 'no mention of the old workspace reached eu');
  });
});
